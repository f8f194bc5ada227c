"""Property tests that reach their assertions.

A fuzz test whose generated examples almost all leave early (a parse error, a skipped branch)
passes while proving nothing. So every property test marks the branches its examples take with
`branch(name)` (each is also a hypothesis `event`, shown by `--hypothesis-show-statistics`) and
is decorated, above `@given`, with `@reaches(main)`: the test fails when fewer than half of its
examples took the branch `main`, the one just before its main assertion.

As a pytest plugin (`pytest_plugins = ["reach"]` in conftest.py) it also fails any `@given` test
that lacks `@reaches`, so a new property test cannot skip the check.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest
from hypothesis import event

EXAMPLES = "(examples)"

# The running property test's tally (branch -> examples that took it) and the branches the
# current example took. A test module runs its hypothesis tests one at a time, in one thread.
_tally: Counter | None = None
_taken: set[str] | None = None


def branch(name: str) -> None:
    """Record that the current example took the branch `name` (once per example counts)."""
    event(name)
    if _taken is not None:
        _taken.add(name)


def reaches(main: str, share: float = 0.5):
    """Fail the decorated hypothesis test when fewer than `share` of its examples took the
    branch `main`. Goes above `@given` (and `@settings`)."""
    def decorate(test):
        handle = getattr(test, "hypothesis", None)
        if handle is None:
            raise TypeError(f"@reaches goes above @given ({test.__name__})")
        inner = handle.inner_test

        @functools.wraps(inner)
        def counted(*args, **kwargs):
            global _taken
            _taken = set()
            try:
                inner(*args, **kwargs)  # a failing (or rejected) example raises: not counted
                if _tally is not None:
                    _tally[EXAMPLES] += 1
                    _tally.update(_taken)
            finally:
                _taken = None

        handle.inner_test = counted     # hypothesis's documented hook for wrapping the body

        @functools.wraps(test)
        def checked(*args, **kwargs):
            global _tally
            _tally = tally = Counter()
            try:
                test(*args, **kwargs)
            finally:
                _tally = None
            check_reached(test.__name__, tally, main, share)

        checked.reach_main = main
        return checked
    return decorate


def check_reached(name: str, tally: Counter, main: str, share: float) -> None:
    """The check itself: at least `share` of the examples took `main`."""
    examples = tally[EXAMPLES]
    if examples == 0 or tally[main] < share * examples:
        taken = ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()) if k != EXAMPLES)
        pytest.fail(f"{name}: only {tally[main]} of {examples} examples reached {main!r} "
                    f"(branches: {taken or 'none recorded'}); its strategy must build mostly "
                    f"valid inputs", pytrace=False)


def pytest_runtest_setup(item) -> None:
    """Every hypothesis test carries @reaches, or fails saying so."""
    function = getattr(item, "function", None)
    if getattr(function, "is_hypothesis_test", False) and not hasattr(function, "reach_main"):
        pytest.fail(f"{item.name}: a property test needs @reaches(...) above @given "
                    "(tests/reach.py)", pytrace=False)
