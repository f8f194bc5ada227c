"""A typed view of a record's features, and what the OD API decoder expects of each key.

`tfrconv.example.decode` gives `{key: values}`; inspect and verify also need each feature's kind
(bytes, float or int), which an empty list no longer shows, and the decoder's expectation for
every key it can parse, including the optional ones a pipeline config switches on (masks,
keypoints, DensePose, ...). Decoding uses the protobuf classes of `tfrconv.proto`, never
TensorFlow.
"""

from __future__ import annotations

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


def decode_typed(payload: bytes) -> dict[str, tuple[str | None, list]]:
    """A serialized `tf.train.Example` as {key: (kind, values)}; kind is None for a feature with
    no list set. Raises `ValueError` when the bytes are not an Example."""
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
