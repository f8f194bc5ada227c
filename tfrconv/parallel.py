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


def _call_in_process(item: Any) -> Any:
    return _worker_state(item)


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 1, *,
                kind: str = "thread", window: int | None = None) -> Iterator[Any]:
    """Yield fn(item) for every item, in order, using `workers` threads or processes.

    For processes, `fn` must be picklable (a module-level function or a picklable callable
    object); it is sent once to each worker, not with every item.
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = window or workers * 4
    executor: Executor
    if kind == "process":
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_process,
                                       initargs=(fn,))
        submit = lambda item: executor.submit(_call_in_process, item)  # noqa: E731
    else:
        executor = ThreadPoolExecutor(workers, thread_name_prefix="tfrconv")
        submit = lambda item: executor.submit(fn, item)  # noqa: E731
    pending: deque = deque()
    try:
        for item in items:
            pending.append(submit(item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
