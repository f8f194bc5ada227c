"""Sample ⇄ `tf.train.Example`: the one place that knows the OD API's feature keys and types.

Keys and types follow `object_detection/core/standard_fields.py` and the reference converters
(see docs/architecture.md): normalized float32 boxes, int64 labels and flags, bytes for strings.
Serialization is deterministic (sorted map keys), so the same sample always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import wire
from .features import DECODER_KEYS
from .sample import ImageLabel, Object, Sample

# Optional per-object fields: sample attribute → (feature key, kind, default for missing values).
OBJECT_FIELDS: dict[str, tuple[str, str, Any]] = {
    "difficult": ("image/object/difficult", "int", 0),
    "truncated": ("image/object/truncated", "int", 0),
    "occluded": ("image/object/occluded", "int", 0),
    "pose": ("image/object/view", "bytes", ""),
    "group_of": ("image/object/group_of", "int", 0),
    "is_crowd": ("image/object/is_crowd", "int", 0),
    "depiction": ("image/object/depiction", "int", 0),
    "inside": ("image/object/inside", "int", 0),
    "area": ("image/object/area", "float", 0.0),
    "weight": ("image/object/weight", "float", 1.0),
}
BOX_KEYS = ("image/object/bbox/xmin", "image/object/bbox/ymin",
            "image/object/bbox/xmax", "image/object/bbox/ymax")
MASK_KEY = "image/object/mask"

# The OD API decoder's default parse spec, key → (kind, fixed-length scalar), derived from the
# one catalogue of decoder keys in features.py (optional keys need an input-reader switch).
DECODER_SPEC: dict[str, tuple[str, bool]] = {
    key: (spec.kind, spec.fixed) for key, spec in DECODER_KEYS.items() if spec.always}


@dataclass(frozen=True)
class EncodedImage:
    """The image as it goes into the record."""

    data: bytes
    format: str           # jpeg | png
    width: int            # written as image/width
    height: int           # written as image/height
    sha256: str


def build_features(sample: Sample, image: EncodedImage, boxes: Sequence[tuple[float, ...]],
                   labels: Sequence[int], *, object_fields: Iterable[str] = (),
                   image_label_ids: Sequence[int] = ()) -> dict[str, tuple[str, list]]:
    """Feature key → (kind, values) for one checked sample.

    `boxes` are normalized (xmin, ymin, xmax, ymax) per object and `labels` the label-map ids,
    both in the order of `sample.objects`.
    """
    objects = sample.objects
    features: dict[str, tuple[str, list]] = {
        "image/height": ("int", [image.height]),
        "image/width": ("int", [image.width]),
        "image/filename": ("bytes", [_bytes(sample.filename)]),
        "image/source_id": ("bytes", [_bytes(sample.source_id)]),
        "image/key/sha256": ("bytes", [image.sha256.encode("ascii")]),
        "image/encoded": ("bytes", [image.data]),
        "image/format": ("bytes", [image.format.encode("ascii")]),
        "image/object/class/text": ("bytes", [_bytes(o.label) for o in objects]),
        "image/object/class/label": ("int", list(labels)),
    }
    columns = zip(*boxes) if boxes else ((), (), (), ())
    for key, column in zip(BOX_KEYS, columns):
        features[key] = ("float", list(column))

    # The optional fields set on some object, plus those the format always writes.
    for attr, (key, kind, default) in OBJECT_FIELDS.items():
        values = [getattr(o, attr) for o in objects]
        if attr not in object_fields and values.count(None) == len(values):
            continue
        if attr == "truncated" and any(isinstance(v, float) for v in values):
            kind = "float"          # KITTI's fraction; the reference writes a float list too
        convert = _CONVERT[kind]
        features[key] = (kind, [convert(default if v is None else v) for v in values])

    masks = [o.mask for o in objects]
    if any(m is not None for m in masks):
        features[MASK_KEY] = _mask_feature(sample, masks, image)

    extra_keys = sorted({key for o in objects for key in o.extra})
    for key in extra_keys:
        values = [o.extra.get(key) for o in objects]
        kind = _kind_of([v for v in values if v is not None])
        flat: list = []
        for value in values:
            if value is None:
                raise ValueError(f"extra feature {key!r} is set on some objects but not all")
            flat.extend(value if isinstance(value, list) else [value])
        features[key] = (kind, [_typed(kind, v) for v in flat])

    if sample.image_labels:
        features["image/class/text"] = ("bytes", [_bytes(lb.label) for lb in sample.image_labels])
        features["image/class/label"] = ("int", list(image_label_ids))
        features["image/class/confidence"] = (
            "float", [float(lb.confidence) for lb in sample.image_labels])
        # Verified-absent classes (confidence 0) also go to the key the decoder reads as
        # verified negatives (groundtruth_verified_neg_classes).
        negatives = [label_id for lb, label_id in zip(sample.image_labels, image_label_ids)
                     if lb.confidence == 0]
        if negatives:
            features["image/neg_category_ids"] = ("int", negatives)

    for key, value in sample.extra.items():
        values = value if isinstance(value, list) else [value]
        kind = _kind_of(values)
        features[key] = (kind, [_typed(kind, v) for v in values])
    return features


def _mask_feature(sample: Sample, masks: list, image: EncodedImage) -> tuple[str, list]:
    import numpy as np

    from .images import encode_png_mask

    if any(m is None for m in masks):
        raise ValueError("some objects have masks and others do not")
    if sample.mask_type == "numerical":
        flat = np.concatenate([np.asarray(m, dtype=np.float32).reshape(-1) for m in masks])
        return "float", flat.tolist()
    return "bytes", [m if isinstance(m, bytes) else encode_png_mask(m) for m in masks]


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _kind_of(values: list) -> str:
    if values and all(isinstance(v, (bool, int)) for v in values):
        return "int"
    if values and all(isinstance(v, (bool, int, float)) for v in values):
        return "float"
    return "bytes"


_CONVERT = {"int": int, "float": float, "bytes": _bytes}


def _typed(kind: str, value: Any) -> Any:
    return _CONVERT[kind](value)


# -- protobuf ------------------------------------------------------------------------------
_EXAMPLE_CLASS = None


def _example_class():
    global _EXAMPLE_CLASS
    if _EXAMPLE_CLASS is None:
        from .proto import example_class
        _EXAMPLE_CLASS = example_class()
    return _EXAMPLE_CLASS


def serialize(features: dict[str, tuple[str, list]]) -> bytes:
    """A serialized tf.train.Example; deterministic, byte-identical to TensorFlow's."""
    return b"".join(encode(features))


