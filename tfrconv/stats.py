"""Summary statistics in constant memory, for streams of any length.

`NumberStats` keeps the exact count, sum, min and max and a fixed-size uniform sample (a seeded
reservoir) for the quantiles, so a 100 GB record file costs no more memory than a small one and
the same file always gives the same figures. `CappedCounter` stops adding new keys after a limit
and counts the rest under one bucket, so hostile or high-cardinality values cannot grow it.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

RESERVOIR_SIZE = 10_000
QUANTILES = (("p5", 0.05), ("median", 0.5), ("p95", 0.95))


class NumberStats:
    def __init__(self, reservoir_size: int = RESERVOIR_SIZE, seed: int = 0) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._size = reservoir_size
        self._sample: list[float] = []
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        if value != value:              # NaN: not a number to summarise
            return
        self.count += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        if len(self._sample) < self._size:
            self._sample.append(value)
        else:
            slot = self._rng.randrange(self.count)
            if slot < self._size:
                self._sample[slot] = value

    @property
    def exact(self) -> bool:
        """True while every value is in the sample (quantiles are exact)."""
        return self.count <= self._size

    def quantile(self, q: float) -> float | None:
        if not self._sample:
            return None
        ordered = sorted(self._sample)
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        if not self.count:
            return {"count": 0}
        out: dict[str, Any] = {"count": self.count, "min": round(self.min, digits),
                               "max": round(self.max, digits),
                               "mean": round(self.total / self.count, digits)}
        for name, q in QUANTILES:
            out[name] = round(self.quantile(q), digits)
        if not self.exact:
            out["quantiles_from_sample"] = self._size
        return out


class CappedCounter(Counter):
    """A Counter that keeps at most `limit` distinct keys; later new keys count as OTHER."""

    OTHER = "(other)"

    def __init__(self, limit: int = 1000) -> None:
        super().__init__()
        self.limit = limit

    def add(self, key: Any, amount: int = 1) -> None:
        if key not in self and len(self) >= self.limit:
            key = self.OTHER
        self[key] += amount
