"""KITTI plugin: features equal the reference converter's, train/val outputs and split rule,
the DontCare rule, class selection, layouts, records the OD API decoder reads, malformed labels.

The oracle `reference_outputs` converts the same folder the way the reference
`create_kitti_tf_record.py` does (docs: odapi-reference.md §2.3): numpy label parsing, the
class filter and IoU > 0 DontCare filter, and a tf.train.Example per image. Records are compared
value by value after parsing with TensorFlow (floats as float32).
"""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import feature_spec, parse_records, tf_feature
from parity import assert_same_kinds_and_values
from reach import branch, reaches
from tfrconv_plugins import kitti

import tfrconv
from tfrconv import DataError, LabelMapError, UsageError
from tfrconv.cli import main as cli_main
from tfrconv.tfrecord import read_records

FLOAT_KEYS = ("image/object/truncated", "image/object/alpha", "image/object/3d_bbox/height",
              "image/object/3d_bbox/width", "image/object/3d_bbox/length",
              "image/object/3d_bbox/x", "image/object/3d_bbox/y", "image/object/3d_bbox/z",
              "image/object/3d_bbox/rot_y")
EXTRA_KEYS = dict.fromkeys(FLOAT_KEYS, "float")
KITTI_LABEL_MAP = {"car": 1, "pedestrian": 2}
# Keys the reference writes as empty lists on a negative image and tfrconv leaves out.
NOT_WRITTEN_ON_NEGATIVES = FLOAT_KEYS


# -- fixtures in the real layouts ----------------------------------------------------------
def line(kind, box, truncated=0.0, occluded=0, alpha=-1.5, dims=(1.5, 1.6, 3.9),
         location=(1.0, 1.7, 12.0), rotation=0.25):
    numbers = (truncated, occluded, alpha, *box, *dims, *location, rotation)
    return kind + " " + " ".join(f"{v:.2f}" if isinstance(v, float) else str(v)
                                 for v in numbers)


def write_image(path, width=48, height=20, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)


FRAMES = {
    # a car hidden by a DontCare region (dropped), a pedestrian, a cyclist (not chosen)
    "000000": [line("Car", (2.0, 3.0, 12.0, 15.0), truncated=0.35, occluded=1),
               line("Pedestrian", (30.0, 2.0, 36.0, 18.0), alpha=0.5),
               line("DontCare", (10.0, 10.0, 20.0, 19.0), alpha=-10.0),
               line("Cyclist", (40.0, 1.0, 47.0, 9.0))],
    # a car touching the DontCare box (IoU 0: kept), a car overlapping it (dropped)
    "000001": [line("Car", (0.0, 0.0, 10.0, 10.0), truncated=0.12, rotation=-1.25),
               line("DontCare", (10.0, 0.0, 20.0, 10.0)),
               line("Car", (15.5, 5.0, 25.0, 15.0))],
    "000002": [],                                                    # a negative
    "000003": [line("Pedestrian", (5.5, 4.25, 9.75, 17.0), truncated=0.0),
               line("Van", (20.0, 4.0, 40.0, 16.0))],
}


def make_kitti(root, layout="object", frames=FRAMES, extension=".png"):
    """object: root/training/{image_2,label_2}; reference: root/training/label_2 and
    root/data_object_image_2/training/image_2."""
    label_dir = os.path.join(root, "training", "label_2")
    image_dir = os.path.join(root, "data_object_image_2", "training", "image_2") \
        if layout == "reference" else os.path.join(root, "training", "image_2")
    os.makedirs(label_dir, exist_ok=True)
    for seed, (frame, lines) in enumerate(frames.items()):
        with open(os.path.join(label_dir, frame + ".txt"), "w") as fileobj:
            fileobj.write("".join(text + "\n" for text in lines))
        write_image(os.path.join(image_dir, frame + extension), seed=seed)
    return image_dir, label_dir


def convert(data_dir, out, **options):
    options.setdefault("workers", 1)
    return tfrconv.convert("kitti", data_dir=str(data_dir), output=str(out), **options)


