"""Sample ⇄ `tf.train.Example`: which feature each part of a sample becomes, with which type.

Keys are named by `tfrconv.keys`; types follow `object_detection/core/standard_fields.py` and the
reference converters (see docs/architecture.md): normalized float32 boxes, int64 labels and flags,
bytes for strings.
Serialization is deterministic (sorted map keys), so the same sample always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import keys as K
from . import wire
from .features import DECODER_KEYS
from .sample import ImageLabel, Object, Sample

# Optional per-object fields: sample attribute → (feature key, kind, default for missing values).
OBJECT_FIELDS: dict[str, tuple[str, str, Any]] = {
    "difficult": (K.OBJECT_DIFFICULT, "int", 0),
    "truncated": (K.OBJECT_TRUNCATED, "int", 0),
    "occluded": (K.OBJECT_OCCLUDED, "int", 0),
    "pose": (K.OBJECT_VIEW, "bytes", ""),
    "group_of": (K.OBJECT_GROUP_OF, "int", 0),
    "is_crowd": (K.OBJECT_IS_CROWD, "int", 0),
    "depiction": (K.OBJECT_DEPICTION, "int", 0),
    "inside": (K.OBJECT_INSIDE, "int", 0),
    "area": (K.OBJECT_AREA, "float", 0.0),
    "weight": (K.OBJECT_WEIGHT, "float", 1.0),
}

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
        K.HEIGHT: ("int", [image.height]),
        K.WIDTH: ("int", [image.width]),
        K.FILENAME: ("bytes", [_bytes(sample.filename)]),
        K.SOURCE_ID: ("bytes", [_bytes(sample.source_id)]),
        K.KEY_SHA256: ("bytes", [image.sha256.encode("ascii")]),
        K.ENCODED: ("bytes", [image.data]),
        K.FORMAT: ("bytes", [image.format.encode("ascii")]),
        K.OBJECT_CLASS_TEXT: ("bytes", [_bytes(o.label) for o in objects]),
        K.OBJECT_CLASS_LABEL: ("int", list(labels)),
    }
    columns = zip(*boxes) if boxes else ((), (), (), ())
    for key, column in zip(K.BOX_KEYS, columns):
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
        features[K.OBJECT_MASK] = _mask_feature(sample, masks, image)

    extra_keys = sorted({key for o in objects for key in o.extra})
    for key in extra_keys:
        flat: list = []
        for o in objects:
            value = o.extra.get(key)
            if value is None:
                raise ValueError(f"extra feature {key!r} is set on some objects but not all")
            flat.extend(value if isinstance(value, list) else [value])
        kind = _kind_of(flat)               # of the values, not of the objects' lists
        features[key] = (kind, [_typed(kind, v) for v in flat])

    if sample.image_labels:
        features[K.CLASS_TEXT] = ("bytes", [_bytes(lb.label) for lb in sample.image_labels])
        features[K.CLASS_LABEL] = ("int", list(image_label_ids))
        features[K.CLASS_CONFIDENCE] = (
            "float", [float(lb.confidence) for lb in sample.image_labels])
        # Verified-absent classes (confidence 0) also go to the key the decoder reads as
        # verified negatives (groundtruth_verified_neg_classes).
        negatives = [label_id for lb, label_id in zip(sample.image_labels, image_label_ids)
                     if lb.confidence == 0]
        if negatives:
            features[K.NEG_CATEGORY_IDS] = ("int", negatives)

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

    count = len(features.get(K.OBJECT_BBOX_XMIN, []))
    objects = []
    for i in range(count):
        obj = Object(
            label=text(features.get(K.OBJECT_CLASS_TEXT, [b""] * count)[i]),
            xmin=features[K.OBJECT_BBOX_XMIN][i], ymin=features[K.OBJECT_BBOX_YMIN][i],
            xmax=features[K.OBJECT_BBOX_XMAX][i], ymax=features[K.OBJECT_BBOX_YMAX][i])
        for attr, (key, kind, _default) in OBJECT_FIELDS.items():
            if key in features:
                value = features[key][i]
                setattr(obj, attr, text(value) if kind == "bytes" else value)
        masks = features.get(K.OBJECT_MASK)
        if masks and isinstance(masks[0], bytes):
            obj.mask = masks[i]
        objects.append(obj)
    labels = [ImageLabel(text(t), c) for t, c in zip(
        features.get(K.CLASS_TEXT, []),
        features.get(K.CLASS_CONFIDENCE, [1.0] * len(features.get(K.CLASS_TEXT, []))))]
    return Sample(source_id=text(one(K.SOURCE_ID, b"")),
                  filename=text(one(K.FILENAME, b"")),
                  image_bytes=one(K.ENCODED), width=one(K.WIDTH),
                  height=one(K.HEIGHT), objects=objects, image_labels=labels,
                  normalized=True)
