"""The duplicate-id table behaves as a set of 64-bit ints, growth and collisions included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv.seen import SeenHashes

# Few distinct low bits: many values share a slot, so probing and growth are exercised.
DIGESTS = st.integers(0, 2**64 - 1) | st.integers(0, 15).map(lambda low: low | (low << 40))


@reaches("compared with a set")
@given(st.lists(DIGESTS, max_size=400))
@settings(max_examples=200, deadline=None)
def test_behaves_as_a_set(digests):
    seen, reference = SeenHashes(capacity=4), set()
    branch("compared with a set")
    for digest in digests:
        assert seen.add(digest) == (digest not in reference)
        reference.add(digest)
    assert len(seen) == len(reference)
    assert all(digest in seen for digest in reference)