# -- the oracle: the reference converter, rebuilt with numpy and TensorFlow ----------------
def reference_read_labels(path):
    with open(path) as fileobj:
        content = [x.strip().split(" ") for x in fileobj.readlines()]
    columns = {"type": (0, str), "truncated": (1, float), "occluded": (2, int),
               "alpha": (3, float), "left": (4, float), "top": (5, float),
               "right": (6, float), "bottom": (7, float), "h": (8, float), "w": (9, float),
               "l": (10, float), "x": (11, float), "y": (12, float), "z": (13, float),
               "rot_y": (14, float)}
    labels = {key: np.array([cast(row[i]) for row in content])
              for key, (i, cast) in columns.items()}
    labels["type"] = np.array([row[0].lower() for row in content])
    return labels


def reference_iou(boxes1, boxes2):
    """np_box_ops.iou: boxes as [ymin, xmin, ymax, xmax]."""
    def area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    ymin1, xmin1, ymax1, xmax1 = np.split(boxes1, 4, axis=1)
    ymin2, xmin2, ymax2, xmax2 = np.split(boxes2, 4, axis=1)
    heights = np.maximum(0.0, np.minimum(ymax1, ymax2.T) - np.maximum(ymin1, ymin2.T))
    widths = np.maximum(0.0, np.minimum(xmax1, xmax2.T) - np.maximum(xmin1, xmin2.T))
    intersection = heights * widths
    union = area(boxes1)[:, None] + area(boxes2)[None, :] - intersection
    return intersection / union


def reference_filter(labels, classes):
    keep = [i for i, kind in enumerate(labels["type"]) if kind in classes]
    kept = {key: value[keep] for key, value in labels.items()}
    if "dontcare" in classes:
        cares = [i for i, kind in enumerate(kept["type"]) if kind == "dontcare"]
        boxes = np.stack([kept["top"], kept["left"], kept["bottom"], kept["right"]], axis=1)
        ious = reference_iou(boxes, boxes[cares])
        if ious.size > 0:
            remove = np.amax(ious, axis=1) > 0.0
            kept = {key: value[np.logical_not(remove)] for key, value in kept.items()}
    return kept


def reference_example(image_path, labels, label_map):
    import tensorflow as tf
    from PIL import Image

    feature = tf_feature

    with open(image_path, "rb") as fileobj:
        encoded = fileobj.read()
    pixels = np.asarray(Image.open(io.BytesIO(encoded)))
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    example = tf.train.Example(features=tf.train.Features(feature={
        "image/height": feature("int", [height]), "image/width": feature("int", [width]),
        "image/filename": feature("bytes", [image_path.encode("utf8")]),
        "image/source_id": feature("bytes", [image_path.encode("utf8")]),
        "image/key/sha256": feature("bytes", [hashlib.sha256(encoded).hexdigest().encode()]),
        "image/encoded": feature("bytes", [encoded]),
        "image/format": feature("bytes", [b"png"]),
        "image/object/bbox/xmin": feature("float", labels["left"] / float(width)),
        "image/object/bbox/xmax": feature("float", labels["right"] / float(width)),
        "image/object/bbox/ymin": feature("float", labels["top"] / float(height)),
        "image/object/bbox/ymax": feature("float", labels["bottom"] / float(height)),
        "image/object/class/text": feature("bytes", [t.encode("utf8") for t in labels["type"]]),
        "image/object/class/label": feature("int", [label_map[t] for t in labels["type"]]),
        "image/object/difficult": feature("int", [0] * len(labels["left"])),
        "image/object/truncated": feature("float", labels["truncated"]),
        "image/object/alpha": feature("float", labels["alpha"]),
        "image/object/3d_bbox/height": feature("float", labels["h"]),
        "image/object/3d_bbox/width": feature("float", labels["w"]),
        "image/object/3d_bbox/length": feature("float", labels["l"]),
        "image/object/3d_bbox/x": feature("float", labels["x"]),
        "image/object/3d_bbox/y": feature("float", labels["y"]),
        "image/object/3d_bbox/z": feature("float", labels["z"]),
        "image/object/3d_bbox/rot_y": feature("float", labels["rot_y"]),
    }))
    return example.SerializeToString()


def reference_outputs(data_dir, classes=("car", "pedestrian", "dontcare"),
                      validation_set_size=500, label_map=KITTI_LABEL_MAP):
    """(train payloads, val payloads) in the reference's order."""
    label_dir = os.path.join(data_dir, "training", "label_2")
    image_dir = os.path.join(data_dir, "data_object_image_2", "training", "image_2")
    train, val = [], []
    for name in sorted(os.listdir(image_dir)):
        number = int(name.split(".")[0])
        labels = reference_read_labels(os.path.join(label_dir, str(number).zfill(6) + ".txt"))
        payload = reference_example(os.path.join(image_dir, name),
                                    reference_filter(labels, list(classes)), label_map)
        (val if number < validation_set_size else train).append(payload)
    return train, val


