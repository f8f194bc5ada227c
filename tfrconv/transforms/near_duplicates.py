"""`--near-duplicates`: images that look alike in different splits (leakage), found cheaply.

In the workers, each written image gets a 64-bit difference hash (dHash): the image as a 9x8
grayscale thumbnail, one bit per pair of horizontal neighbours (left darker than right). A
JPEG is decoded at 1/8 scale (the decoder's draft mode), so hashing costs a fraction of a full
decode. Re-encoding, resizing or a slight edit change a few bits; another picture changes
about half. The hash travels back in the result's notes; the run's tally (`tally.py`) feeds it
to a `LeakageIndex`, in input order, so every runner setting reports the same pairs.

The index finds pairs within `distance` bits without comparing every pair: the 64 bits are cut
into `distance + 1` bands, and two hashes that differ in at most `distance` bits agree exactly
on at least one band (pigeonhole), so only images sharing a band value are compared. A bucket
stops growing at `BUCKET_LIMIT` members, so a flood of blank frames cannot make it quadratic.
"""

from __future__ import annotations

import io
from array import array

from ..errors import UsageError
from ..problems import Problem
from ..sample import Sample
from .spec import Context

DEFAULT_DISTANCE = 4
MAX_DISTANCE = 15            # 16 bands of 4 bits: beyond that, buckets stop being selective
BUCKET_LIMIT = 64
POLICIES = ("warn", "error")
NOTE = "perceptual_hash"


def perceptual_hash(data: bytes) -> int | None:
    """The 64-bit dHash of encoded image bytes (None when Pillow cannot decode them)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (9, 8))              # JPEG: decode at up to 1/8 scale, gray
            small = image.convert("L").resize((9, 8), Image.Resampling.BOX)
            pixels = small.tobytes()
    except Exception:  # noqa: BLE001 - Pillow's many error types; such an image is not hashed
        return None
    bits = 0
    for row in range(0, 72, 9):
        for left in range(row, row + 8):
            bits = (bits << 1) | (pixels[left] < pixels[left + 1])
    return bits


def band_masks(distance: int) -> list[tuple[int, int]]:
    """(shift, mask) of each of the `distance + 1` bands covering the 64 bits."""
    bands = distance + 1
    masks, start = [], 0
    for band in range(bands):
        width = 64 // bands + (1 if band < 64 % bands else 0)
        masks.append((start, (1 << width) - 1))
        start += width
    return masks


class LeakageIndex:
    """The hashes of the images written so far; `add` returns the leakage problems a new image
    makes with earlier images of other splits."""

    def __init__(self, distance: int) -> None:
        self.distance = distance
        self.masks = band_masks(distance)
        self.buckets: list[dict[int, list[int]]] = [{} for _ in self.masks]
        self.hashes = array("Q")
        self.splits: list[str | None] = []
        self.names: list[str] = []
        self.pairs = 0

    def add(self, value: int, split: str | None, name: str, where: str | None,
            source_id: str | None) -> list[Problem]:
        index = len(self.hashes)
        hashes, splits = self.hashes, self.splits
        compared: set[int] = set()
        near: list[tuple[int, int]] = []
        for (shift, mask), buckets in zip(self.masks, self.buckets):
            bucket = buckets.setdefault((value >> shift) & mask, [])
            for other in bucket:
                if other in compared or splits[other] == split:
                    continue
                compared.add(other)
                bits = (value ^ hashes[other]).bit_count()
                if bits <= self.distance:
                    near.append((other, bits))
            if len(bucket) < BUCKET_LIMIT:
                bucket.append(index)
        hashes.append(value)
        splits.append(split)
        self.names.append(name)
        self.pairs += len(near)
        return [Problem.at("near_duplicate",
                        f"looks like {self.names[other]} of split {splits[other]!r} "
                        f"(perceptual hash {bits} of 64 bits apart): leakage between splits",
                        where, source_id, "kept")
                for other, bits in sorted(near)]


class NearDuplicateHasher:
    """The transform: notes each image's perceptual hash for the main process."""

    def __init__(self, distance: int, policy: str) -> None:
        self.distance = distance
        self.policy = policy

    def __call__(self, sample: Sample, context: Context) -> Sample:
        value = perceptual_hash(sample.image_bytes)
        if value is not None:
            context.notes[NOTE] = value
        return sample

    def new_index(self) -> LeakageIndex:
        return LeakageIndex(self.distance)


def setup_near_duplicates(opts) -> NearDuplicateHasher | None:
    distance = opts.near_duplicate_distance
    if not opts.near_duplicates:
        for flag, value in (("--near-duplicate-distance", distance),
                            ("--on-near-duplicate", opts.on_near_duplicate)):
            if value is not None:
                raise UsageError(f"{flag} needs --near-duplicates")
        return None
    distance = DEFAULT_DISTANCE if distance is None else distance
    if not 0 <= distance <= MAX_DISTANCE:
        raise UsageError(f"--near-duplicate-distance must be between 0 and {MAX_DISTANCE} "
                         "(bits of 64)")
    return NearDuplicateHasher(distance, opts.on_near_duplicate or "warn")
