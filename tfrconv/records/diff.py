"""`records diff A B`: two record sets compared example by example.

Examples are matched by their image (``image/key/sha256``, else the sha256 of
``image/encoded``) or by source id. For every pair, each feature is compared exactly; a
difference in boxes or classes is described: boxes are paired greedily by IoU, and the largest
displacement of a paired box's edge is given in pixels (or in normalized units when the record
has no size), along with boxes added and removed and classes changed ('car→truck').

Memory: the first set is indexed without its image bytes (each image is kept only as its
sha256), so the cost is the annotations', not the images'.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .. import keys as K
from ..errors import UsageError
from .reading import Features, RecordSource

MATCH_CHOICES = ("sha256", "source-id")


@dataclass
class Change:
    """One example present in both sets whose features differ."""

    key: str
    source_id: str
    features: list[str]                      # the keys that differ
    boxes_moved: float | None = None         # largest edge displacement of a paired box
    moved_unit: str = "px"
    boxes_added: int = 0
    boxes_removed: int = 0
    classes: dict[str, int] = field(default_factory=dict)   # 'car→truck' -> objects

    def describe(self) -> str:
        parts = [f"features {', '.join(self.features)}"]
        if self.boxes_moved:
            parts.append(f"boxes moved by up to {self.boxes_moved:.4g} {self.moved_unit}")
        if self.boxes_added:
            parts.append(f"{self.boxes_added} boxes added")
        if self.boxes_removed:
            parts.append(f"{self.boxes_removed} boxes removed")
        if self.classes:
            parts.append("classes " + ", ".join(
                f"{change} ×{n}" for change, n in sorted(self.classes.items())))
        return "; ".join(parts)


@dataclass
class RecordsDiff:
    """What `diff_records` found: counts, and the added, removed and changed examples."""

    match: str
    examples_a: int = 0
    examples_b: int = 0
    unchanged: int = 0
    added: list[dict[str, str]] = field(default_factory=list)     # {key, source_id}
    removed: list[dict[str, str]] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    duplicates_a: int = 0
    duplicates_b: int = 0

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "match": self.match,
            "summary": {"examples_a": self.examples_a, "examples_b": self.examples_b,
                        "unchanged": self.unchanged, "changed": len(self.changed),
                        "added": len(self.added), "removed": len(self.removed),
                        "duplicate_keys_a": self.duplicates_a,
                        "duplicate_keys_b": self.duplicates_b},
            "added": self.added,
            "removed": self.removed,
            "changed": [{"key": c.key, "source_id": c.source_id, "features": c.features,
                         "boxes_moved": c.boxes_moved, "moved_unit": c.moved_unit,
                         "boxes_added": c.boxes_added, "boxes_removed": c.boxes_removed,
                         "classes": c.classes}
                        for c in self.changed],
        }

    def lines(self) -> list[str]:
        out = [f"removed  {_name(e['source_id'], e['key'])}" for e in self.removed]
        out += [f"added    {_name(e['source_id'], e['key'])}" for e in self.added]
        out += [f"changed  {_name(c.source_id, c.key)}: {c.describe()}" for c in self.changed]
        verdict = "equal" if self.equal else "different"
        out.append(f"{verdict}: A has {self.examples_a} examples, B {self.examples_b}; "
                   f"{self.unchanged} unchanged, {len(self.changed)} changed, "
                   f"{len(self.added)} added, {len(self.removed)} removed (matched by "
                   f"{self.match})")
        return out


def _name(source_id: str, key: str) -> str:
    """An example as shown: its source id, with the image hash it was matched by."""
    if source_id == key:
        return source_id
    return f"{source_id or '(no source id)'} [sha256 {key[:12]}]"


def source_id(features: Features) -> str:
    found = features.get(K.SOURCE_ID, (None, []))[1]
    return found[0].decode("utf-8", errors="replace") if found else ""


def example_key(features: Features, match: str) -> str:
    if match == "source-id":
        return source_id(features)
    found = features.get(K.KEY_SHA256, (None, []))[1]
    if found and found[0]:
        return found[0].decode("ascii", errors="replace")
    return image_digest(features)


def image_digest(features: Features) -> str:
    image = features.get(K.ENCODED, (None, []))[1]
    return hashlib.sha256(image[0] if image else b"").hexdigest()


def without_image(features: Features) -> Features:
    """The features with the image replaced by its sha256 (what the index keeps)."""
    slim = dict(features)
    if K.ENCODED in slim:
        slim[K.ENCODED] = ("bytes", [image_digest(features).encode("ascii")])
    return slim


def diff_records(a: Any, b: Any, *, match: str = "sha256", on_error: str = "error"
                 ) -> RecordsDiff:
    """Compare the record sets `a` and `b` (paths, globs, folders, or lists of them); a
    `RecordsDiff` (`.equal`, `.as_dict()`, `.lines()`). Examples are matched by image sha256
    (`match="sha256"`) or by source id (`match="source-id"`); a key repeated within a set is
    matched in order of appearance."""
    if match not in MATCH_CHOICES:
        raise UsageError(f"--match must be one of {', '.join(MATCH_CHOICES)}, got {match!r}")
    result = RecordsDiff(match)
    index: dict[str, list[Features]] = defaultdict(list)
    source_a = RecordSource(a, on_error=on_error)
    for _record, features in source_a.features():
        result.examples_a += 1
        index[example_key(features, match)].append(without_image(features))
    result.duplicates_a = sum(len(v) - 1 for v in index.values())
    seen_b: Counter = Counter()
    source_b = RecordSource(b, on_error=on_error)
    for _record, features in source_b.features():
        result.examples_b += 1
        key = example_key(features, match)
        seen_b[key] += 1
        candidates = index.get(key)
        if not candidates:
            result.added.append({"key": key, "source_id": source_id(features)})
            continue
        old = candidates.pop(0)
        change = compare(key, old, without_image(features))
        if change is None:
            result.unchanged += 1
        else:
            result.changed.append(change)
    result.duplicates_b = sum(n - 1 for n in seen_b.values())
    result.removed = [{"key": key, "source_id": source_id(features)}
                      for key, rest in index.items() for features in rest]
    source_a.report_skipped()
    source_b.report_skipped()
    return result


def compare(key: str, a: Features, b: Features) -> Change | None:
    """The change from `a` to `b`, or None when every feature is equal."""
    differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if not differing:
        return None
    change = Change(key, source_id(b), differing)
    box_keys = (*K.BOX_KEYS, K.OBJECT_CLASS_TEXT, K.OBJECT_CLASS_LABEL)
    if any(k in differing for k in box_keys):
        describe_boxes(change, a, b)
    return change


def _boxes(features: Features) -> list[tuple[float, ...]]:
    columns = [features.get(k, (None, []))[1] for k in K.BOX_KEYS]
    return list(zip(*columns))


def _classes(features: Features, count: int) -> list[str]:
    texts = features.get(K.OBJECT_CLASS_TEXT, (None, []))[1]
    if len(texts) == count:
        return [t.decode("utf-8", errors="replace") for t in texts]
    labels = features.get(K.OBJECT_CLASS_LABEL, (None, []))[1]
    return [str(v) for v in labels] if len(labels) == count else [""] * count


def iou(p: tuple[float, ...], q: tuple[float, ...]) -> float:
    """Intersection over union of two (xmin, ymin, xmax, ymax) boxes."""
    width = min(p[2], q[2]) - max(p[0], q[0])
    height = min(p[3], q[3]) - max(p[1], q[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
    return inter / union if union > 0 else 0.0


def pair_boxes(a: list, b: list) -> list[tuple[int, int]]:
    """Pairs (i, j) of overlapping boxes, greedily by descending IoU, each box used once."""
    scored = sorted(((iou(p, q), i, j) for i, p in enumerate(a) for j, q in enumerate(b)),
                    key=lambda t: (-t[0], t[1], t[2]))
    used_a, used_b, pairs = set(), set(), []
    for score, i, j in scored:
        if score <= 0:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def describe_boxes(change: Change, a: Features, b: Features) -> None:
    boxes_a, boxes_b = _boxes(a), _boxes(b)
    classes_a, classes_b = _classes(a, len(boxes_a)), _classes(b, len(boxes_b))
    width = (b.get(K.WIDTH, (None, [None]))[1] or [None])[0]
    height = (b.get(K.HEIGHT, (None, [None]))[1] or [None])[0]
    scale = (width, height, width, height) if width and height else None
    change.moved_unit = "px" if scale else "(normalized)"
    pairs = pair_boxes(boxes_a, boxes_b)
    moved = 0.0
    classes: Counter = Counter()
    for i, j in pairs:
        for n, (p, q) in enumerate(zip(boxes_a[i], boxes_b[j])):
            moved = max(moved, abs(p - q) * (scale[n] if scale else 1))
        if classes_a[i] != classes_b[j]:
            classes[f"{classes_a[i]}→{classes_b[j]}"] += 1
    change.boxes_moved = round(moved, 6) if moved else None
    change.boxes_removed = len(boxes_a) - len(pairs)
    change.boxes_added = len(boxes_b) - len(pairs)
    change.classes = dict(classes)
