"""When do two splits differ markedly? Two tests, both on exact counts, both with a size floor.

- Numeric distributions (boxes per image, box width, height, aspect, area) are binned on the
  same fixed edges in every split, so the two-sample Kolmogorov-Smirnov statistic D (the largest
  gap between the two cumulative distributions) is computed from the bins. A difference is
  marked when D >= `KS_MIN_D` (an effect big enough to matter) *and* D exceeds the 1 % critical
  value 1.628 * sqrt((n + m) / (n m)) (not sampling noise).
- Categorical distributions (objects per class, centre heat map cells, image sizes, formats)
  are compared with the Jensen-Shannon divergence in bits (0 identical, 1 disjoint); marked at
  `JS_MIN` or more.

Both need at least `MIN_COUNT` values on each side; with fewer, nothing is marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KS_MIN_D = 0.1
KS_ALPHA_COEFFICIENT = 1.628          # c(alpha) for alpha = 0.01
JS_MIN = 0.05
MIN_COUNT = 30


@dataclass(frozen=True)
class Difference:
    what: str               # "box width (px)"
    split: str              # the split compared with the reference
    reference: str
    test: str               # "KS" or "JS"
    value: float
    threshold: float
    marked: bool
    detail: str = ""

    def sentence(self) -> str:
        figure = f"{self.test} {self.value:.3f} (marked at {self.threshold:.3f})"
        return f"{self.what}: {self.split} vs {self.reference}: {figure}" + \
            (f"; {self.detail}" if self.detail else "")


def ks_statistic(cells_a: Sequence[int], cells_b: Sequence[int]) -> float:
    """The largest gap between the cumulative shares of two counts over the same bins."""
    total_a, total_b = sum(cells_a), sum(cells_b)
    if not total_a or not total_b:
        return 0.0
    gap = run_a = run_b = 0
    for a, b in zip(cells_a, cells_b, strict=True):
        run_a += a
        run_b += b
        gap = max(gap, abs(run_a / total_a - run_b / total_b))
    return gap


def ks_critical(n: int, m: int) -> float:
    return KS_ALPHA_COEFFICIENT * math.sqrt((n + m) / (n * m))


def js_divergence(counts_a: Mapping, counts_b: Mapping) -> float:
    """Jensen-Shannon divergence, base 2, between two count tables (keys missing count 0)."""
    total_a, total_b = sum(counts_a.values()), sum(counts_b.values())
    if not total_a or not total_b:
        return 0.0
    divergence = 0.0
    for key in set(counts_a) | set(counts_b):
        p, q = counts_a.get(key, 0) / total_a, counts_b.get(key, 0) / total_b
        mean = (p + q) / 2
        if p:
            divergence += p * math.log2(p / mean) / 2
        if q:
            divergence += q * math.log2(q / mean) / 2
    return max(0.0, divergence)


def compare_numbers(what: str, split: str, reference: str, cells: Sequence[int],
                    reference_cells: Sequence[int]) -> Difference | None:
    n, m = sum(cells), sum(reference_cells)
    if n < MIN_COUNT or m < MIN_COUNT:
        return None
    d = ks_statistic(cells, reference_cells)
    threshold = max(KS_MIN_D, ks_critical(n, m))
    return Difference(what, split, reference, "KS", d, threshold, d >= threshold)


def compare_counts(what: str, split: str, reference: str, counts: Mapping,
                   reference_counts: Mapping) -> Difference | None:
    n, m = sum(counts.values()), sum(reference_counts.values())
    if n < MIN_COUNT or m < MIN_COUNT:
        return None
    js = js_divergence(counts, reference_counts)
    missing = sorted(str(k) for k, v in reference_counts.items()
                     if v / m * n >= 5 and not counts.get(k))
    detail = ("absent here, expected from the reference: " + ", ".join(missing[:8]) +
              (" ..." if len(missing) > 8 else "")) if missing else ""
    return Difference(what, split, reference, "JS", js, JS_MIN, js >= JS_MIN or bool(missing),
                      detail)
