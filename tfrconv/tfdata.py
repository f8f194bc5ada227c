"""`tfrconv.tf_dataset`: OD-API records as a `tf.data` pipeline, read the way the OD API's
`TfExampleDecoder` reads them, for Keras users outside the OD API.

This is the trainer's own input parsing (`tfrconv.trainer.data` takes `parse_example` and
`class_table` from here, through `tfrconv.api`): the decoder's default feature spec
(`DECODER_SPEC`), boxes as ``[ymin, xmin, ymax, xmax]`` normalized, and class ids either as
stored (``image/object/class/label``, the decoder without a label map) or, with a label map,
from ``image/object/class/text`` by name or display name (the larger id), falling back to the
stored ids when a record has no class text; an unknown class text gives -1, as in the decoder.

TensorFlow is imported only when a function here runs.
"""

from __future__ import annotations

import os
from typing import Any

from . import keys as K
from .errors import UsageError
from .example import DECODER_SPEC
from .labelmap import LabelMap
from .tfrecord import is_gzip, record_paths


def feature_spec() -> dict:
    """The decoder's default parse spec as `tf.io` features (scalars fixed-length, lists
    variable-length)."""
    import tensorflow as tf

    dtypes = {"bytes": tf.string, "int": tf.int64, "float": tf.float32}
    defaults = {"bytes": "", "int": 0, "float": 0.0}
    spec = {}
    for key, (kind, fixed) in DECODER_SPEC.items():
        if fixed:
            spec[key] = tf.io.FixedLenFeature((), dtypes[kind], default_value=defaults[kind])
        else:
            spec[key] = tf.io.VarLenFeature(dtypes[kind])
    return spec


def class_table(label_map: LabelMap):
    """A lookup from class text to label-map id with the OD API decoder's rules (-1 = unknown)."""
    import tensorflow as tf

    texts = sorted({item.name for item in label_map} |
                   {item.display_name for item in label_map if item.display_name})
    ids = [label_map.resolve(text) for text in texts]
    init = tf.lookup.KeyValueTensorInitializer(tf.constant(texts, tf.string),
                                               tf.constant(ids, tf.int64))
    return tf.lookup.StaticHashTable(init, default_value=-1)


def parse_example(serialized, table=None):
    """One record → image bytes, normalized yxyx boxes, class ids and the flags. With a
    `class_table`, ids come from the class text (the stored ids when there is none); without
    one, they are the stored ``image/object/class/label``."""
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, feature_spec())

    def dense(key, default=0):
        return tf.sparse.to_dense(parsed[key], default_value=default)

    labels = dense(K.OBJECT_CLASS_LABEL)
    if table is None:
        ids = labels
    else:
        texts = dense(K.OBJECT_CLASS_TEXT, "")
        ids = tf.cond(tf.size(texts) > 0, lambda: table.lookup(texts), lambda: labels)
    boxes = tf.stack([dense(K.OBJECT_BBOX_YMIN, 0.0), dense(K.OBJECT_BBOX_XMIN, 0.0),
                      dense(K.OBJECT_BBOX_YMAX, 0.0), dense(K.OBJECT_BBOX_XMAX, 0.0)],
                     axis=1)
    count = tf.shape(boxes)[0]

    def flag(key):
        values = dense(key)
        return tf.cond(tf.size(values) == count, lambda: values,
                       lambda: tf.zeros([count], tf.int64))

    return {
        "encoded": parsed[K.ENCODED],
        "source_id": parsed[K.SOURCE_ID],
        "filename": parsed[K.FILENAME],
        "boxes": boxes,
        "ids": tf.cast(ids, tf.int32),
        "difficult": flag(K.OBJECT_DIFFICULT),
        "is_crowd": flag(K.OBJECT_IS_CROWD),
    }


def tf_dataset(pattern: Any, *, label_map: Any = None, image_size: tuple[int, int] | None = None,
               shuffle: bool = False, seed: int = 0, num_parallel_reads: int = 1):
    """A `tf.data.Dataset` with one dict per example, in file order (unless `shuffle`):

    - ``image``: uint8 ``[height, width, 3]`` (JPEG or PNG decoded to 3 channels); with
      `image_size=(height, width)` float32 0..255 resized to that size (bilinear), so batches
      can be formed with `.batch()`; boxes need no change, being normalized;
    - ``boxes``: float32 ``[N, 4]``, ``[ymin, xmin, ymax, xmax]`` in 0..1;
    - ``classes``: int32 ``[N]`` label-map ids (see the module docstring; -1 = unknown text);
    - ``difficult``, ``is_crowd``: int64 ``[N]`` (0 where the record has none);
    - ``source_id``, ``filename``: string scalars.

    `pattern`: a record file, shard glob, folder of record files or a list of them (GZIP
    detected). `label_map`: a `LabelMap`, a file or a builtin name, to read classes from their
    text; None reads the stored ids. `num_parallel_reads` files are read at once (1 keeps the
    order). Use `.padded_batch()` to batch a variable number of boxes.
    """
    import tensorflow as tf

    files = _files(pattern)
    compressions = {"GZIP" if is_gzip(path) else "" for path in files}
    if len(compressions) > 1:
        raise UsageError("the input files mix GZIP-compressed and plain records: "
                         + ", ".join(files[:4]))
    table = None
    if label_map is not None:
        from .labelmap_refs import load_label_map

        table = class_table(load_label_map(label_map))
    records = tf.data.TFRecordDataset(files, compression_type=compressions.pop(),
                                      num_parallel_reads=num_parallel_reads)
    if shuffle:
        records = records.shuffle(2048, seed=seed, reshuffle_each_iteration=True)

    def decode(serialized):
        example = parse_example(serialized, table)
        image = tf.io.decode_image(example["encoded"], channels=3, expand_animations=False)
        if image_size is not None:
            image = tf.image.resize(tf.cast(image, tf.float32), image_size)
        return {"image": image, "boxes": example["boxes"], "classes": example["ids"],
                "difficult": example["difficult"], "is_crowd": example["is_crowd"],
                "source_id": example["source_id"], "filename": example["filename"]}

    return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _files(pattern: Any) -> list[str]:
    entries = [pattern] if isinstance(pattern, (str, os.PathLike)) else list(pattern)
    files: list[str] = []
    for entry in entries:
        files += [path for path in record_paths(os.fspath(entry)) if path not in files]
    if not files:
        raise UsageError("tf_dataset: no record files given")
    return files