def parse_payload(payload):
    import tensorflow as tf

    parsed = tf.io.parse_single_example(payload, feature_spec(tf, EXTRA_KEYS))
    return {key: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
            for key, v in parsed.items()}


def assert_same_features(ours, reference, differ=("image/filename", "image/source_id")):
    for key in sorted(set(ours) | set(reference)):
        if key in differ or key == "decoded_shape":
            continue
        a, b = ours[key], reference[key]
        if isinstance(a, np.ndarray) and a.dtype == np.float32:
            np.testing.assert_array_equal(a, np.asarray(b, dtype=np.float32), err_msg=key)
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)


# -- reference compatibility ---------------------------------------------------------------
def test_features_match_reference_example_by_example(tmp_path):
    root = tmp_path / "kitti"
    make_kitti(root, layout="reference")
    summary = convert(root, tmp_path / "out" / "kitti.record", validation_set_size=2)
    outputs = {o.split: o for o in summary.outputs}
    assert outputs["train"].path.endswith("kitti_train.record")
    assert outputs["val"].path.endswith("kitti_val.record")
    assert (outputs["val"].examples, outputs["train"].examples) == (2, 2)

    train, val = reference_outputs(str(root), validation_set_size=2)
    for split, reference in (("train", train), ("val", val)):
        path = outputs[split].path
        ours = parse_records(path, extra=EXTRA_KEYS)     # the decoder's spec, TF parsing
        theirs = [parse_payload(p) for p in reference]
        assert len(ours) == len(theirs)
        for mine, ref in zip(ours, theirs):
            assert_same_features(mine, ref)
            assert mine["image/filename"] == os.path.basename(ref["image/filename"])
            assert mine["image/source_id"] == mine["image/filename"]
        # the raw examples: every key the reference writes, of its kind, with its values
        for index, (record, payload) in enumerate(zip(read_records(path), reference)):
            assert_same_kinds_and_values(record, payload, where=f"{split} {index}",
                                         differ=("image/filename", "image/source_id"),
                                         empty_or_absent=NOT_WRITTEN_ON_NEGATIVES)
    val_records = parse_records(outputs["val"].path, extra=EXTRA_KEYS)
    first = val_records[0]
    assert list(first["image/object/class/text"]) == [b"pedestrian"]     # car under DontCare
    second = val_records[1]
    assert list(second["image/object/class/text"]) == [b"car"]            # touching: kept
    np.testing.assert_array_equal(second["image/object/truncated"], np.float32([0.12]))
    np.testing.assert_array_equal(second["image/object/3d_bbox/rot_y"], np.float32([-1.25]))


def test_truncated_is_a_float_list_as_the_reference_writes(tmp_path):
    make_kitti(tmp_path / "kitti")
    summary = convert(tmp_path / "kitti", tmp_path / "k.record", validation_set_size=0)
    record = next(tfrconv.read_examples(summary.outputs[0].path))
    assert isinstance(record["image/object/truncated"][0], float)
    assert record["image/object/difficult"] == [0, 0] or record["image/object/difficult"] == [0]
    import tensorflow as tf

    bad_spec = {"image/object/truncated": tf.io.VarLenFeature(tf.int64)}
    payload = next(iter(tf.data.TFRecordDataset(summary.outputs[0].path)))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.io.parse_single_example(payload, bad_spec)


# -- layouts, outputs, split ---------------------------------------------------------------
@pytest.mark.parametrize("layout, given", [("object", ""), ("object", "training"),
                                           ("reference", "")])
def test_layouts(tmp_path, layout, given):
    make_kitti(tmp_path / "kitti", layout=layout)
    summary = convert(tmp_path / "kitti" / given, tmp_path / "k.record", validation_set_size=1)
    assert summary.examples == 4
    assert {o.split: o.examples for o in summary.outputs} == {"train": 3, "val": 1}


def test_reference_image_layout_from_training_folder(tmp_path):
    make_kitti(tmp_path / "kitti", layout="reference")
    summary = convert(tmp_path / "kitti" / "training", tmp_path / "k.record")
    assert summary.examples == 4


