"""Worker processes that build examples and write them in place.

Reading annotations and encoding examples is Python code holding the GIL, so the parallel unit is
a process. The obvious design, workers sending each encoded example back to the parent that
writes it, measured no faster than one process here: the parent spent as long receiving and
copying the image bytes (tens of KB per example) as the workers spent making them.

So the bytes never travel. The parent sends chunks of items to each worker in turn and gets back
the results without their payloads (their framed length instead). It decides, in input order,
what is kept (policies, duplicates) and where each record goes: shard and byte offset in that
shard's temporary file (the `ShardedWriter` reserves the space). The worker then writes its
records at those offsets with `pwritev`. The output is therefore byte-identical whatever the
number of workers; only the parent decides anything.

When the records are compressed (GZIP), offsets cannot be known in advance: the workers then
send the payloads back and the parent writes them through the compressor.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import DataError, TfrconvError
from .tfrecord import frame_parts

CHUNK_SIZE = 32          # items per message: amortises the hand-offs, bounds worker memory
IN_FLIGHT = 2            # chunks queued per worker, so none waits for the parent


@dataclass(frozen=True)
class Framed:
    """Stands for a payload a worker holds: its framed length in bytes."""

    length: int


class WorkerError(TfrconvError):
    """A worker process failed for a reason of its own."""


def _worker_main(conn, builder, send_payloads: bool) -> None:
    """A worker's loop: build chunks, then write their records where the parent says."""
    # The parent owns interrupts: Ctrl-C is ignored here and terminate() simply ends us
    # (not the parent's handler, inherited through fork, that turns SIGTERM into an exception).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    pending: dict[int, list] = {}
    files: dict[str, int] = {}
    try:
        while True:
            message = conn.recv()
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
                        _pwrite(files, placement, parts)
            else:                                          # "stop": all placed, all written
                conn.send(("done",))
                return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        try:
            conn.send(("error", exc if isinstance(exc, TfrconvError)
                       else WorkerError(f"worker failed: {type(exc).__name__}: {exc}")))
        except Exception:  # noqa: BLE001 - e.g. an exception that cannot be pickled
            conn.send(("error", WorkerError(f"worker failed: {type(exc).__name__}")))
    finally:
        for fd in files.values():
            os.close(fd)


def _pwrite(files: dict[str, int], placement: tuple[str, int], parts: tuple) -> None:
    path, offset = placement
    try:
        fd = files.get(path)
        if fd is None:
            fd = files[path] = os.open(path, os.O_WRONLY)
        total = sum(map(len, parts))
        written = os.pwritev(fd, parts, offset)
        if written < total:                                # a short write: finish plainly
            rest = b"".join(parts)[written:]
            while rest:
                count = os.pwrite(fd, rest, offset + total - len(rest))
                rest = rest[count:]
    except OSError as exc:
        raise DataError(f"writing failed: {exc.strerror or exc} (no output was left behind)",
                        file=path) from None


