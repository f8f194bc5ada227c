"""Read records back the way the OD API does: TensorFlow, the decoder's feature spec, decoding.

`parse_records(path)` is what tests use to prove the OD API can read a file: every record parses
with `tf.io.parse_single_example` against the decoder's spec (wrong types fail there, as they do
in training), and every image decodes to 3 channels at the stated height and width.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfrconv.example import DECODER_SPEC  # noqa: E402


def tf_feature(kind: str, values) -> object:
    """A `tf.train.Feature` of kind "int", "float" or "bytes", as the OD API's dataset_util
    helpers build them: what the tests' reimplementations of the reference converters use."""
    import tensorflow as tf

    values = list(values)
    if kind == "int":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def int64_feature(values):
    return tf_feature("int", values)


def float_feature(values):
    return tf_feature("float", values)


def bytes_feature(values):
    return tf_feature("bytes", values)


def feature_spec(tf, extra: dict | None = None):
    types = {"bytes": tf.string, "int": tf.int64, "float": tf.float32}
    spec = {}
    for key, (kind, fixed) in DECODER_SPEC.items():
        if fixed:
            default = b"" if kind == "bytes" else (1 if kind == "int" else 0.0)
            spec[key] = tf.io.FixedLenFeature((), types[kind], default_value=default)
        else:
            spec[key] = tf.io.VarLenFeature(types[kind])
    for key, kind in (extra or {}).items():
        spec[key] = tf.io.VarLenFeature(types[kind])
    return spec


def parse_records(paths, extra: dict | None = None, decode_images: bool = True) -> list[dict]:
    """Parse every record of `paths` (a path, glob or list) with TensorFlow; numpy values."""
    import tensorflow as tf

    if isinstance(paths, (str, os.PathLike)):
        paths = sorted(tf.io.gfile.glob(os.fspath(paths)))
    spec = feature_spec(tf, extra)
    out = []
    for record in tf.data.TFRecordDataset(list(paths)):
        parsed = tf.io.parse_single_example(record, spec)
        values = {}
        for key, value in parsed.items():
            if isinstance(value, tf.SparseTensor):
                value = tf.sparse.to_dense(value)
            values[key] = value.numpy()
        if decode_images:
            image = tf.io.decode_image(parsed["image/encoded"], channels=3,
                                       expand_animations=False)
            values["decoded_shape"] = tuple(image.shape)
            assert image.shape[0] == values["image/height"], (image.shape, values["image/height"])
            assert image.shape[1] == values["image/width"], (image.shape, values["image/width"])
        out.append(values)
    return out


def tf_example(record: bytes):
    """The record as TensorFlow's own tf.train.Example."""
    import tensorflow as tf

    return tf.train.Example.FromString(record)
