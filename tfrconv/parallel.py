"""Ordered, bounded parallel map: results come back in input order, memory stays flat.

At most `window` items are in flight, so a dataset of any size needs the same memory, and output
order (hence the bytes written) never depends on which worker finished first.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

_worker_state: Any = None


def _init_process(state: Any) -> None:
    global _worker_state
    _worker_state = state


def _run_chunk(fn: Callable[[Any], Any], chunk: list) -> list:
    return [fn(item) for item in chunk]


def _run_chunk_in_process(chunk: list) -> list:
    return [_worker_state(item) for item in chunk]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1, *,
                kind: str = "thread", chunk_size: int = 8, window: int | None = None
                ) -> Iterator[Any]:
    """Yield fn(item) for every item, in order, using `workers` threads or processes.

    Items travel in chunks of `chunk_size` (fewer hand-offs per item); at most `window` chunks
    are in flight. For processes, `fn` must be picklable (a module-level function or a
    picklable object); it is sent once to each worker, not with every chunk.
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = window or workers * 3
    executor: Executor
    if kind == "process":
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_process,
                                       initargs=(fn,))
        submit = lambda chunk: executor.submit(_run_chunk_in_process, chunk)  # noqa: E731
    else:
        executor = ThreadPoolExecutor(workers, thread_name_prefix="tfrconv")
        submit = lambda chunk: executor.submit(_run_chunk, fn, chunk)  # noqa: E731
    pending: deque = deque()
    try:
        for chunk in _chunks(items, chunk_size):
            pending.append(submit(chunk))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