class WorkerPool:
    """`workers` processes running `builder.build`; results come back in input order.

    Iterate `chunks(items)`: each step yields one chunk's results. For results whose payload is
    `Framed`, the caller reserves space and must call `place(placements)` (one
    `(path, offset)` or None per result) before the next step.

    Workers are forked and talk over pipes (`Channel`); importing and starting
    `multiprocessing` cost ~30 ms of every run. Where there is no fork (Windows) they are
    `multiprocessing` spawn processes, whose connections have the same send/recv.
    """

    def __init__(self, builder: Any, workers: int, *, send_payloads: bool) -> None:
        self.builder = builder
        self.workers = workers
        self.send_payloads = send_payloads or not hasattr(os, "pwritev")
        self._conns: list = []
        self._pids: list[int] = []
        self._procs: list = []             # multiprocessing processes (no fork)
        self._current: tuple[int, int] | None = None

    def __enter__(self) -> WorkerPool:
        # Workers are born ignoring Ctrl-C (the parent stops them): set before the fork, so no
        # interrupt can land in a half-started worker and print its traceback.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            if hasattr(os, "fork"):
                self._fork()
            else:
                self._spawn()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        return self

    def _fork(self) -> None:
        for _ in range(self.workers):
            to_worker, from_worker = os.pipe(), os.pipe()
            pid = os.fork()
            if pid == 0:                                   # the worker
                code = 1
                try:
                    for conn in self._conns:               # earlier workers' pipes
                        conn.close()
                    os.close(to_worker[1])
                    os.close(from_worker[0])
                    _worker_main(Channel(to_worker[0], from_worker[1], worker=True),
                                 self.builder, self.send_payloads)
                    code = 0
                finally:
                    # Never return into the parent's code, nor run its exit handlers.
                    os._exit(code)
            os.close(to_worker[0])
            os.close(from_worker[1])
            self._conns.append(Channel(from_worker[0], to_worker[1]))
            self._pids.append(pid)

    def _spawn(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        for _ in range(self.workers):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_worker_main,
                                      args=(child_end, self.builder, self.send_payloads),
                                      daemon=True)
            process.start()
            child_end.close()
            self._conns.append(parent_end)
            self._procs.append(process)

    def chunks(self, items: Iterable[Any]) -> Iterator[list]:
        source = enumerate(_chunked(items, CHUNK_SIZE))
        queue: deque[tuple[int, int]] = deque()

        def feed(worker: int) -> None:
            step = next(source, None)
            if step is not None:
                chunk_id, chunk = step
                self._send(worker, ("chunk", chunk_id, chunk))
                queue.append((chunk_id, worker))

        for _ in range(IN_FLIGHT):
            for worker in range(self.workers):
                feed(worker)
        while queue:
            chunk_id, worker = queue.popleft()
            message = self._receive(worker)
            self._current = (chunk_id, worker)
            yield message[2]
            if self._current is not None:             # nothing to place: results only
                self.place([None] * len(message[2]))
            feed(worker)

    def place(self, placements: list) -> None:
        chunk_id, worker = self._current
        self._current = None
        self._send(worker, ("place", chunk_id, placements))

    def _send(self, worker: int, message) -> None:
        try:
            self._conns[worker].send(message)
        except (BrokenPipeError, ConnectionResetError):
            self._receive(worker)        # a worker that stopped: its error, or that it died
            raise WorkerError("a worker process stopped early; nothing was written") from None

    def _receive(self, worker: int):
        try:
            message = self._conns[worker].recv()
        except (EOFError, ConnectionResetError):
            raise WorkerError("a worker process died (out of memory?); nothing was written") \
                from None
        if message[0] == "error":
            raise message[1]
        return message

    def finish(self) -> None:
        """Wait until every worker has written everything it was told to."""
        for worker in range(len(self._conns)):
            self._send(worker, ("stop",))
        for worker in range(len(self._conns)):
            self._receive(worker)

    def __exit__(self, exc_type, exc, tb) -> None:
        for conn in self._conns:
            conn.close()                  # a worker still waiting for work sees the end
        for pid in self._pids:
            if exc_type is not None:
                _kill(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for process in self._procs:
            if exc_type is not None and process.is_alive():
                process.terminate()
            process.join(timeout=10)
        self._conns, self._pids, self._procs = [], [], []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


class Channel:
    """Pickled messages over two pipes, each prefixed with its length.

    A worker's channel never blocks on sending while the parent is sending to it: results can
    be large (GZIP runs send the payloads) and so can chunks of items, and two processes each
    blocked writing to a full pipe the other is not reading would wait forever. So the
    worker's send writes without blocking and, whenever the pipe is full, reads (and keeps)
    what the parent is sending meanwhile.
    """

    def __init__(self, read_fd: int, write_fd: int, *, worker: bool = False) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._worker = worker
        self._inbox: deque = deque()
        if worker:
            os.set_blocking(write_fd, False)

    def send(self, message) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._worker:
            _write_all(self.write_fd, _LENGTH.pack(len(data)), data)
            return
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            try:
                view = view[os.write(self.write_fd, view):]
                continue
            except BlockingIOError:
                pass
            readable, _writable, _ = select.select([self.read_fd], [self.write_fd], [])
            if readable:
                self._inbox.append(self._read_message())

    def recv(self):
        if self._inbox:
            return self._inbox.popleft()
        return self._read_message()

    def _read_message(self):
        (length,) = _LENGTH.unpack(_read_exact(self.read_fd, _LENGTH.size))
        return pickle.loads(_read_exact(self.read_fd, length))

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


_LENGTH = struct.Struct("<Q")


def _write_all(fd: int, header: bytes, data: bytes) -> None:
    pieces = [header, data]
    while pieces:
        written = os.writev(fd, pieces)
        while pieces and written >= len(pieces[0]):
            written -= len(pieces[0])
            pieces.pop(0)
        if pieces and written:
            pieces[0] = memoryview(pieces[0])[written:]


def _read_exact(fd: int, size: int) -> bytes:
    data = os.read(fd, size)
    if len(data) == size:
        return data
    if not data:
        raise EOFError
    buffer = bytearray(data)
    while len(buffer) < size:
        more = os.read(fd, size - len(buffer))
        if not more:
            raise EOFError
        buffer += more
    return bytes(buffer)


def _chunked(items: Iterable[Any], size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
