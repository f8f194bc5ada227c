"""`--split ... --stratify`: each class keeps its share of images in every split.

The plain split decides each image alone; keeping per-class shares needs every image's classes
first. So the main process plans: from the annotations (read once per run, no image read) it
builds an `Assignment` (source id → split), which travels to the workers as an option value.

The plan is deterministic: units (an image, or a `--group-by` group that moves as one) are taken
in the order of the plain split's hash (`--split-seed`; the key is the group, else the source
id: no image is read here, so there is no content hash), and each goes to the split that lacks
most images of the unit's rarest class (ties: the unit's other classes, then the split's image
count, then the order of `--split`). Unlike the plain split, adding images can move others.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..errors import UsageError
from ..sample import Sample
from .spec import Context
from .split import SplitAssigner, group_key, unit_interval

# The option value the main process adds for the workers (`TransformSpec.derived`).
ASSIGNMENT = "split_assignment"


@dataclass(frozen=True)
class Annotated:
    """One readable annotation, as the main process reads it before the run."""

    source_id: str
    filename: str | None
    classes: tuple[str, ...]        # after the class transforms (--remap, ...); repeats allowed


class Assignment(Mapping):
    """Source id → split, planned in the main process. Its text (what the manifest records)
    is short: how many ids and a digest of the table, never the table itself."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = dict(table)

    def __getitem__(self, source_id: str) -> str:
        return self.table[source_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def __reduce__(self):
        return Assignment, (self.table,)

    def __str__(self) -> str:
        digest = hashlib.sha256()
        for source_id in sorted(self.table):
            digest.update(f"{source_id}\0{self.table[source_id]}\n".encode())
        return f"stratified: {len(self.table)} ids, sha256 {digest.hexdigest()[:16]}"


@dataclass
class Unit:
    key: str
    source_ids: list[str]
    classes: Counter                # class → images of this unit that have it


def plan(annotations: Iterable[Annotated], shares: tuple[tuple[str, float], ...], seed: int,
         group: re.Pattern | None) -> Assignment:
    """The stratified assignment of `annotations` (see the module's docstring)."""
    units: dict[str, Unit] = {}
    for item in annotations:
        key = group_key(group, item.filename, item.source_id) or "id:" + item.source_id
        unit = units.setdefault(key, Unit(key, [], Counter()))
        if item.source_id not in unit.source_ids:   # a repeated id: one image, one split
            unit.source_ids.append(item.source_id)
            unit.classes.update(set(item.classes))
    totals: Counter = Counter()
    for unit in units.values():
        totals.update(unit.classes)
    images = sum(len(unit.source_ids) for unit in units.values())
    names = [name for name, _share in shares]
    placed = {name: Counter() for name in names}        # split → class → images
    sizes = dict.fromkeys(names, 0)                     # split → images
    table: dict[str, str] = {}
    for unit in sorted(units.values(), key=lambda u: (unit_interval(seed, u.key), u.key)):
        rarest = min(unit.classes, key=lambda c: (totals[c], c)) if unit.classes else None

        scores = []
        for index, (name, share) in enumerate(shares):
            lacking = (share * totals[rarest] - placed[name][rarest]) if rarest else 0.0
            others = sum((share * totals[c] - placed[name][c]) / totals[c]
                         for c in unit.classes)
            scores.append(((lacking, others, share * images - sizes[name], -index), name))
        chosen = max(scores)[1]
        placed[chosen].update(unit.classes)
        sizes[chosen] += len(unit.source_ids)
        for source_id in unit.source_ids:
            table.setdefault(source_id, chosen)
    return Assignment(table)


def class_images(annotations: Iterable[Annotated], assignment: Mapping[str, str]
                 ) -> dict[str, Counter]:
    """Class → split → images with that class, as `assignment` places them."""
    counts: dict[str, Counter] = {}
    seen: set[str] = set()
    for item in annotations:
        if item.source_id in seen or item.source_id not in assignment:
            continue
        seen.add(item.source_id)
        for name in set(item.classes):
            counts.setdefault(name, Counter())[assignment[item.source_id]] += 1
    return dict(sorted(counts.items()))


def check_tolerance(counts: Mapping[str, Counter], shares: tuple[tuple[str, float], ...],
                    tolerance: float) -> None:
    """UsageError naming the class furthest from its shares when it is off by more than
    `tolerance` (an absolute share: 0.05 is 5 points) in any split."""
    worst = None
    for name, per_split in counts.items():
        total = sum(per_split.values())
        off = max(abs(per_split[split] / total - share) for split, share in shares)
        if off > tolerance + 1e-9 and (worst is None or off > worst[0]):
            worst = (off, name, per_split, total)
    if worst is None:
        return
    off, name, per_split, total = worst
    got = ", ".join(f"{split} {per_split[split]} ({per_split[split] / total:.0%}, target "
                    f"{share:.0%})" for split, share in shares)
    raise UsageError(f"--stratify: class {name!r} ({total} image{'s' if total != 1 else ''}) "
                     f"cannot keep its shares within --stratify-tolerance {tolerance:g}: {got}; "
                     f"give --stratify-tolerance {math.ceil(off * 100 - 1e-6) / 100:g} or more, "
                     "or leave the class out (--drop-classes)")


class StratifiedAssigner(SplitAssigner):
    """`--stratify`: the split comes from the `Assignment` the main process planned
    (`plan_splits`, called by the conversion with every annotation before the run)."""

    def __init__(self, shares: tuple[tuple[str, float], ...], seed: int,
                 group: re.Pattern | None, tolerance: float,
                 assignment: Mapping[str, str] | None) -> None:
        super().__init__(shares, seed, "id", group)
        self.shares = shares
        self.tolerance = tolerance
        self.assignment = assignment

    def plan_splits(self, annotations: list) -> dict[str, object]:
        """The option values the workers need (the assignment); a UsageError when a class
        cannot keep its shares within the tolerance. `annotations`: `stratify.Annotated`."""
        assignment = plan(annotations, self.shares, self.seed, self.group)
        self.class_images = class_images(annotations, assignment)
        check_tolerance(self.class_images, self.shares, self.tolerance)
        self.assignment = assignment
        return {ASSIGNMENT: assignment}

    def __call__(self, sample: Sample, context: Context) -> Sample:
        split = None if self.assignment is None else self.assignment.get(sample.source_id)
        # An id the plan did not see (an annotation unreadable then): the plain hash.
        sample.split = split or self.choose(self.key(sample, context))
        return sample
