"""A typed view of a record's features, and what the OD API decoder expects of each key.

`tfrconv.example.decode` gives `{key: values}`; inspect and verify also need each feature's kind
(bytes, float or int), which an empty list no longer shows, and the decoder's expectation for
every key it can parse, including the optional ones a pipeline config switches on (masks,
keypoints, DensePose, ...). Decoding uses the protobuf classes of `tfrconv.proto`, never
TensorFlow.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import keys as K

KINDS = ("bytes", "float", "int")
TF_TYPE_NAMES = {"bytes": "bytes", "float": "float", "int": "int64"}


@dataclass(frozen=True)
class KeySpec:
    """What the OD API decoder expects of one feature key."""

    kind: str | tuple[str, ...]   # the parse type; a tuple when a config option picks one
    fixed: bool = False           # FixedLenFeature scalar (exactly one value) vs VarLen list
    always: bool = True           # parsed by the default decoder; else only when a config says
    per_object: bool = False      # one value (or a fixed number) per object
    switch: str = ""              # the input-reader option that makes the decoder read it


# object_detection/data_decoders/tf_example_decoder.py, TfExampleDecoder.__init__.
DECODER_KEYS: dict[str, KeySpec] = {
    K.ENCODED: KeySpec("bytes", fixed=True),
    K.FORMAT: KeySpec("bytes", fixed=True),
    K.FILENAME: KeySpec("bytes", fixed=True),
    K.KEY_SHA256: KeySpec("bytes", fixed=True),
    K.SOURCE_ID: KeySpec("bytes", fixed=True),
    K.HEIGHT: KeySpec("int", fixed=True),
    K.WIDTH: KeySpec("int", fixed=True),
    K.CLASS_TEXT: KeySpec("bytes"),
    K.CLASS_LABEL: KeySpec("int"),
    K.CLASS_CONFIDENCE: KeySpec("float"),
    K.NEG_CATEGORY_IDS: KeySpec("int"),
    K.NOT_EXHAUSTIVE_CATEGORY_IDS: KeySpec("int"),
    K.OBJECT_BBOX_XMIN: KeySpec("float", per_object=True),
    K.OBJECT_BBOX_XMAX: KeySpec("float", per_object=True),
    K.OBJECT_BBOX_YMIN: KeySpec("float", per_object=True),
    K.OBJECT_BBOX_YMAX: KeySpec("float", per_object=True),
    K.OBJECT_CLASS_LABEL: KeySpec("int", per_object=True),
    K.OBJECT_CLASS_TEXT: KeySpec("bytes", per_object=True),
    K.OBJECT_AREA: KeySpec("float", per_object=True),
    K.OBJECT_IS_CROWD: KeySpec("int", per_object=True),
    K.OBJECT_DIFFICULT: KeySpec("int", per_object=True),
    K.OBJECT_GROUP_OF: KeySpec("int", per_object=True),
    K.OBJECT_WEIGHT: KeySpec("float", per_object=True),
    # Optional: read only when the pipeline config asks for them.
    K.OBJECT_MASK: KeySpec(("float", "bytes"), always=False,
                           switch="load_instance_masks"),
    K.OBJECT_MASK_WEIGHT: KeySpec("float", always=False, per_object=True,
                                  switch="load_instance_masks"),
    K.OBJECT_KEYPOINT_X: KeySpec("float", always=False, switch="num_keypoints"),
    K.OBJECT_KEYPOINT_Y: KeySpec("float", always=False, switch="num_keypoints"),
    K.OBJECT_KEYPOINT_VISIBILITY: KeySpec("int", always=False, switch="num_keypoints"),
    K.OBJECT_KEYPOINT_Z: KeySpec("float", always=False,
                                 switch="load_keypoint_depth_features"),
    K.OBJECT_KEYPOINT_Z_WEIGHTS: KeySpec("float", always=False,
                                         switch="load_keypoint_depth_features"),
    K.OBJECT_DENSEPOSE_NUM: KeySpec("int", always=False, per_object=True,
                                    switch="load_dense_pose"),
    K.OBJECT_DENSEPOSE_PART_INDEX: KeySpec("int", always=False, switch="load_dense_pose"),
    K.OBJECT_DENSEPOSE_X: KeySpec("float", always=False, switch="load_dense_pose"),
    K.OBJECT_DENSEPOSE_Y: KeySpec("float", always=False, switch="load_dense_pose"),
    K.OBJECT_DENSEPOSE_U: KeySpec("float", always=False, switch="load_dense_pose"),
    K.OBJECT_DENSEPOSE_V: KeySpec("float", always=False, switch="load_dense_pose"),
    K.OBJECT_TRACK_LABEL: KeySpec("int", always=False, per_object=True,
                                  switch="load_track_id"),
    K.OBJECT_CLASS_MULTICLASS_SCORES: KeySpec("float", always=False,
                                              switch="load_multiclass_scores"),
    K.CONTEXT_FEATURES: KeySpec("float", always=False, switch="load_context_features"),
    K.CONTEXT_FEATURE_LENGTH: KeySpec("int", fixed=True, always=False,
                                      switch="load_context_features"),
    K.ADDITIONAL_CHANNELS_ENCODED: KeySpec("bytes", always=False,
                                           switch="num_additional_channels"),
}

# Per-object fields the decoder does not read but converters write and evaluators or tools use
# (inspect lists their presence; verify checks their lengths).
OTHER_OBJECT_KEYS: dict[str, str] = {
    K.OBJECT_TRUNCATED: "int",     # KITTI writes a float fraction
    K.OBJECT_OCCLUDED: "int",
    K.OBJECT_VIEW: "bytes",
    K.OBJECT_DEPICTION: "int",
    K.OBJECT_INSIDE: "int",
    K.OBJECT_ALPHA: "float",
}

# The optional fields inspect reports the presence of, in display order.
OPTIONAL_FIELDS = (
    K.KEY_SHA256, K.SOURCE_ID, K.FILENAME, K.FORMAT,
    K.HEIGHT, K.WIDTH,
    K.OBJECT_CLASS_TEXT, K.OBJECT_CLASS_LABEL,
    K.OBJECT_DIFFICULT, K.OBJECT_TRUNCATED, K.OBJECT_OCCLUDED,
    K.OBJECT_VIEW, K.OBJECT_IS_CROWD, K.OBJECT_GROUP_OF,
    K.OBJECT_DEPICTION, K.OBJECT_AREA, K.OBJECT_WEIGHT,
    K.OBJECT_MASK, K.OBJECT_KEYPOINT_X, K.OBJECT_DENSEPOSE_NUM,
    K.OBJECT_TRACK_LABEL, K.CLASS_TEXT, K.CLASS_LABEL,
    K.CLASS_CONFIDENCE, K.NEG_CATEGORY_IDS, K.NOT_EXHAUSTIVE_CATEGORY_IDS,
)


def expected_kinds(key: str) -> tuple[str, ...] | None:
    """The kinds a key may have for the decoder (None: the decoder never reads it)."""
    spec = DECODER_KEYS.get(key)
    if spec is None:
        return None
    return spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)


_EXAMPLE = None
# Feature's oneof fields by name → kind (ListFields gives the one set, if any, in one call).
_KIND_OF_FIELD = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int"}
# Feature's oneof fields by their tag byte (field number << 3 | length-delimited).
_KIND_OF_TAG = {0x0A: "bytes", 0x12: "float", 0x1A: "int"}


def decode_typed(payload: bytes) -> dict[str, tuple[str | None, list]]:
    """A serialized `tf.train.Example` as {key: (kind, values)}; kind is None for a feature with
    no list set. Raises `ValueError` when the bytes are not an Example."""
    try:
        fast = decode_canonical(payload)
    except (IndexError, ValueError):            # out of bounds or not UTF-8: protobuf decides
        fast = None
    return fast if fast is not None else decode_by_protobuf(payload)


def decode_canonical(payload: bytes) -> dict[str, tuple[str | None, list]] | None:
    """`decode_typed` in plain Python for an Example laid out as every writer lays it out
    (tfrconv, TensorFlow, protobuf): one Features field, map entries of key then value, one
    list per Feature, numbers packed. None for any other layout (unknown or repeated fields,
    unpacked numbers, a key twice...): protobuf's parser then decides. Lengths of one byte (all
    but the image's) are read inline, a call per varint costing a third of the time: 30 µs a
    record against protobuf's 48 µs (building the message and reading its fields back)."""
    size = len(payload)
    if not size or payload[0] != 0x0A:
        return None
    length, pos = _varint(payload, 1)
    if pos + length != size:
        return None
    out: dict[str, tuple[str | None, list]] = {}
    while pos < size:
        if payload[pos] != 0x0A:                # Features.feature, a map entry
            return None
        length = payload[pos + 1]
        pos += 2
        if length >= 0x80:
            length, pos = _varint(payload, pos - 1)
        entry_end = pos + length
        if entry_end > size or payload[pos] != 0x0A:
            return None
        length = payload[pos + 1]
        pos += 2
        if length >= 0x80:
            length, pos = _varint(payload, pos - 1)
        key = payload[pos:pos + length].decode("utf-8")
        pos += length
        if key in out or pos > entry_end:
            return None
        if pos == entry_end:                    # an entry without its value: an empty Feature
            out[key] = (None, [])
            continue
        if payload[pos] != 0x12:
            return None
        length = payload[pos + 1]
        pos += 2
        if length >= 0x80:
            length, pos = _varint(payload, pos - 1)
        if pos + length != entry_end:
            return None
        if not length:
            out[key] = (None, [])
            continue
        kind = _KIND_OF_TAG.get(payload[pos])
        if kind is None:
            return None
        length = payload[pos + 1]
        pos += 2
        if length >= 0x80:
            length, pos = _varint(payload, pos - 1)
        if pos + length != entry_end:
            return None
        values = _bytes_values(payload, pos, entry_end) if kind == "bytes" else \
            _packed_values(payload, pos, entry_end, kind)
        if values is None:
            return None
        out[key] = (kind, values)
        pos = entry_end
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the unsigned varint at `pos` (ValueError past 64 bits)."""
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    value = byte & 0x7F
    shift = 7
    while True:
        pos += 1
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value >> 64:
                raise ValueError("varint past 64 bits")
            return value, pos + 1
        shift += 7


def _bytes_values(data: bytes, pos: int, end: int) -> list[bytes] | None:
    values = []
    while pos < end:
        if data[pos] != 0x0A:
            return None
        length = data[pos + 1]
        pos += 2
        if length >= 0x80:
            length, pos = _varint(data, pos - 1)
        if pos + length > end:
            return None
        values.append(data[pos:pos + length])
        pos += length
    return values


def _packed_values(data: bytes, pos: int, end: int, kind: str) -> list | None:
    """A FloatList's or Int64List's values: empty, or one packed field filling the list."""
    if pos == end:
        return []
    if data[pos] != 0x0A:
        return None
    length = data[pos + 1]
    pos += 2
    if length >= 0x80:
        length, pos = _varint(data, pos - 1)
    if pos + length != end:
        return None
    if kind == "float":
        if length % 4:
            return None
        return list(struct.unpack_from(f"<{length // 4}f", data, pos))
    chunk = data[pos:end]
    if chunk.isascii():                         # every value below 128: one byte each
        return list(chunk)
    values = []
    while pos < end:
        value, pos = _varint(data, pos)
        values.append(value - (1 << 64) if value >> 63 else value)    # int64's sign
    return values if pos == end else None


def decode_by_protobuf(payload: bytes) -> dict[str, tuple[str | None, list]]:
    """`decode_typed` by protobuf's own parser: any valid layout, and its errors."""
    global _EXAMPLE
    if _EXAMPLE is None:
        from .proto import example_class

        _EXAMPLE = example_class()
    from google.protobuf.message import DecodeError

    example = _EXAMPLE()
    try:
        example.ParseFromString(payload)
    except (DecodeError, RuntimeWarning) as exc:
        raise ValueError(f"not a tf.train.Example ({exc})") from None
    out: dict[str, tuple[str | None, list]] = {}
    kinds = _KIND_OF_FIELD
    for key, feature in example.features.feature.items():
        fields = feature.ListFields()           # [] or [(the oneof's field, its list)]
        if fields:
            field, value_list = fields[0]
            out[key] = (kinds[field.name], list(value_list.value))
        else:
            out[key] = (None, [])
    return out


def values(features: dict[str, tuple[str | None, list]], key: str) -> list:
    """The values of a key, [] when absent."""
    entry = features.get(key)
    return entry[1] if entry else []


def first(features: dict[str, tuple[str | None, list]], key: str, default=None):
    entry = features.get(key)
    return entry[1][0] if entry and entry[1] else default


def text(value) -> str:
    """Bytes as text for display (invalid UTF-8 shown with escapes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
