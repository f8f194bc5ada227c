"""Changing one example's features: new class names and ids, fewer objects; and writing them
back in the wire format with every other feature (the image bytes above all) untouched.
"""

from __future__ import annotations

from .. import keys as K
from .. import wire
from .reading import OBJECT_PREFIX, Features


def object_count(features: Features) -> int:
    return len(features.get(K.OBJECT_BBOX_XMIN, (None, []))[1])


def with_classes(features: Features, names: list[str], ids: list[int]) -> Features:
    """The features with each object's class set: the label always, the text where the record
    has texts (a record without them keeps none)."""
    changed = dict(features)
    changed[K.OBJECT_CLASS_LABEL] = ("int", list(ids))
    if K.OBJECT_CLASS_TEXT in features:
        changed[K.OBJECT_CLASS_TEXT] = ("bytes", [n.encode("utf-8") for n in names])
    return changed


def keep_objects(features: Features, keep: list[bool]) -> Features:
    """The features with only the objects marked True. Every per-object feature loses the
    dropped objects' values: one value per object, or a fixed number each (keypoints,
    numerical masks). ValueError for a per-object feature of uneven length (DensePose)."""
    count = len(keep)
    if all(keep):
        return features
    changed = dict(features)
    for key, (kind, values) in features.items():
        if not key.startswith(OBJECT_PREFIX) or not values:
            continue
        if len(values) % count:
            raise ValueError(f"{key} has {len(values)} values for {count} objects: objects "
                             "cannot be removed from this record")
        step = len(values) // count
        changed[key] = (kind, [v for i, flag in enumerate(keep) if flag
                               for v in values[i * step:(i + 1) * step]])
    return changed


def encode(features: Features) -> list[bytes]:
    """The Example as payload pieces (image bytes not copied). A feature with no list set
    becomes an empty bytes list, the one change re-encoding makes."""
    return wire.encode({key: (kind or "bytes", values)
                        for key, (kind, values) in features.items()})
