"""Fixed-edge histograms: every split counts into the same bins, in constant memory.

The edges are chosen before the first value arrives (log-spaced for sizes and ratios, unit bins
for counts), so two splits' histograms share their axes by construction, a chart can draw them
side by side, and `tfrconv.report.compare` can test them against each other with exact counts
rather than samples.
"""

from __future__ import annotations

import bisect
import math


class Histogram:
    """Counts of values in fixed bins [edges[i], edges[i+1]); values below the first edge or at
    or above the last one are counted as `under` and `over`. NaN is ignored."""

    def __init__(self, edges: list[float]) -> None:
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError("histogram edges must rise")
        self.edges = list(edges)
        self.counts = [0] * (len(edges) - 1)
        self.under = self.over = 0

    @classmethod
    def log(cls, low: float, high: float, bins: int) -> Histogram:
        step = (math.log10(high) - math.log10(low)) / bins
        return cls([10 ** (math.log10(low) + i * step) for i in range(bins + 1)])

    @classmethod
    def integers(cls, last: int) -> Histogram:
        """One bin per integer 0..last (centred on it), the rest in `over`."""
        return cls([i - 0.5 for i in range(last + 2)])

    def add(self, value: float) -> None:
        if value != value:
            return
        if value < self.edges[0]:
            self.under += 1
        elif value >= self.edges[-1]:
            self.over += 1
        else:
            self.counts[bisect.bisect_right(self.edges, value) - 1] += 1

    @property
    def total(self) -> int:
        return self.under + sum(self.counts) + self.over

    def cells(self) -> list[int]:
        """Every count in order, the tails included: what a distribution test compares."""
        return [self.under, *self.counts, self.over]


class Grid:
    """A `size` x `size` count of points in the unit square (box centres); points outside it
    are counted in `outside`."""

    def __init__(self, size: int = 24) -> None:
        self.size = size
        self.counts = [[0] * size for _ in range(size)]
        self.outside = 0

    def add(self, x: float, y: float) -> None:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):    # NaN fails both comparisons
            self.outside += 1
            return
        column = min(int(x * self.size), self.size - 1)
        row = min(int(y * self.size), self.size - 1)
        self.counts[row][column] += 1

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))
