"""Progress where people work: a bar with rate and ETA on a terminal (tqdm when installed, the
`[progress]` extra; a plain line otherwise), tqdm.auto's widget in Jupyter and Colab, and
without a terminal (CI logs, `nohup`) one log line every few seconds. tqdm is imported only when
a bar is shown, so `tfrconv --help` and quiet runs never pay for it."""

from __future__ import annotations

import sys
import time

BAR_DELAY = 0.2          # seconds between redraws of the plain line
LOG_INTERVAL = 5.0       # seconds between log lines without a terminal


def in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel (its stderr is no terminal, but shows widgets)."""
    return "ipykernel" in sys.modules


class Progress:
    """`update(n)` after each item or chunk, `close()` at the end. Which display: `mode`."""

    def __init__(self, label: str, total: int | None = None, *, enabled: bool = True,
                 stream=None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.total = total
        self.count = 0
        self.start = time.perf_counter()
        self.interval = LOG_INTERVAL if interval is None else interval
        self._last = 0.0
        self.bar = None
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        if not enabled:
            self.mode = "off"
        elif tty:
            self.mode = "bar"
        elif in_notebook() and stream is None:
            self.mode = "notebook"
        else:
            self.mode = "log"
        self.enabled = self.mode != "off"

    def update(self, count: int = 1) -> None:
        self.count += count
        if self.mode == "off":
            return
        now = time.perf_counter()
        if self.bar is None and self.mode in ("bar", "notebook"):
            self.bar = self._tqdm()
        if self.bar is not None and self.bar is not False:
            self.bar.update(count)
            return
        if self.mode == "log":
            if now - max(self._last, self.start) >= self.interval:
                self._last = now
                self.stream.write(f"tfrconv: {self.text(now)}\n")
                self.stream.flush()
        elif now - self._last >= BAR_DELAY:
            self._last = now
            self.stream.write("\r" + self.text(now) + "\x1b[K")
            self.stream.flush()

    def text(self, now: float) -> str:
        """'voc 1,200/5,000 (24%) 310/s, ETA 12 s' (without total: count and rate)."""
        elapsed = max(now - self.start, 1e-9)
        rate = self.count / elapsed
        if not self.total:
            return f"{self.label} {self.count:,} {rate:,.0f}/s"
        share = min(self.count / self.total, 1.0)
        left = (self.total - self.count) / rate if rate > 0 else float("inf")
        eta = f"{left:,.0f} s" if left != float("inf") else "?"
        if self.mode == "log":
            return (f"{self.label} {self.count:,}/{self.total:,} ({share:.0%}) {rate:,.0f}/s, "
                    f"ETA {eta}")
        bar = "#" * int(share * 30)
        return f"{self.label} [{bar:<30}] {self.count:,}/{self.total:,} {rate:,.0f}/s ETA {eta}"

    def _tqdm(self):
        """A tqdm bar (tqdm.auto in a notebook), or False when tqdm is not installed."""
        try:
            if self.mode == "notebook":
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
        except ImportError:
            if self.mode == "notebook":
                self.mode = "log"            # no widget without tqdm: log lines instead
            return False
        kwargs = {} if self.mode == "notebook" else {"file": self.stream}
        bar = tqdm(total=self.total, desc=self.label, unit=" images", leave=False,
                   dynamic_ncols=True, **kwargs)
        bar.update(0)
        return bar

    def close(self) -> None:
        if self.bar:
            self.bar.close()
        elif self.mode == "bar" and self._last:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
