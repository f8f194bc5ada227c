"""The later input files of a command read by a helper process while the command reads the
first ones: on two cores, checking every record's CRCs and peeking at its features (most of
the reading's time) is done for two files at once.

The helper is a fork of the command (nothing to import again, so it starts at once). It reads
its files with the command's own per-file reader (`reading.path_features`) and writes what it
found, record by record and in order, to an unnamed temporary file: each whole record's place
and features, each damaged one's place and reason. The command replays that when it reaches
those files, applying its damaged-record policy there, so messages, order and output are what
reading them itself would give; the records' bytes are still copied from the input files. The
results wait on disk, not in memory, however far ahead the helper gets.

Batches: ``<I`` length + a pickled list of items; the helper tells how far the file is
written by sending the new end (``<Q``) down a pipe, and closes it when done. Items are
``(file number, index, offset, length, features)``, or a damaged record with ``length`` None
and the reason in place of the features, and ``(file number, None, None, None, None)`` at a
file's end.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import tempfile
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from ..remote import is_url
from ..tfrecord import Record, is_gzip
from .reading import path_features

_LENGTH = struct.Struct("<I")
_END = struct.Struct("<Q")
# Below this many bytes of input, reading ahead is not worth a process.
AHEAD_AFTER = 64 << 20
# The command keeps at least this share of the bytes: it also replays the helper's records.
_OWN_SHARE = 0.4
_BATCH = 256                         # records per batch
_PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031


class _HelperFailed(Exception):
    """The helper ended before giving all it should have."""


class ReadRecord(NamedTuple):
    """A whole record the helper read (CRCs checked): its place; `payload` reads it again."""

    path: str
    index: int
    offset: int
    length: int                     # payload bytes
    error: None = None

    @property
    def payload(self) -> bytes:
        with open(self.path, "rb") as fileobj:
            return os.pread(fileobj.fileno(), self.length, self.offset + 12)


class ReadAhead:
    """A helper process reading `paths` (in order) for features `keys`; `replay(path)` gives
    what it found in one of them, in order, once the command gets there. Use as a context
    manager: leaving it stops the helper."""

    def __init__(self, paths: list[str], keys: Collection[str]) -> None:
        self.numbers = {path: number for number, path in enumerate(paths)}
        self.keys = keys
        self._data = tempfile.TemporaryFile(prefix="tfrconv-ahead-")  # noqa: SIM115 - close()
        self._written = self._read = 0
        self._items: list = []
        self._next = 0
        notify_out, notify_in = os.pipe()
        try:
            import fcntl

            fcntl.fcntl(notify_in, _F_SETPIPE_SZ, _PIPE_SIZE)
        except (ImportError, OSError):
            pass
        self._pid = os.fork()
        if self._pid == 0:                                      # the helper
            os.close(notify_out)
            _helper(paths, keys, self._data.fileno(), notify_in)
        os.close(notify_in)
        self._notify = notify_out

    def replay(self, path: str) -> Iterator[tuple[ReadRecord | Record, dict | None,
                                                  str | None]]:
        """What `reading.path_features(path)` gives, from the helper's results: each record
        with its features, or a damaged record (a `Record` without payload) and the reason.
        Should the helper fail (a full disk, killed), the command reads the rest itself."""
        number = self.numbers[path]
        given = 0                                   # records of `path` given so far
        try:
            while True:
                item = self._item()
                if item[0] != number:
                    raise _HelperFailed
                _number, index, offset, length, found = item
                if index is None:
                    return
                if length is None:
                    yield Record(path, index, offset, None, found), None, found
                else:
                    yield ReadRecord(path, index, offset, length), found, None
                given = index + 1
        except _HelperFailed:
            self.numbers.clear()                    # the later files too
        for record, found, reason in path_features(path, self.keys):
            if record.index >= given:
                yield record, found, reason

    def _item(self) -> tuple:
        if self._next == len(self._items):
            try:
                self._items = pickle.loads(self._batch())
            except (pickle.UnpicklingError, EOFError, ValueError) as exc:
                raise _HelperFailed from exc
            self._next = 0
        item = self._items[self._next]
        self._next += 1
        return item

    def _batch(self) -> bytes:
        head = self._bytes(_LENGTH.size)
        return self._bytes(_LENGTH.unpack(head)[0])

    def _bytes(self, count: int) -> bytes:
        while self._written < self._read + count:
            news = os.read(self._notify, 1 << 16)
            if not news:
                self._failed()
            self._written = _END.unpack_from(news, len(news) - _END.size)[0]
        found = os.pread(self._data.fileno(), count, self._read)
        self._read += count
        return found

    def _failed(self):
        os.waitpid(self._pid, 0)
        self._pid = 0
        raise _HelperFailed

    def close(self) -> None:
        """Stop the helper (idempotent) and let its results go."""
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self._pid, 0)
            self._pid = 0
        if self._notify is not None:
            os.close(self._notify)
            self._notify = None
        self._data.close()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _helper(paths: list[str], keys: Collection[str], data: int, notify: int) -> None:
    """The helper's whole life: read, write the results, exit (never returning into the
    command's code, whatever happens)."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)           # Ctrl-C is the command's
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        written = 0
        batch: list = []

        def push() -> None:
            nonlocal written
            encoded = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            block = _LENGTH.pack(len(encoded)) + encoded
            while block:
                done = os.pwrite(data, block, written)
                written += done
                block = block[done:]
            os.write(notify, _END.pack(written))
            batch.clear()

        for number, path in enumerate(paths):
            for record, features, reason in path_features(path, keys):
                if reason is None:
                    batch.append((number, record.index, record.offset, len(record.payload),
                                  features))
                else:
                    batch.append((number, record.index, record.offset, None, reason))
                if len(batch) >= _BATCH:
                    push()
            batch.append((number, None, None, None, None))
            push()
        status = 0
    finally:
        os._exit(status)


@contextmanager
def reading_ahead(sources: list, keys: Collection[str]) -> Iterator[None]:
    """While inside, the later files of `sources` (`RecordSource`s, read in this order) are
    read by a helper process, when `ahead_paths` finds that worth it."""
    paths = ahead_paths([path for source in sources for path in source.paths])
    if not paths:
        yield
        return
    with ReadAhead(paths, keys) as ahead:
        for source in sources:
            source.ahead = ahead
        try:
            yield
        finally:
            for source in sources:
                source.ahead = None


def ahead_paths(paths: list[str]) -> list[str]:
    """The later files a helper should read (none when it is not worth it or not safe): past
    the first `_OWN_SHARE` of the bytes, when there are enough bytes and two files or more,
    all plain local files, and this process has one thread (forking is safe)."""
    if len(paths) < 2 or len(set(paths)) < len(paths) or not hasattr(os, "fork") or \
            threading.active_count() != 1:
        return []
    try:
        if any(is_url(path) or is_gzip(path) for path in paths):
            return []
        sizes = [os.path.getsize(path) for path in paths]
    except OSError:
        return []                                  # the command's reading says what is wrong
    total = sum(sizes)
    if total < AHEAD_AFTER:
        return []
    own = 0
    for count, size in enumerate(sizes, 1):
        own += size
        if own >= total * _OWN_SHARE:
            return paths[count:]
    return []
