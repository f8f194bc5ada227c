"""tfrconv.spill: records sorted past memory (sorted() is the oracle), run files removed by
their owner only."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv.spill import SortedSpill

RECORDS = st.lists(st.tuples(st.text(max_size=3), st.integers(), st.floats(allow_nan=True)),
                   min_size=8, max_size=60, unique_by=lambda r: (r[0], r[1]))


@reaches("spilled")
@settings(max_examples=60, deadline=None)
@given(records=RECORDS, limit=st.integers(1, 8))
def test_records_come_back_sorted_from_memory_or_runs(records, limit):
    with SortedSpill(limit) as spill:
        spill.extend(records)
        spill.finish()
        branch("spilled" if spill.spilled else "held in memory")
        key = [r[:2] for r in records]
        assert [r[:2] for r in spill] == sorted(key)
        assert [r[:2] for r in spill] == sorted(key)          # read again: the same
        assert spill.count == len(records)


def test_below_the_limit_nothing_touches_the_disk():
    spill = SortedSpill(10)
    spill.extend([(3,), (1,), (2,)])
    assert list(spill.finish()) == [(1,), (2,), (3,)] and not spill.spilled


def test_close_removes_the_runs_a_forked_child_does_not(tmp_path):
    spill = SortedSpill(2, directory=str(tmp_path))
    spill.extend((i,) for i in range(7, 0, -1))
    spill.finish()
    (folder,) = os.listdir(tmp_path)
    assert len(os.listdir(tmp_path / folder)) == 4          # 2 + 2 + 2 + 1
    pid = os.fork()
    if pid == 0:                                             # the child closes and exits
        spill.close()
        os._exit(0)
    os.waitpid(pid, 0)
    assert list(spill) == [(i,) for i in range(1, 8)]        # the runs are still there
    spill.close()
    assert os.listdir(tmp_path) == []


def test_reading_before_finish_is_a_mistake():
    spill = SortedSpill(2)
    spill.add((1,))
    with pytest.raises(RuntimeError):
        iter(spill)
