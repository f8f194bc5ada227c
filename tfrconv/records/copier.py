"""Kernel copies of records made by a helper process, while the command reads on.

Reshard and merge do two kinds of work per record: reading it in Python (CRC, source id,
classes) and copying it unchanged with `copy_file_range` (system time). Done in turn, they
add up; a second process that makes the copies lets them overlap on a machine with two cores,
and it never waits on the reader nor holds its GIL (a thread would hand the GIL to and fro at
every record). The reader sends fixed-size instructions down a pipe (which fits thousands of
them) and waits only at the end.

The helper is this file run by the same Python, `-S -I`: it imports nothing but the standard
library. Instructions: ``<B I I Q Q Q`` = kind, two ids, three numbers; kind OPEN_INPUT and
OPEN_OUTPUT give an id to the path (its length in the first number) that follows, COPY copies
(source id, target id, length, start, offset), FORGET drops the cached pages of the path that
follows (the previous output, which publishing will replace: removing a file frees its cached
pages, on the command's critical path at the very end; done here, it overlaps the reading. Only
when none of its pages is dirty, so nothing is written back for a file about to go). A failure
ends the helper with its reason on stderr, which `finish` raises as `OSError`.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys

OPEN_INPUT, OPEN_OUTPUT, COPY, FORGET = 1, 2, 3, 4
MESSAGE = struct.Struct("<BIIQQQ")
# One system call copies at most this much.
STEP = 64 << 20
# Instructions are pushed down the pipe once they ask for this many bytes of copying: the
# helper starts on them while the reader goes on (held back in the pipe's buffer until the
# end, the copies would all wait for the reading, one after the other).
PUSH_AFTER = 2 << 20
_CACHESTAT = 451                  # the cachestat system call, the same on every architecture
_PIPE_SIZE = 1 << 20              # asked of Linux for the pipe (F_SETPIPE_SZ), if it lets us
_F_SETPIPE_SZ = 1031


class CopierProcess:
    """The parent's end: `copy(source_path, target_path, start, length, offset)`, then `finish`
    (waits; `OSError` when a copy failed) or `cancel` (stops the helper, copies or not)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-S", "-I", os.path.abspath(__file__)], stdin=subprocess.PIPE,
            stderr=subprocess.PIPE, bufsize=1 << 16)
        try:
            import fcntl

            fcntl.fcntl(self._process.stdin.fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)
        except (ImportError, OSError):
            pass                                  # the default pipe size: it waits sooner
        self._ids: dict[tuple[int, str], int] = {}
        self._held = 0                            # bytes of copies not yet pushed

    def copy(self, source: str, target: str, start: int, length: int, offset: int) -> None:
        try:
            self._process.stdin.write(MESSAGE.pack(
                COPY, self._id(OPEN_INPUT, source), self._id(OPEN_OUTPUT, target), length,
                start, offset))
            self._held += length
            if self._held >= PUSH_AFTER:
                self._process.stdin.flush()
                self._held = 0
        except BrokenPipeError:
            self.finish()                         # the helper stopped: raises its reason

    def forget(self, path: str) -> None:
        """Drop the cached pages of `path` if none is dirty (a hint: nothing fails)."""
        name = os.fsencode(path)
        try:
            self._process.stdin.write(MESSAGE.pack(FORGET, 0, 0, len(name), 0, 0) + name)
            self._process.stdin.flush()
        except BrokenPipeError:
            self.finish()

    def _id(self, kind: int, path: str) -> int:
        found = self._ids.get((kind, path))
        if found is None:
            found = self._ids[(kind, path)] = len(self._ids)
            name = os.fsencode(path)
            self._process.stdin.write(MESSAGE.pack(kind, found, 0, len(name), 0, 0) + name)
        return found

    def finish(self) -> None:
        """Wait until every copy is made; `OSError` with the helper's reason if one failed."""
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass
        error = self._process.stderr.read().decode("utf-8", errors="replace").strip()
        self._process.stderr.close()
        if self._process.wait() != 0:
            raise OSError(error.splitlines()[-1] if error else
                          f"the copying process ended with status {self._process.returncode}")

    def cancel(self) -> None:
        """Stop the helper now and wait for it (idempotent)."""
        if self._process.poll() is None:
            self._process.kill()
        for stream in (self._process.stdin, self._process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self._process.wait()


def start_copier() -> CopierProcess | None:
    """A copier process, or None where none can start (no interpreter path, a sandbox that
    forbids it): the caller then copies by itself."""
    if not sys.executable:
        return None
    try:
        return CopierProcess()
    except (OSError, ValueError):
        return None


def copy_range(source_fd: int, target_fd: int, start: int, length: int, offset: int) -> None:
    """Copy `length` bytes at `start` in one file to `offset` in another (`copy_file_range`)."""
    end = start + length
    while start < end:
        copied = os.copy_file_range(source_fd, target_fd, min(end - start, STEP), start, offset)
        if copied == 0:
            raise OSError("the input file ended while copying records")
        start += copied
        offset += copied


def forget_cached(path: str) -> None:
    """Drop the cached pages of `path` when the kernel says none is dirty or being written
    (`cachestat`, Linux 6.5+; elsewhere nothing is done). Never fails."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        if _clean(fd):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):
        pass
    finally:
        os.close(fd)


def _clean(fd: int) -> bool:
    """Whether no page of the file is dirty or under writeback (False when unknown)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    class Range(ctypes.Structure):
        _fields_ = [("offset", ctypes.c_uint64), ("length", ctypes.c_uint64)]

    class Stat(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in
                    ("cache", "dirty", "writeback", "evicted", "recently_evicted")]

    stat = Stat()
    try:
        call = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return False
    if call(_CACHESTAT, fd, ctypes.byref(Range(0, 0)), ctypes.byref(stat), 0) != 0:
        return False                                  # an older kernel: leave it cached
    return stat.dirty == 0 and stat.writeback == 0


def serve(instructions) -> None:
    """The helper's loop: read instructions until the pipe closes, make each copy."""
    fds: dict[int, int] = {}
    try:
        while True:
            message = instructions.read(MESSAGE.size)
            if not message:
                return
            if len(message) < MESSAGE.size:
                raise OSError("a cut instruction")
            kind, first, second, number, start, offset = MESSAGE.unpack(message)
            if kind == COPY:
                copy_range(fds[first], fds[second], start, number, offset)
            elif kind == FORGET:
                forget_cached(os.fsdecode(instructions.read(number)))
            else:
                path = os.fsdecode(instructions.read(number))
                fds[first] = os.open(path, os.O_RDONLY if kind == OPEN_INPUT else os.O_WRONLY)
    finally:
        for fd in fds.values():
            os.close(fd)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)          # Ctrl-C is the parent's to handle
    try:
        serve(sys.stdin.buffer)
    except OSError as exc:
        print(f"{exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