def encode(features: dict[str, tuple[str, list]]) -> list[bytes]:
    """The serialized Example in pieces, large values (the image) not copied: see wire.py."""
    return wire.encode(features)


def decode(payload: bytes) -> dict[str, list]:
    """A serialized Example as {key: list of int | float | bytes}, without TensorFlow."""
    example = _example_class()()
    example.ParseFromString(payload)
    out: dict[str, list] = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[key] = list(getattr(feature, kind).value) if kind else []
    return out


def iter_examples(paths: str | Iterable[str]) -> Iterator[dict[str, list]]:
    from .tfrecord import read_records

    for payload in read_records(paths):
        yield decode(payload)


def to_sample(features: dict[str, list]) -> Sample:
    """Rebuild a `Sample` (normalized boxes, image bytes inline) from decoded features."""
    def one(key: str, default: Any = None) -> Any:
        values = features.get(key)
        return values[0] if values else default

    def text(value: bytes) -> str:
        return value.decode("utf-8")

    count = len(features.get("image/object/bbox/xmin", []))
    objects = []
    for i in range(count):
        obj = Object(
            label=text(features.get("image/object/class/text", [b""] * count)[i]),
            xmin=features["image/object/bbox/xmin"][i], ymin=features["image/object/bbox/ymin"][i],
            xmax=features["image/object/bbox/xmax"][i], ymax=features["image/object/bbox/ymax"][i])
        for attr, (key, kind, _default) in OBJECT_FIELDS.items():
            if key in features:
                value = features[key][i]
                setattr(obj, attr, text(value) if kind == "bytes" else value)
        if MASK_KEY in features and features[MASK_KEY] and isinstance(features[MASK_KEY][0], bytes):
            obj.mask = features[MASK_KEY][i]
        objects.append(obj)
    labels = [ImageLabel(text(t), c) for t, c in zip(
        features.get("image/class/text", []),
        features.get("image/class/confidence", [1.0] * len(features.get("image/class/text", []))))]
    return Sample(source_id=text(one("image/source_id", b"")),
                  filename=text(one("image/filename", b"")),
                  image_bytes=one("image/encoded"), width=one("image/width"),
                  height=one("image/height"), objects=objects, image_labels=labels,
                  normalized=True)
