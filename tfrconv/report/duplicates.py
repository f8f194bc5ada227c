"""Duplicate and leaked images, found while the records stream past, keeping only hashes.

Exact duplicates are images whose encoded bytes have the same SHA-256, within a split or across
splits (across splits it is leakage: the model is evaluated on what it trained on). The SHA-256
is the one the record states (`image/key/sha256`, what converters write and `tfrconv verify`
checks) when it is well formed, else computed; the identity also holds the image's length and
CRC32C (computed, ~50x cheaper than SHA-256), so a wrong or constant stored hash can hide a
duplicate but never make two different images one. With
`near=True` each image is also decoded at 1/8 scale (JPEG draft mode) into an 8x8 average hash
(64 bits: pixel brighter than the mean or not); two images whose hashes differ in at most
`NEAR_BITS` bits are near duplicates (re-encoded, resized, lightly edited). Near pairs are
found without comparing every pair: each hash is split into `NEAR_BITS + 1` bands, and two
hashes that differ in at most `NEAR_BITS` bits must agree on at least one band exactly, so only
images that share a band are compared (at most `BUCKET_LIMIT` per band, so a flood of blank
images cannot make it quadratic).

Memory: one 28-byte key and one name per image (plus one 64-bit hash with `near`); groups
and pairs are counted in full but only the first few are kept with their members' names.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field

NEAR_BITS = 4
BANDS = NEAR_BITS + 1
BUCKET_LIMIT = 64
GROUPS_KEPT = 30
MEMBERS_KEPT = 6
PAIRS_KEPT = 30
SHA256_HEX = re.compile(rb"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Member:
    split: str
    name: str


@dataclass
class Group:
    """Images with identical bytes: how many, in which splits, and the first few."""

    members: list[Member] = field(default_factory=list)
    count: int = 0
    splits: set[str] = field(default_factory=set)

    def add(self, member: Member) -> None:
        self.count += 1
        self.splits.add(member.split)
        if len(self.members) < MEMBERS_KEPT:
            self.members.append(member)

    @property
    def crosses_splits(self) -> bool:
        return len(self.splits) > 1


@dataclass(frozen=True)
class NearPair:
    first: Member
    second: Member
    distance: int          # bits that differ, of 64


def average_hash(data: bytes) -> int | None:
    """The 8x8 average hash of an encoded image (None when Pillow cannot decode it)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (64, 64))            # JPEG: decode at a reduced scale
            small = image.convert("L").resize((8, 8), Image.BILINEAR)
            pixels = small.tobytes()
    except Exception:  # noqa: BLE001 - any undecodable image is simply left out
        return None
    mean = sum(pixels) / 64
    bits = 0
    for value in pixels:
        bits = (bits << 1) | (value > mean)
    return bits


class DuplicateIndex:
    def __init__(self, near: bool = False) -> None:
        self.near = near
        self._first: dict[bytes, Member] = {}
        self._groups: dict[bytes, Group] = {}
        self.images = 0
        # near duplicates
        self._hashes: list[int] = []
        self._members: list[Member] = []
        self._bands: list[dict[int, list[int]]] = [{} for _ in range(BANDS)]
        self.near_pairs: list[NearPair] = []
        self.near_count = 0
        self.near_cross_splits = 0
        self.undecodable = 0

    def add(self, split: str, name: str, data: bytes, stated_sha256: bytes | None = None) -> None:
        """Index one image; `stated_sha256` is the record's hex digest of it, if any."""
        import google_crc32c

        self.images += 1
        member = Member(split, name)
        if stated_sha256 is not None and SHA256_HEX.fullmatch(stated_sha256):
            sha = bytes.fromhex(stated_sha256.decode("ascii"))
        else:
            sha = hashlib.sha256(data).digest()
        digest = sha[:16] + len(data).to_bytes(8, "little") + \
            google_crc32c.value(data).to_bytes(4, "little")
        first = self._first.setdefault(digest, member)
        if first is not member:
            group = self._groups.get(digest)
            if group is None:
                group = self._groups[digest] = Group()
                group.add(first)
            group.add(member)
            return                       # an exact copy is not also a near duplicate
        if self.near:
            self._add_near(member, data)

    def _add_near(self, member: Member, data: bytes) -> None:
        value = average_hash(data)
        if value is None:
            self.undecodable += 1
            return
        index = len(self._hashes)
        compared: set[int] = set()
        for band, bucket_key in enumerate(_bands(value)):
            bucket = self._bands[band].setdefault(bucket_key, [])
            for other in bucket:
                if other in compared:
                    continue
                compared.add(other)
                distance = (value ^ self._hashes[other]).bit_count()
                if distance <= NEAR_BITS:
                    self._near_pair(self._members[other], member, distance)
            if len(bucket) < BUCKET_LIMIT:
                bucket.append(index)
        self._hashes.append(value)
        self._members.append(member)

    def _near_pair(self, first: Member, second: Member, distance: int) -> None:
        self.near_count += 1
        if first.split != second.split:
            self.near_cross_splits += 1
        if len(self.near_pairs) < PAIRS_KEPT:
            self.near_pairs.append(NearPair(first, second, distance))

    # -- results ---------------------------------------------------------------------------
    def groups(self) -> list[Group]:
        """The groups kept for display: across splits first, then the largest."""
        ordered = sorted(self._groups.values(), key=lambda g: (not g.crosses_splits, -g.count))
        return ordered[:GROUPS_KEPT]

    def summary(self) -> dict:
        groups = list(self._groups.values())
        return {
            "images": self.images,
            "exact_groups": len(groups),
            "exact_extra_copies": sum(g.count - 1 for g in groups),
            "exact_groups_across_splits": sum(g.crosses_splits for g in groups),
            "near_checked": self.near,
            "near_pairs": self.near_count,
            "near_pairs_across_splits": self.near_cross_splits,
            "near_undecodable": self.undecodable,
        }


def _bands(value: int) -> list[int]:
    """The 64-bit hash cut into BANDS pieces (13, 13, 13, 13, 12 bits)."""
    pieces, start = [], 0
    for band in range(BANDS):
        width = 64 // BANDS + (1 if band < 64 % BANDS else 0)
        pieces.append((value >> start) & ((1 << width) - 1))
        start += width
    return pieces