def test_output_names(tmp_path):
    make_kitti(tmp_path / "kitti")
    summary = convert(tmp_path / "kitti", tmp_path / "o" / "kitti")     # reference style
    names = sorted(os.path.basename(o.path) for o in summary.outputs)
    assert names == ["kitti_train.tfrecord", "kitti_val.tfrecord"]
    assert os.path.exists(tmp_path / "o" / "kitti_val.manifest.json")
    summary = convert(tmp_path / "kitti", tmp_path / "p" / "kitti.record", num_shards=2)
    assert sorted(os.listdir(tmp_path / "p")) == sorted([
        "kitti_train.label_map.pbtxt", "kitti_train.manifest.json",
        "kitti_train.record-00000-of-00002", "kitti_train.record-00001-of-00002",
        "kitti_val.label_map.pbtxt", "kitti_val.manifest.json",
        "kitti_val.record-00000-of-00002", "kitti_val.record-00001-of-00002"])


def test_split_rule_uses_the_frame_number(tmp_path):
    frames = {f"{n:06d}": [line("Car", (1.0, 1.0, 5.0, 5.0))] for n in (3, 499, 500, 7480)}
    make_kitti(tmp_path / "kitti", frames=frames)
    summary = convert(tmp_path / "kitti", tmp_path / "k.record")            # default 500
    by_split = {o.split: o.path for o in summary.outputs}
    val = [r["image/source_id"] for r in parse_records(by_split["val"])]
    train = [r["image/source_id"] for r in parse_records(by_split["train"])]
    assert val == [b"000003.png", b"000499.png"] and train == [b"000500.png", b"007480.png"]
    summary = convert(tmp_path / "kitti", tmp_path / "all.record", validation_set_size=0)
    assert {o.split: o.examples for o in summary.outputs} == {"train": 4, "val": 0}
    with pytest.raises(UsageError, match="validation-set-size"):
        convert(tmp_path / "kitti", tmp_path / "x.record", validation_set_size=-1)


def test_true_image_format(tmp_path):
    make_kitti(tmp_path / "kitti", extension=".jpg")
    summary = convert(tmp_path / "kitti", tmp_path / "k.record")
    records = parse_records(summary.outputs[1].path)
    assert {r["image/format"] for r in records} == {b"jpeg"}
    assert records[0]["image/filename"] == b"000000.jpg"
    assert (records[0]["image/height"], records[0]["image/width"]) == (20, 48)


# -- classes, DontCare, label maps ---------------------------------------------------------
def test_dontcare_rule(tmp_path):
    labels = [kitti.KittiLabel(kind, dict(zip(("left", "top", "right", "bottom"), box)), 1)
              for kind, box in (("car", (0, 0, 10, 10)), ("car", (10, 0, 20, 10)),
                                ("car", (9.9, 9.9, 30, 30)), ("dontcare", (10, 10, 20, 20)),
                                ("pedestrian", (50, 50, 60, 60)))]
    kept = kitti.keep(labels, ["car", "pedestrian", "dontcare"])
    # touching edges (IoU 0) kept; overlapping by a sliver dropped; DontCare never written
    assert [lb.box() for lb in kept] == [(0, 0, 10, 10), (10, 0, 20, 10), (50, 50, 60, 60)]
    without = kitti.keep(labels, ["car", "pedestrian"])
    assert len(without) == 4 and all(lb.type != "dontcare" for lb in without)


def test_classes_are_case_insensitive_and_filter(tmp_path):
    make_kitti(tmp_path / "kitti")
    summary = convert(tmp_path / "kitti", tmp_path / "k.record", classes="Car")
    assert summary.classes == {"car": 3}           # no DontCare rule: hidden cars stay
    summary = convert(tmp_path / "kitti", tmp_path / "d.record", classes=["CAR", "DontCare"])
    assert summary.classes == {"car": 1}
    with pytest.raises(UsageError, match="at least one class"):
        convert(tmp_path / "kitti", tmp_path / "x.record", classes="dontcare")


