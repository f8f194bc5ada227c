"""What runs inside a worker process: build chunks of items, then write their records where the
parent says. The same loop serves forked and spawned workers; only how they start differs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

from .errors import DataError, TfrconvError, UsageError
from .hookspecs import hookimpl
from .plugins import get_registry
from .tfrecord import frame_parts

# Signals the parent owns while workers start: blocked around the start so that none lands in a
# half-started worker (in fork's own handlers, or in the interpreter start-up of a spawn).
START_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


class Framed:
    """Stands for a payload a worker holds: its framed length in bytes. (A plain class: a
    dataclass costs ~3 M instructions to create, on every run.)"""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __eq__(self, other: object) -> bool:
        return type(other) is Framed and other.length == self.length

    def __hash__(self) -> int:
        return hash(self.length)

    def __repr__(self) -> str:
        return f"Framed(length={self.length!r})"

    def __reduce__(self):
        return Framed, (self.length,)


class WorkerError(TfrconvError):
    """A worker process failed for a reason of its own."""


def take_own_signals() -> None:
    """A worker's handlers: Ctrl-C is the parent's business (ignored here) and SIGTERM or SIGHUP
    end the worker at once, quietly (not the parent's handler, inherited through fork, that turns
    them into KeyboardInterrupt). Then the signals blocked for the start are let through."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, START_SIGNALS)


def serve(conn, builder: Any, send_payloads: bool) -> None:
    """A worker's loop, until the parent says stop. Errors go to the parent, which stops the run."""
    writer = PositionalWriter()
    pending: dict[int, list] = {}
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return          # the parent closed the channel: the run stopped, nothing to say
            if message[0] == "chunk":
                _, chunk_id, items = message
                results, frames = [], []
                for item in items:
                    result = builder.build(item)
                    parts = None
                    if result.payload is not None and not send_payloads:
                        parts = frame_parts(result.payload)
                        result.payload = Framed(sum(map(len, parts)))
                    frames.append(parts)
                    results.append(result)
                pending[chunk_id] = frames
                conn.send(("results", chunk_id, results))
            elif message[0] == "place":
                _, chunk_id, placements = message
                for parts, placement in zip(pending.pop(chunk_id), placements):
                    if parts is not None and placement is not None:
                        writer.write(placement, parts)
            else:                                          # "stop": all placed
                writer.close()                             # all written, before we say so
                conn.send(("done",))
                return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        report_error(conn, exc)
    finally:
        writer.close()


def report_error(conn, exc: Exception) -> None:
    """Tell the parent why this worker stops (unless the parent has already gone)."""
    message = ("error", exc if isinstance(exc, TfrconvError)
               else WorkerError(f"worker failed: {type(exc).__name__}: {exc}"))
    try:
        conn.send(message)
    except OSError:
        pass            # a broken pipe: the parent stopped the run already
    except Exception:  # noqa: BLE001 - e.g. an exception that cannot be pickled
        with contextlib.suppress(OSError):
            conn.send(("error", WorkerError(f"worker failed: {type(exc).__name__}")))


class PositionalWriter:
    """Writes framed records at given offsets of the shards' temporary files, one descriptor per
    file. `pwritev` writes the pieces with one call and no copy; without it (Windows) the pieces
    are joined and written with `pwrite`, or with a seek and a write where there is no `pwrite`."""

    def __init__(self, *, vectored: bool | None = None, positional: bool | None = None) -> None:
        self.vectored = hasattr(os, "pwritev") if vectored is None else vectored
        self.positional = hasattr(os, "pwrite") if positional is None else positional
        self._files: dict[str, int] = {}

    def write(self, placement: tuple[str, int], parts) -> None:
        path, offset = placement
        try:
            fd = self._files.get(path)
            if fd is None:
                fd = self._files[path] = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            if self.vectored:
                written = os.pwritev(fd, parts, offset)
                if written == sum(map(len, parts)):
                    return
                data = memoryview(b"".join(parts))[written:]      # a short write: finish plainly
                offset += written
            else:
                data = memoryview(b"".join(parts))
            while data:
                if self.positional:
                    count = os.pwrite(fd, data, offset)
                else:
                    os.lseek(fd, offset, os.SEEK_SET)
                    count = os.write(fd, data)
                data, offset = data[count:], offset + count
        except OSError as exc:
            raise DataError(f"writing failed: {exc.strerror or exc} (no output was left behind)",
                            file=path) from None

    def close(self) -> None:
        files, self._files = self._files, {}
        for fd in files.values():
            os.close(fd)


def spawned_worker(incoming, outgoing, start: bytes) -> None:
    """A spawned worker's entry point (`multiprocessing` calls it with the parent's connections
    and the pickled start message of `workers`); the process ends when the loop does."""
    from .worker_channel import InboxChannel

    code = 1
    try:
        take_own_signals()
        conn = InboxChannel(incoming, outgoing)
        try:
            builder, send_payloads = unpickle_start(start)
        except Exception as exc:  # noqa: BLE001 - one line to the parent, not a traceback here
            report_error(conn, exc if isinstance(exc, TfrconvError) else WorkerError(
                f"a worker process could not start: {type(exc).__name__}: {exc}"))
        else:
            serve(conn, builder, send_payloads)
            code = 0
    finally:
        # Like a forked worker: no traceback of multiprocessing's (the parent reports a worker
        # that died), no interpreter teardown (the inbox thread may still wait for the parent).
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def unpickle_start(start: bytes):
    """The builder, with its format available here: formats from entry points are found by name
    in this process's registry; one registered at run time (a test's `temporary_plugin`) comes
    from the parent, pickled, or is reported as impossible to send."""
    import pickle

    builder, spec, spec_problem, send_payloads = pickle.loads(start)
    name = builder.spec_name
    registry = get_registry()
    if not registry.has_format(name):
        if spec is None:
            raise UsageError(
                f"format {name!r} cannot run in spawned worker processes: it is not registered "
                f"through an entry point, and its FormatSpec cannot be sent pickled "
                f"({spec_problem}); install it with an entry point, or use --workers 1")
        registry.add(ParentFormat(pickle.loads(spec)), f"from-parent:{name}")
    return builder, send_payloads


class ParentFormat:
    """A plugin that registers the parent's FormatSpec as it is."""

    def __init__(self, spec) -> None:
        self.spec = spec

    @hookimpl
    def register_formats(self, register) -> None:
        register(self.spec)
