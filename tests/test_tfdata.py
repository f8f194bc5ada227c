"""`tfrconv.tf_dataset`: the tf.data pipeline, checked against TensorFlow's own
`tf.io.parse_single_example` on hand-made records with known contents."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import recordmaker

import tfrconv

tf = pytest.importorskip("tensorflow")


def examples():
    first = recordmaker.good_features("one.jpg")                 # circle 1, square 2
    second = recordmaker.good_features("two.png", 20, 10,
                                       recordmaker.image_bytes(20, 10, (10, 200, 30), "PNG"))
    second.update({"image/object/bbox/xmin": ("float", [0.5]),
                   "image/object/bbox/ymin": ("float", [0.0]),
                   "image/object/bbox/xmax": ("float", [1.0]),
                   "image/object/bbox/ymax": ("float", [0.5]),
                   "image/object/class/text": ("bytes", [b"big square"]),
                   "image/object/class/label": ("int", [9]),
                   "image/object/difficult": ("int", [1]),
                   "image/object/is_crowd": ("int", [1])})
    third = recordmaker.good_features("three.jpg")
    del third["image/object/class/text"]                          # ids as stored: 1, 2
    return [first, second, third]


LABEL_MAP = ("item { id: 1 name: 'circle' }\n"
             "item { id: 4 name: 'square' display_name: 'big square' }\n")


def parsed_by_tensorflow(path):
    """Boxes, stored ids and decoded images read with tf.io.parse_single_example directly."""
    spec = {key: tf.io.VarLenFeature(tf.float32) for key in (
        "image/object/bbox/ymin", "image/object/bbox/xmin", "image/object/bbox/ymax",
        "image/object/bbox/xmax")}
    spec["image/object/class/label"] = tf.io.VarLenFeature(tf.int64)
    spec["image/encoded"] = tf.io.FixedLenFeature((), tf.string)
    out = []
    for serialized in tf.data.TFRecordDataset(path):
        parsed = tf.io.parse_single_example(serialized, spec)
        boxes = np.stack([tf.sparse.to_dense(parsed[k]).numpy() for k in (
            "image/object/bbox/ymin", "image/object/bbox/xmin", "image/object/bbox/ymax",
            "image/object/bbox/xmax")], axis=1)
        out.append({"boxes": boxes,
                    "labels": tf.sparse.to_dense(parsed["image/object/class/label"]).numpy(),
                    "image": tf.io.decode_image(parsed["image/encoded"], channels=3).numpy()})
    return out


def test_matches_tensorflows_parser(tmp_path):
    path = recordmaker.write(tmp_path / "d.record", examples())
    expected = parsed_by_tensorflow(path)
    got = list(tfrconv.tf_dataset(path).as_numpy_iterator())
    assert len(got) == 3
    for mine, theirs in zip(got, expected):
        np.testing.assert_array_equal(mine["boxes"], theirs["boxes"])
        np.testing.assert_array_equal(mine["image"], theirs["image"])
        assert mine["image"].dtype == np.uint8
        # Without a label map, the decoder reads the stored ids.
        np.testing.assert_array_equal(mine["classes"], theirs["labels"])
    assert [e["source_id"] for e in got] == [b"one.jpg", b"two.png", b"three.jpg"]
    assert got[1]["difficult"].tolist() == [1] and got[1]["is_crowd"].tolist() == [1]
    assert got[0]["is_crowd"].tolist() == [0, 0]          # absent: zeros, one per box


def test_classes_from_text_through_the_label_map(tmp_path):
    path = recordmaker.write(tmp_path / "d.record", examples())
    (tmp_path / "map.pbtxt").write_text(LABEL_MAP)
    got = list(tfrconv.tf_dataset(path, label_map=str(tmp_path / "map.pbtxt"))
               .as_numpy_iterator())
    # circle -> 1, square -> 4, display name 'big square' -> 4; no text: the stored ids.
    assert [e["classes"].tolist() for e in got] == [[1, 4], [4], [1, 2]]
    (tmp_path / "other.pbtxt").write_text("item { id: 1 name: 'circle' }\n")
    got = list(tfrconv.tf_dataset(path, label_map=str(tmp_path / "other.pbtxt"))
               .as_numpy_iterator())
    assert got[0]["classes"].tolist() == [1, -1]          # unknown text: -1, as the decoder


def test_resized_batches_and_gzip(tmp_path):
    plain = recordmaker.write(tmp_path / "d.record", examples())
    with open(plain, "rb") as source, gzip.open(tmp_path / "z.record", "wb") as target:
        target.write(source.read())
    dataset = tfrconv.tf_dataset(str(tmp_path / "z.record"), image_size=(16, 24))
    batch = next(iter(dataset.map(lambda e: e["image"]).batch(3)))
    assert batch.shape == (3, 16, 24, 3) and batch.dtype == tf.float32
    boxes = next(iter(dataset.map(lambda e: e["boxes"]).padded_batch(3)))
    assert boxes.shape == (3, 2, 4)


def test_no_files_is_a_usage_error(tmp_path):
    with pytest.raises(tfrconv.UsageError):
        tfrconv.tf_dataset(str(tmp_path / "missing-*.record"))
