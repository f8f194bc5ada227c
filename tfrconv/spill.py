"""Sorting more records than memory should hold: an external merge sort. Public: `from tfrconv
import spill` (Open Images sorts its box rows by image with it when the CSV is not in order).

Records are tuples compared as tuples (put the sort key first, and something unique, such as
the row number, right after it: the order is then total and the sort stable). Up to `limit`
records are held in memory; past that, each full batch is sorted and pickled to a run file in
a private temporary folder, and reading merges the runs (heapq). Below the limit nothing touches
the disk. The sorted records can be read any number of times; `close()` (or the process that
made them exiting) removes the files. A forked child never removes them: they are its parent's.
"""

from __future__ import annotations

import heapq
import os
import pickle
import weakref
from collections.abc import Iterable, Iterator

# About 50-100 MB of small tuples (a box row is ~400 bytes as Python objects).
DEFAULT_LIMIT = 200_000
BATCH = 512                        # records per pickle: what a run holds in memory while merged


class SortedSpill:
    """Add records in any order, then `finish()`; iterating gives them sorted."""

    def __init__(self, limit: int = DEFAULT_LIMIT, directory: str | None = None) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.directory = directory
        self.count = 0
        self._held: list[tuple] = []
        self._runs: list[str] = []
        self._folder: str | None = None
        self._cleanup: weakref.finalize | None = None
        self._finished = False

    def add(self, record: tuple) -> None:
        self._held.append(record)
        self.count += 1
        if len(self._held) >= self.limit:
            self._write_run()

    def extend(self, records: Iterable[tuple]) -> None:
        for record in records:
            self.add(record)

    def finish(self) -> SortedSpill:
        """No more records: sort what is held (and write it as the last run once runs exist)."""
        if self._runs and self._held:
            self._write_run()
        self._held.sort()
        self._finished = True
        return self

    @property
    def spilled(self) -> bool:
        return bool(self._runs)

    def __iter__(self) -> Iterator[tuple]:
        if not self._finished:
            raise RuntimeError("SortedSpill: finish() before reading")
        if not self._runs:
            return iter(self._held)
        return heapq.merge(*(_read_run(path) for path in self._runs))

    def close(self) -> None:
        self._held = []
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> SortedSpill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_run(self) -> None:
        if self._folder is None:
            import tempfile  # only once rows spill: every run imports this module

            self._folder = tempfile.mkdtemp(prefix="tfrconv-spill-", dir=self.directory)
            self._cleanup = weakref.finalize(self, _remove, self._folder, os.getpid())
        self._held.sort()
        path = os.path.join(self._folder, f"run{len(self._runs):05d}")
        with open(path, "wb") as fileobj:
            for start in range(0, len(self._held), BATCH):
                pickle.dump(self._held[start:start + BATCH], fileobj,
                            protocol=pickle.HIGHEST_PROTOCOL)
        self._runs.append(path)
        self._held = []


def _read_run(path: str) -> Iterator[tuple]:
    with open(path, "rb") as fileobj:
        while True:
            try:
                batch = pickle.load(fileobj)
            except EOFError:
                return
            yield from batch


def _remove(folder: str, owner: int) -> None:
    import shutil

    if os.getpid() == owner:               # a forked worker exiting leaves its parent's files
        shutil.rmtree(folder, ignore_errors=True)