def test_classes_beyond_the_kitti_label_map(tmp_path):
    make_kitti(tmp_path / "kitti")
    summary = convert(tmp_path / "kitti", tmp_path / "k.record",
                      classes="car,pedestrian,van,cyclist,dontcare")
    assert "generated from --classes" in summary.label_map
    label_map = tfrconv.load_label_map(str(tmp_path / "k_train.label_map.pbtxt"))
    assert [(i.id, i.name) for i in label_map] == [(1, "car"), (2, "pedestrian"), (3, "van"),
                                                   (4, "cyclist")]
    assert summary.classes == {"car": 1, "cyclist": 1, "pedestrian": 2, "van": 1}
    # an explicit label map without them fails before any label file is read
    with pytest.raises(LabelMapError, match="'van'"):
        convert(tmp_path / "kitti", tmp_path / "x.record", classes="car,van", label_map="kitti")


# -- problems ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message, line_no", [
    ("Car 0.0 0 -1.5 1 2 3\n", "expected 15 values.*found 7", 1),
    (line("Car", (1.0, 1.0, 5.0, 5.0)) + "\nCar 0.0 zero -1 1 2 3 4 1 1 1 1 1 1 1\n",
     "occluded is not a number: 'zero'", 2),
])
def test_bad_label_lines_name_file_and_line(tmp_path, text, message, line_no):
    make_kitti(tmp_path / "kitti")
    path = tmp_path / "kitti" / "training" / "label_2" / "000001.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        convert(tmp_path / "kitti", tmp_path / "k.record")
    assert f"{path}:{line_no}: " in str(info.value) and "\n" not in str(info.value)
    assert not list(tmp_path.glob("k_*"))
    summary = convert(tmp_path / "kitti", tmp_path / "s.record", on_error="skip")
    assert summary.examples == 3 and summary.problems["bad_annotation"]["count"] == 1


def test_blank_lines_are_no_objects(tmp_path):
    make_kitti(tmp_path / "kitti")
    path = tmp_path / "kitti" / "training" / "label_2" / "000003.txt"
    path.write_text("\n" + "\r\n".join(FRAMES["000003"]) + "\r\n\n   \n")
    labels = kitti.parse_labels(str(path))
    assert [lb.type for lb in labels] == ["pedestrian", "van"] and labels[0].line == 2


def test_missing_files_are_reported(tmp_path):
    image_dir, label_dir = make_kitti(tmp_path / "kitti")
    os.unlink(os.path.join(label_dir, "000002.txt"))                 # image without labels
    os.unlink(os.path.join(image_dir, "000003.png"))                 # labels without image
    with pytest.raises(DataError, match="no label file for image 000002.png"):
        convert(tmp_path / "kitti", tmp_path / "k.record")
    summary = convert(tmp_path / "kitti", tmp_path / "s.record", on_error="skip",
                      on_missing_image="skip")
    assert summary.examples == 2
    assert summary.problems["bad_annotation"]["count"] == 1
    assert summary.problems["missing_image"]["count"] == 1


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        convert(tmp_path / "nope", tmp_path / "k.record")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="label_2"):
        convert(tmp_path / "empty", tmp_path / "k.record")
    os.makedirs(tmp_path / "labels_only" / "training" / "label_2")
    with pytest.raises(UsageError, match="no image folder"):
        convert(tmp_path / "labels_only", tmp_path / "k.record")


