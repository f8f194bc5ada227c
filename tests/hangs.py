"""A hang fails the test with a message instead of blocking the suite (an alarm, bounded)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so code under test that catches Exception cannot
    swallow it and carry on."""


@contextmanager
def fails_after(seconds: int, what: str) -> Iterator[None]:
    """Raise Hang naming `what` when the block runs past `seconds` (main thread, POSIX)."""
    def ring(_signum, _frame):
        raise Hang(f"{what} did not finish in {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def interruptible() -> None:
    """Popen's preexec_fn for a child the test will Ctrl-C: SIGINT back to its default.

    A shell starts background jobs (`cmd &`, nohup, some CI runners) with SIGINT ignored, and a
    child inherits that; Python then installs no KeyboardInterrupt handler, so the test's SIGINT
    would be ignored, as the user who ran it that way asked, and the test would fail."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
