"""`--split train=0.8,val=0.1,test=0.1`: one output per split, chosen by a stable hash.

An image's split depends only on its own key and `--split-seed`: the SHA-256 of seed and key,
read as a number in [0, 1), falls into one split's share. Adding, removing or reordering other
images never moves it, and every worker and runner agrees. The key is the image content's
SHA-256 (`--split-by content`, the default: a renamed file stays where it was) or the source id
(`--split-by id`); with `--group-by PATTERN` it is the pattern's match (its first group, when
it has one) in the file name, else in the source id, so the frames of one sequence share a
split. An image the pattern does not match keeps its own key.
"""

from __future__ import annotations

import hashlib
import re

from ..errors import UsageError
from ..sample import Sample
from .spec import Context

NAME = re.compile(r"^[A-Za-z0-9_-]+$")
TOLERANCE = 1e-6


def parse_split(text: str) -> tuple[tuple[str, float], ...]:
    """"train=0.8,val=0.2" → (("train", 0.8), ("val", 0.2)); UsageError unless the shares are
    positive and add up to 1."""
    shares: list[tuple[str, float]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, equals, value = (s.strip() for s in part.partition("="))
        try:
            share = float(value) if equals else float("nan")
        except ValueError:
            share = float("nan")
        if not NAME.match(name) or not share > 0:
            raise UsageError(f"--split: {part.strip()!r} is not NAME=SHARE with a share above "
                             "0 (e.g. --split train=0.8,val=0.1,test=0.1)")
        if name in dict(shares):
            raise UsageError(f"--split: {name!r} is given twice")
        shares.append((name, share))
    if len(shares) < 2:
        raise UsageError("--split: give at least two splits (e.g. train=0.8,val=0.2)")
    total = sum(share for _name, share in shares)
    if abs(total - 1.0) > TOLERANCE:
        raise UsageError(f"--split: the shares add up to {total:g}, not 1 ({text})")
    return tuple(shares)


def compile_group(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--group-by: {pattern!r} is not a regular expression: {exc}") from None


def group_key(group: re.Pattern | None, filename: str | None, source_id: str) -> str | None:
    """The `--group-by` key of an image (its file name's match, else its source id's), or
    None when there is no pattern or it matches neither."""
    if group is None:
        return None
    for text in (filename, source_id):
        match = group.search(text or "")
        if match is not None:
            return "group:" + (match.group(1) if match.re.groups else match.group(0))
    return None


def unit_interval(seed: int, key: str) -> float:
    """The key's place in [0, 1) for this seed (SHA-256: the same on every machine)."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


class SplitAssigner:
    """Sets `sample.split`; runs after the checks, where the image's SHA-256 is known."""

    def __init__(self, shares: tuple[tuple[str, float], ...], seed: int, by: str,
                 group: re.Pattern | None) -> None:
        self.splits = tuple(name for name, _share in shares)
        bounds, total = [], 0.0
        for _name, share in shares:
            total += share
            bounds.append(total)
        bounds[-1] = 1.0                 # float sums: the last split takes what is left
        self.bounds = tuple(bounds)
        self.seed = seed
        self.by = by
        self.group = group

    def key(self, sample: Sample, context: Context) -> str:
        grouped = group_key(self.group, sample.filename, sample.source_id)
        if grouped is not None:
            return grouped
        if self.by == "content" and context.sha256 is not None:
            return "sha256:" + context.sha256
        return "id:" + sample.source_id

    def choose(self, key: str) -> str:
        place = unit_interval(self.seed, key)
        for name, bound in zip(self.splits, self.bounds):
            if place < bound:
                return name
        return self.splits[-1]

    def __call__(self, sample: Sample, context: Context) -> Sample:
        sample.split = self.choose(self.key(sample, context))
        return sample