# -- command line and detection ------------------------------------------------------------
def test_command_line(tmp_path, capsys):
    make_kitti(tmp_path / "kitti")
    code = cli_main(["kitti", "--data-dir", str(tmp_path / "kitti"), "--output",
                     str(tmp_path / "out" / "kitti.record"), "--classes-to-use",
                     "Car,Pedestrian,DontCare", "--validation-set-size", "2", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(o["split"], o["examples"]) for o in summary["outputs"]] == [("train", 2),
                                                                         ("val", 2)]
    assert summary["classes"] == {"car": 1, "pedestrian": 2}


def test_detect(tmp_path):
    make_kitti(tmp_path / "kitti")
    assert kitti.detect(str(tmp_path / "kitti")).confidence >= 0.9
    assert kitti.detect(str(tmp_path / "kitti" / "training")).matched
    (tmp_path / "voc" / "label_2").mkdir(parents=True)
    (tmp_path / "voc" / "image_2").mkdir()
    (tmp_path / "voc" / "label_2" / "a.txt").write_text("cat 1 2 3 4\n")
    miss = kitti.detect(str(tmp_path / "voc"))
    assert not miss.matched and "expected 15 values" in miss.reason
    assert "label_2" in kitti.detect(str(tmp_path)).reason


# -- property: any label text gives a sample or a DataError, nothing else --------------------
KINDS = st.sampled_from(["Car", "Car", "car", "Pedestrian", "Van", "Cyclist", "DontCare"])
NUMBER = st.floats(-50, 50, allow_nan=False).map(lambda v: f"{v:.2f}")
# Targeted breaks, each in a quarter of the files at most: the rest are clean, as tools write.
BREAKS = ["short line", "bad number", "odd number", "extra column", "blank lines and CRLF",
          "byte order mark", "tabs", "not UTF-8", "random bytes"]


@st.composite
def kitti_label_lines(draw):
    """One valid label line: a class, 14 numbers, a box with its corners in order."""
    left, top = draw(st.integers(0, 40)), draw(st.integers(0, 15))
    right = left + draw(st.integers(1, 20)) + draw(st.sampled_from([0, 0.5, 0.25]))
    bottom = top + draw(st.integers(1, 10))
    numbers = [f"{draw(st.floats(0, 1)):.2f}", str(draw(st.integers(0, 3))), draw(NUMBER),
               *(f"{v:.2f}" for v in (left, top, right, bottom)),
               *(draw(NUMBER) for _ in range(7))]
    return [draw(KINDS), *numbers]


@st.composite
def kitti_label_files(draw):
    """(file bytes, the break applied or None): mostly clean label files."""
    lines = draw(st.lists(kitti_label_lines(), min_size=1, max_size=5))
    broken = draw(st.sampled_from(BREAKS)) if draw(st.integers(0, 3)) == 0 else None
    target = lines[draw(st.integers(0, len(lines) - 1))]
    where = draw(st.integers(1, 14))
    if broken == "short line":
        del target[draw(st.integers(1, 14)):]
    elif broken == "bad number":
        target[where] = draw(st.sampled_from(["x", "1,5", "--1", "0x10", "\u00e9", "1.2.3"]))
    elif broken == "odd number":
        target[where] = draw(st.sampled_from(["nan", "inf", "-inf", "1e999", "-0", "3.", "1_0"]))
    elif broken == "extra column":
        target.append("0.5")
    separator = "\t" if broken == "tabs" else " "
    text = "\n".join(separator.join(line) for line in lines) + "\n"
    if broken == "blank lines and CRLF":
        text = "\n" + text.replace("\n", "\r\n\n  \n")
    data = text.encode("utf-8")
    if broken == "byte order mark":
        data = b"\xef\xbb\xbf" + data
    elif broken == "not UTF-8":
        data = data[:where] + b"\xff" + data[where:]
    elif broken == "random bytes":
        data = draw(st.binary(max_size=40))
    return data, broken


@reaches("compared with the reference")
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(label_file=kitti_label_files(),
       classes=st.sampled_from([["car", "dontcare"], ["car"], ["car", "pedestrian", "dontcare"]]))
def test_any_label_file_gives_a_sample_or_a_data_error(tmp_path, label_file, classes):
    data, broken = label_file
    path = tmp_path / "000007.txt"
    path.write_bytes(data)
    item = kitti.KittiItem("000007.png", str(tmp_path / "000007.png"), str(path),
                           str(tmp_path), str(tmp_path))
    opts = tfrconv.Options({"data_dir": str(tmp_path), "classes": classes,
                            "validation_set_size": 500})
    try:
        sample = kitti.read_item(item, opts)
    except DataError as exc:
        branch(f"data error ({broken})")
        assert exc.file == str(path) and broken is not None
        return
    assert isinstance(sample, tfrconv.Sample) and sample.split == "val"
    for obj in sample.objects:
        assert obj.label in classes and obj.label != "dontcare"
        assert isinstance(obj.truncated, float) and len(obj.extra) == 8
    if broken is not None:
        branch(f"sample from a broken file ({broken})")
        return
    # A clean file: the objects kept are the reference converter's, in its order.
    branch("compared with the reference")
    branch("with objects" if sample.objects else "no object kept")
    kept = reference_filter(reference_read_labels(str(path)), classes)
    assert [(o.label, o.xmin, o.ymin, o.xmax, o.ymax, o.truncated) for o in sample.objects] \
        == list(zip(kept["type"], kept["left"], kept["top"], kept["right"], kept["bottom"],
                    kept["truncated"]))
