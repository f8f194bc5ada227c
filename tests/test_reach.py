"""The reach check (tests/reach.py) fails property tests whose examples leave early."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reach import branch, reaches


def property_test(main_every: int):
    """A property test whose examples reach 'checked' when n % main_every == 0."""
    seen = []

    @reaches("checked")
    @settings(max_examples=100, deadline=None, database=None)
    @given(st.integers(0, 10**6))
    def test(n):
        seen.append(n)
        branch("started")
        if n % main_every:
            branch("left early")
            return
        branch("checked")
        branch("checked")                 # twice in one example still counts once

    return test, seen


def test_a_test_reaching_its_assertion_passes():
    test, seen = property_test(1)
    test()
    assert len(seen) >= 50


def test_a_test_that_mostly_leaves_early_fails_naming_its_branches():
    test, _ = property_test(10)
    with pytest.raises(pytest.fail.Exception) as info:
        test()
    message = str(info.value)
    assert "examples reached 'checked'" in message and "left early:" in message


def test_a_failing_example_still_fails_the_test_as_itself():
    @reaches("checked")
    @settings(max_examples=5, database=None)
    @given(st.integers())
    def test(n):
        raise AssertionError("never counted")

    with pytest.raises(AssertionError, match="never counted"):
        test()


def test_reaches_needs_a_hypothesis_test():
    with pytest.raises(TypeError, match="above @given"):
        reaches("x")(lambda: None)


@reaches("ran")
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.booleans())
def test_fixtures_and_pytest_collection_still_work(tmp_path, flag):
    assert tmp_path.exists()
    branch("ran")
