"""A typed view of a record's features, and the catalogue of keys the OD API knows.

`tfrconv.example.decode` gives `{key: values}`; inspect and verify also need each feature's kind
(bytes, float or int), which an empty list no longer shows, and the decoder's expectation for
every key it can parse, including the optional ones a pipeline config switches on (masks,
keypoints, DensePose, ...). Decoding uses the protobuf classes of `tfrconv.proto`, never
TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "image/encoded": KeySpec("bytes", fixed=True),
    "image/format": KeySpec("bytes", fixed=True),
    "image/filename": KeySpec("bytes", fixed=True),
    "image/key/sha256": KeySpec("bytes", fixed=True),
    "image/source_id": KeySpec("bytes", fixed=True),
    "image/height": KeySpec("int", fixed=True),
    "image/width": KeySpec("int", fixed=True),
    "image/class/text": KeySpec("bytes"),
    "image/class/label": KeySpec("int"),
    "image/class/confidence": KeySpec("float"),
    "image/neg_category_ids": KeySpec("int"),
    "image/not_exhaustive_category_ids": KeySpec("int"),
    "image/object/bbox/xmin": KeySpec("float", per_object=True),
    "image/object/bbox/xmax": KeySpec("float", per_object=True),
    "image/object/bbox/ymin": KeySpec("float", per_object=True),
    "image/object/bbox/ymax": KeySpec("float", per_object=True),
    "image/object/class/label": KeySpec("int", per_object=True),
    "image/object/class/text": KeySpec("bytes", per_object=True),
    "image/object/area": KeySpec("float", per_object=True),
    "image/object/is_crowd": KeySpec("int", per_object=True),
    "image/object/difficult": KeySpec("int", per_object=True),
    "image/object/group_of": KeySpec("int", per_object=True),
    "image/object/weight": KeySpec("float", per_object=True),
    # Optional: read only when the pipeline config asks for them.
    "image/object/mask": KeySpec(("float", "bytes"), always=False,
                                 switch="load_instance_masks"),
    "image/object/mask/weight": KeySpec("float", always=False, per_object=True,
                                        switch="load_instance_masks"),
    "image/object/keypoint/x": KeySpec("float", always=False, switch="num_keypoints"),
    "image/object/keypoint/y": KeySpec("float", always=False, switch="num_keypoints"),
    "image/object/keypoint/visibility": KeySpec("int", always=False, switch="num_keypoints"),
    "image/object/keypoint/z": KeySpec("float", always=False,
                                       switch="load_keypoint_depth_features"),
    "image/object/keypoint/z/weights": KeySpec("float", always=False,
                                               switch="load_keypoint_depth_features"),
    "image/object/densepose/num": KeySpec("int", always=False, per_object=True,
                                          switch="load_dense_pose"),
    "image/object/densepose/part_index": KeySpec("int", always=False, switch="load_dense_pose"),
    "image/object/densepose/x": KeySpec("float", always=False, switch="load_dense_pose"),
    "image/object/densepose/y": KeySpec("float", always=False, switch="load_dense_pose"),
    "image/object/densepose/u": KeySpec("float", always=False, switch="load_dense_pose"),
    "image/object/densepose/v": KeySpec("float", always=False, switch="load_dense_pose"),
    "image/object/track/label": KeySpec("int", always=False, per_object=True,
                                        switch="load_track_id"),
    "image/object/class/multiclass_scores": KeySpec("float", always=False,
                                                    switch="load_multiclass_scores"),
    "image/context_features": KeySpec("float", always=False, switch="load_context_features"),
    "image/context_feature_length": KeySpec("int", fixed=True, always=False,
                                            switch="load_context_features"),
    "image/additional_channels/encoded": KeySpec("bytes", always=False,
                                                 switch="num_additional_channels"),
}

# Per-object fields the decoder does not read but converters write and evaluators or tools use
# (inspect lists their presence; verify checks their lengths).
OTHER_OBJECT_KEYS: dict[str, str] = {
    "image/object/truncated": "int",     # KITTI writes a float fraction
    "image/object/occluded": "int",
    "image/object/view": "bytes",
    "image/object/depiction": "int",
    "image/object/inside": "int",
    "image/object/alpha": "float",
}

BOX_KEYS = ("image/object/bbox/xmin", "image/object/bbox/ymin",
            "image/object/bbox/xmax", "image/object/bbox/ymax")

# The optional fields inspect reports the presence of, in display order.
OPTIONAL_FIELDS = (
    "image/key/sha256", "image/source_id", "image/filename", "image/format",
    "image/height", "image/width",
    "image/object/class/text", "image/object/class/label",
    "image/object/difficult", "image/object/truncated", "image/object/occluded",
    "image/object/view", "image/object/is_crowd", "image/object/group_of",
    "image/object/depiction", "image/object/area", "image/object/weight",
    "image/object/mask", "image/object/keypoint/x", "image/object/densepose/num",
    "image/object/track/label", "image/class/text", "image/class/label",
    "image/class/confidence", "image/neg_category_ids", "image/not_exhaustive_category_ids",
)


def expected_kinds(key: str) -> tuple[str, ...] | None:
    """The kinds a key may have for the decoder (None: the decoder never reads it)."""
    spec = DECODER_KEYS.get(key)
    if spec is None:
        return None
    return spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)


_EXAMPLE = None


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
    for key, feature in example.features.feature.items():
        which = feature.WhichOneof("kind")
        if which is None:
            out[key] = (None, [])
        else:
            kind = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int"}[which]
            out[key] = (kind, list(getattr(feature, which).value))
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
