"""A one-line progress display on a terminal (stderr); silent when not a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True,
                 stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = label
        self.total = total
        self.count = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, count: int = 1) -> None:
        self.count += count
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.2:
            return
        self._last = now
        rate = self.count / max(now - self.start, 1e-9)
        if self.total:
            share = self.count / self.total
            bar = "#" * int(share * 30)
            text = f"{self.label} [{bar:<30}] {self.count:,}/{self.total:,} {rate:,.0f}/s"
        else:
            text = f"{self.label} {self.count:,} {rate:,.0f}/s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
