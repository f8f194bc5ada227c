"""Worker processes that build examples and write them in place.

Reading annotations and encoding examples is Python code holding the GIL, so the parallel unit is
a process. The obvious design, workers sending each encoded example back to the parent that
writes it, measured no faster than one process here: the parent spent as long receiving and
copying the image bytes (tens of KB per example) as the workers spent making them.

So the bytes never travel. The parent sends chunks of items to each worker in turn and gets back
the results without their payloads (their framed length instead). It decides, in input order,
what is kept (policies, duplicates) and where each record goes: shard and byte offset in that
shard's temporary file (the `ShardedWriter` reserves the space). The worker then writes its
records at those offsets (`worker_process.PositionalWriter`). The output is therefore
byte-identical whatever the number of workers; only the parent decides anything.

When the records are compressed (GZIP), offsets cannot be known in advance: the workers then
send the payloads back and the parent writes them through the compressor.

How workers start:

- **fork** where it is the safe default: Linux, while `multiprocessing`'s default start method is
  fork (not Python 3.14's forkserver, nor one the program chose). Workers are forked directly
  and talk over raw pipes (`worker_channel.Channel`): no `multiprocessing` import, no new
  interpreter, and they inherit what the parent loaded (the first item is built before forking).
- **spawn** everywhere else (macOS, Windows, forkserver defaults): `multiprocessing` spawn
  processes running the same loop with the same messages. The builder is pickled; its format is
  found by name in the worker's own registry (entry points), or, registered at run time, sent
  pickled from the parent. As with any spawn, a script that converts must guard its top level
  with `if __name__ == "__main__":`.

``TFRCONV_WORKER_START=fork|spawn`` forces the start method (CI runs the spawn path on Linux).
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import UsageError
from .worker_process import (
    START_SIGNALS,
    Framed,
    WorkerError,
    serve,
    spawned_worker,
    take_own_signals,
)

__all__ = ["CHUNK_SIZE", "IN_FLIGHT", "START_ENV", "Framed", "WorkerError", "WorkerPool",
           "start_method"]

CHUNK_SIZE = 32          # items per message: amortises the hand-offs, bounds worker memory
IN_FLIGHT = 2            # chunks queued per worker, so none waits for the parent
START_ENV = "TFRCONV_WORKER_START"


def start_method() -> str:
    """"fork" or "spawn": how this process starts its workers (see the module's docstring)."""
    forced = os.environ.get(START_ENV, "").strip().lower()
    if forced:
        if forced not in ("fork", "spawn"):
            raise UsageError(f"{START_ENV}={forced!r}: use fork or spawn")
        if forced == "fork" and not hasattr(os, "fork"):
            raise UsageError(f"{START_ENV}=fork: this platform cannot fork")
        return forced
    return "fork" if sys.platform.startswith("linux") and _fork_is_default() else "spawn"


def _fork_is_default() -> bool:
    # Answered without importing multiprocessing (its import costs every run ~15 ms) unless
    # the program already has: then a start method it set is respected.
    multiprocessing = sys.modules.get("multiprocessing")
    chosen = multiprocessing.get_start_method(allow_none=True) if multiprocessing else None
    if chosen is not None:
        return chosen == "fork"
    return sys.version_info < (3, 14)       # 3.14 made forkserver the default on Linux


class WorkerPool:
    """`workers` processes running `builder.build`; results come back in input order.

    Iterate `chunks(items)`: each step yields one chunk's results. For results whose payload is
    `Framed`, the caller reserves space and must call `place(placements)` (one
    `(path, offset)` or None per result) before the next step, and `finish()` after the last.
    """

    def __init__(self, builder: Any, workers: int, *, send_payloads: bool,
                 start: str | None = None) -> None:
        self.builder = builder
        self.workers = workers
        self.send_payloads = send_payloads
        self.start = start or start_method()
        self._conns: list = []
        self._pids: list[int] = []         # forked workers
        self._procs: list = []             # spawned (multiprocessing) workers
        self._current: tuple[int, int] | None = None

    def __enter__(self) -> WorkerPool:
        try:
            context = _spawn_context() if self.start == "spawn" else None
            with _start_signals_blocked():
                if context is None:
                    self._fork()
                else:
                    self._spawn(context)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _fork(self) -> None:
        # The channels (pickle, select, ...) load only when workers start: not with --workers 1.
        from .worker_channel import Channel

        for _ in range(self.workers):
            to_worker, from_worker = os.pipe(), os.pipe()
            pid = os.fork()
            if pid == 0:                                   # the worker
                code = 1
                try:
                    take_own_signals()
                    for conn in self._conns:               # earlier workers' pipes
                        conn.close()
                    os.close(to_worker[1])
                    os.close(from_worker[0])
                    serve(Channel(to_worker[0], from_worker[1], worker=True),
                          self.builder, self.send_payloads)
                    code = 0
                finally:
                    # Never return into the parent's code, nor run its exit handlers.
                    os._exit(code)
            os.close(to_worker[0])
            os.close(from_worker[1])
            self._conns.append(Channel(from_worker[0], to_worker[1]))
            self._pids.append(pid)

    def _spawn(self, context) -> None:
        from .worker_channel import PairChannel

        start = _start_message(self.builder, self.send_payloads)
        for _ in range(self.workers):
            to_worker, from_parent = context.Pipe(duplex=False)
            to_parent, from_worker = context.Pipe(duplex=False)
            process = context.Process(target=spawned_worker, args=(to_worker, from_worker, start),
                                      name="tfrconv-worker", daemon=True)
            process.start()
            to_worker.close()
            from_worker.close()
            self._conns.append(PairChannel(to_parent, from_parent))
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
        except OSError:                    # a broken pipe: the worker stopped
            self._receive(worker)          # its error, or that it died
            raise WorkerError("a worker process stopped early; nothing was written") from None

    def _receive(self, worker: int):
        try:
            message = self._conns[worker].recv()
        except (EOFError, OSError):
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


@contextmanager
def _start_signals_blocked() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP while workers start. A forked worker inherits the parent's
    handlers, which raise KeyboardInterrupt: one landing in fork's after-fork code printed
    "Exception ignored in: <function _after_fork>". Workers set their own handlers before they
    let the signals through; a spawned worker inherits the blocked mask across exec. The parent
    gets any signal that came meanwhile as soon as the start is over."""
    if not hasattr(signal, "pthread_sigmask"):          # Windows: nothing to block
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, START_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _spawn_context():
    import multiprocessing

    if os.name == "posix":
        # multiprocessing starts its resource tracker on the first spawn and unblocks SIGINT and
        # SIGTERM as it does (not restoring the mask): started first, it leaves our block alone.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    return multiprocessing.get_context("spawn")


def _start_message(builder: Any, send_payloads: bool) -> bytes:
    """What a spawned worker needs, pickled once for all of them. The format goes by value too
    when it can: the worker uses it if its own registry does not know the name."""
    import pickle

    spec = spec_problem = None
    try:
        spec = pickle.dumps(builder.spec, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - lambdas, closures: found by name instead
        spec_problem = f"{type(exc).__name__}: {exc}"
    try:
        return pickle.dumps((builder, spec, spec_problem, send_payloads),
                            protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - e.g. an option value that cannot be pickled
        raise UsageError(f"format {builder.spec_name!r}: its options cannot be sent to worker "
                         f"processes ({type(exc).__name__}: {exc}); use --workers 1") from None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _chunked(items: Iterable[Any], size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
