"""Reading a dataset's own files: regular files only, and never outside the dataset's folder.

Every image, annotation, image list and mask a format reads goes through here. A named pipe, a
device or a folder under a file's name is refused before a byte is read (opening with O_NONBLOCK
never waits for a pipe's writer, and fstat tells what was opened), so hostile input can make a
run fail or skip, never hang or read /dev/zero forever.

Public (exported from `tfrconv`) for format plugins: `read_dataset_file(path, root=None)` and
`open_dataset_file(path, encoding=None)`; both raise `NotRegularFile` (an `OSError`, so handlers
that already report unreadable files report these too) and `OutsideRoot`.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from typing import IO

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)

_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISSOCK, "a socket"))


class NotRegularFile(OSError):
    """A dataset path that names something other than a regular file (pipe, device, folder)."""


class OutsideRoot(Exception):
    """A path that resolves outside the folder it must stay in."""


def what_it_is(mode: int) -> str:
    """'a named pipe', 'a folder', ... for a file mode that is not a regular file's."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str) -> None:
    """Raise NotRegularFile unless `path` (symlinks followed) is a regular file; OSError (e.g.
    FileNotFoundError, a dangling symlink) when it cannot be looked at. Opens nothing."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)


def _not_regular(path: str, mode: int) -> NotRegularFile:
    return NotRegularFile(errno.EINVAL, f"not a regular file ({what_it_is(mode)})", path)


@functools.lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


def _within(real: str, base: str) -> bool:
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _open_regular(path: str, root: str | None) -> tuple[int, int]:
    """(read-only descriptor, size) of the regular file `path`, inside `root` unless None."""
    flags = os.O_RDONLY | _NONBLOCK | _BINARY
    if root is not None:
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or not _within(_real_dir(folder or "."), _real_dir(root)):
            raise OutsideRoot(path)
        if not _NOFOLLOW and os.path.islink(path) and \
                not _within(os.path.realpath(path), _real_dir(root)):
            raise OutsideRoot(path)
        flags |= _NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.ELOOP or not flags & _NOFOLLOW:
            raise
        # O_NOFOLLOW met a symlink: the usual case costs no extra call, this one checks where.
        if not _within(os.path.realpath(path), _real_dir(root)):
            raise OutsideRoot(path) from None
        fd = os.open(path, flags & ~_NOFOLLOW)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _not_regular(path, info.st_mode)
    return fd, info.st_size


def read_dataset_file(path: str, root: str | None = None) -> bytes:
    """The bytes of the regular file `path`, which must resolve inside `root` (None: anywhere),
    symlinks included. Raises OutsideRoot, NotRegularFile, or OSError when it cannot be read.

    Folders are resolved once and cached (images share a few); the file itself is opened with
    O_NOFOLLOW, so a symlink costs no extra system call unless there is one.
    """
    fd, size = _open_regular(path, root)
    try:
        data = os.read(fd, size) if size else b""
        if 0 < len(data) == size:         # the usual case: all of it in one read
            return data
        while True:                       # a short read, or a file that grew meanwhile
            more = os.read(fd, 1 << 20)
            if not more:
                return data
            data += more
    finally:
        os.close(fd)


def open_dataset_file(path: str, encoding: str | None = None) -> IO:
    """The regular file `path` opened for reading (text with `encoding`, else binary)."""
    fd, _size = _open_regular(path, None)
    try:
        if encoding is None:
            return os.fdopen(fd, "rb")
        return os.fdopen(fd, "r", encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


class ParsedOnce:
    """An annotation file a format parses once per process and reuses for every call of a run
    (`list_items`, `read_item` in each worker, `classes`, ...): keyed by path, size and mtime, so
    an edited file is parsed again, and one file at a time, so memory holds one index.

    `ParsedOnce(parse, "json").load(path)` returns `parse(path)`; a missing path or one that is
    not a file is a UsageError naming `--annotations-file`, an unreadable one a DataError."""

    def __init__(self, parse, extension: str) -> None:
        import threading

        self.parse = parse
        self.extension = extension
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._value = None

    def load(self, path: str):
        from .errors import DataError, UsageError

        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise UsageError(f"--annotations-file {path}: no such file") from None
        except OSError as exc:
            raise DataError(f"cannot read the annotation file: {exc.strerror}",
                            file=path) from None
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"--annotations-file {path}: not a file (give the "
                             f".{self.extension} file)")
        key = (os.path.abspath(path), info.st_size, info.st_mtime_ns)
        with self._lock:
            if self._key != key:
                self._key, self._value = None, None      # one file at a time
                self._value = self.parse(path)
                self._key = key
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._key, self._value = None, None
