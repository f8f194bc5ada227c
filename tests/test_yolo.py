"""YOLO: datasets written in Ultralytics, Roboflow, darknet and bare-folder layouts, records read
back with the OD API's own decoder, and every answer worked out by hand from the label lines.

Images are 40x20 (W x H) unless said otherwise, so a normalized coordinate c is c*40 or c*20
pixels: `1 0.5 0.5 0.5 0.5` is the box x 10..30, y 5..15, i.e. 0.25..0.75 on both axes.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from datasets import FORMATS, make, standard_pictures, write_jpeg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import parse_records
from reach import branch, reaches

import tfrconv
from tfrconv import DataError, UsageError
from tfrconv.cli import main as cli_main
from tfrconv.detect import detect_formats

W, H = 40, 20
BOX_KEYS = ("image/object/bbox/xmin", "image/object/bbox/ymin", "image/object/bbox/xmax",
            "image/object/bbox/ymax")


def write(path, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(text)
    return str(path)


def ultralytics(root, *, names="names: [zebra, apple]", labels=None, extra="") -> str:
    """data.yaml + images/{train,val} + labels/{train,val}; `labels` maps image → label text.
    zebra is class 0 and apple class 1: not alphabetical, so an alphabetical map would show."""
    labels = {"train/a.jpg": "1 0.5 0.5 0.5 0.5\n0 0.25 0.25 0.1 0.2\n",
              "train/b.jpg": None,                          # no label file: a negative
              "val/c.jpg": "0 0.5 0.5 1 1\n"} if labels is None else labels
    for seed, (image, text) in enumerate(sorted(labels.items())):
        write_jpeg(os.path.join(root, "images", image), W, H, seed)
        if text is not None:
            write(os.path.join(root, "labels", os.path.splitext(image)[0] + ".txt"), text)
    splits = sorted({image.split("/")[0] for image in labels})
    write(os.path.join(root, "data.yaml"), "".join(f"{s}: images/{s}\n" for s in splits)
          + names + "\n" + extra)
    return str(root)


def boxes(record) -> list[tuple[float, ...]]:
    """(xmin, ymin, xmax, ymax) of each object, in pixels of the written image."""
    w, h = record["image/width"], record["image/height"]
    columns = [record[key] * (w if key.rsplit("/", 1)[1].startswith("x") else h)
               for key in BOX_KEYS]
    return [tuple(round(float(v), 3) for v in values) for values in zip(*columns)]


def texts(record) -> list[str]:
    return [t.decode() for t in record["image/object/class/text"]]


def by_id(records) -> dict[str, dict]:
    return {r["image/source_id"].decode(): r for r in records}


# -- Ultralytics ---------------------------------------------------------------------------
def test_ultralytics_boxes_classes_and_splits(tmp_path):
    root = ultralytics(tmp_path / "ds")
    summary = tfrconv.convert("yolo", data_dir=root, output=str(tmp_path / "out" / "y.record"))
    assert summary.examples == 3
    train = by_id(parse_records(str(tmp_path / "out" / "y_train.record")))
    val = by_id(parse_records(str(tmp_path / "out" / "y_val.record")))
    assert sorted(train) == ["images/train/a.jpg", "images/train/b.jpg"]
    assert sorted(val) == ["images/val/c.jpg"]
    a = train["images/train/a.jpg"]
    assert (a["image/width"], a["image/height"]) == (W, H)          # read from the image
    assert texts(a) == ["apple", "zebra"]
    assert a["image/object/class/label"].tolist() == [2, 1]       # index i → id i + 1
    # apple: cx .5 cy .5 w .5 h .5 → x 10..30, y 5..15; zebra: cx .25 cy .25 w .1 h .2 →
    # x (0.25-0.05)*40=8 .. (0.25+0.05)*40=12, y (0.25-0.1)*20=3 .. (0.25+0.1)*20=7.
    assert boxes(a) == [(10, 5, 30, 15), (8, 3, 12, 7)]
    assert a["image/filename"] == b"a.jpg"
    assert train["images/train/b.jpg"]["image/object/class/label"].size == 0   # a negative
    assert boxes(val["images/val/c.jpg"]) == [(0, 0, 40, 20)]
    label_map = (tmp_path / "out" / "y_val.label_map.pbtxt").read_text()
    assert label_map.index('"zebra"') < label_map.index('"apple"')
    assert "id: 1" in label_map.split('"apple"')[0]


def test_one_split_goes_to_the_output_as_named(tmp_path):
    root = ultralytics(tmp_path / "ds")
    out = tmp_path / "val.record"
    tfrconv.convert("yolo", data_dir=root, split="val", output=str(out))
    assert [r["image/source_id"] for r in parse_records(str(out))] == [b"images/val/c.jpg"]
    with pytest.raises(UsageError, match=r"--split test: .*data.yaml has the splits train, val"):
        tfrconv.convert("yolo", data_dir=root, split="test", output=str(out))


def test_names_as_a_mapping_list_files_and_path(tmp_path):
    """`path:` names the root; `train:` a list file of image paths (./ relative to it) plus a
    folder; names a mapping {index: name} written out of order."""
    data = tmp_path / "data"
    ultralytics(data, labels={"one/a.jpg": "2 0.5 0.5 0.5 0.5\n",
                              "two/b.jpg": "0 0.5 0.5 0.25 0.5\n"})
    write(data / "one.txt", "./images/one/a.jpg\n\n")
    write(tmp_path / "cfg" / "data.yaml",
          "# a comment\npath: ../data\ntrain: [one.txt, images/two]\n"
          "names:\n  2: 'cat: big'\n  0: person\n  1: dog\nnc: 3\n")
    out = tmp_path / "t.record"
    tfrconv.convert("yolo", data_dir=str(tmp_path / "cfg" / "data.yaml"), output=str(out))
    records = by_id(parse_records(str(out)))
    assert texts(records["images/one/a.jpg"]) == ["cat: big"]
    assert records["images/one/a.jpg"]["image/object/class/label"].tolist() == [3]
    assert records["images/two/b.jpg"]["image/object/class/label"].tolist() == [1]
    assert boxes(records["images/two/b.jpg"]) == [(15, 5, 25, 15)]


def test_roboflow_layout(tmp_path):
    """Roboflow: `train: ../train/images` beside data.yaml (Ultralytics drops the `../`)."""
    root = tmp_path / "rf"
    write_jpeg(str(root / "train" / "images" / "x.jpg"), W, H, 1)
    write(root / "train" / "labels" / "x.txt", "0 0.5 0.5 0.5 0.5\n")
    write(root / "data.yaml", "train: ../train/images\nval: ../train/images\nnc: 1\n"
          "names: ['car']\nroboflow:\n  workspace: w\n  version: 2\n")
    out = tmp_path / "r.record"
    tfrconv.convert("yolo", data_dir=str(root), split="train", output=str(out))
    (record,) = parse_records(str(out))
    assert texts(record) == ["car"] and record["image/source_id"] == b"train/images/x.jpg"


def test_yaml_written_by_ultralytics_itself(tmp_path):
    """A real-world data.yaml: a block list of names, quoted names and a `download: |` script."""
    root = ultralytics(tmp_path / "ds", labels={"train/a.jpg": "1 0.5 0.5 0.5 0.5\n"}, names=(
        "names:\n  - \"traffic light\"\n  - 'stop sign'\ndownload: |\n"
        "  from pathlib import Path\n  names: [x]\n  print('ok')\n"))
    out = tmp_path / "y.record"
    tfrconv.convert("yolo", data_dir=root, output=str(out))
    (record,) = parse_records(str(out))
    assert texts(record) == ["stop sign"] and record["image/object/class/label"].tolist() == [2]


def test_names_without_names_come_from_nc(tmp_path):
    root = ultralytics(tmp_path / "ds", labels={"train/a.jpg": "1 0.5 0.5 0.5 0.5\n"},
                       names="nc: 2")
    out = tmp_path / "y.record"
    tfrconv.convert("yolo", data_dir=root, output=str(out))
    assert texts(parse_records(str(out))[0]) == ["class_1"]


def test_pose_labels_keep_the_box(tmp_path):
    """Pose datasets: `kpt_shape: [2, 3]` → 6 keypoint values after the box, left out."""
    root = ultralytics(tmp_path / "ds", labels={
        "train/a.jpg": "0 0.5 0.5 0.5 0.5 0.1 0.2 2 0.3 0.4 1\n"}, names="names: [person]",
        extra="kpt_shape: [2, 3]\n")
    out = tmp_path / "y.record"
    tfrconv.convert("yolo", data_dir=root, output=str(out))
    assert boxes(parse_records(str(out))[0]) == [(10, 5, 30, 15)]


# -- segmentation --------------------------------------------------------------------------
SEGMENTS = {"train/a.jpg": (
    "0 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75\n"        # a square: x 10..30, y 5..15
    "1 0.25 0.25 0.75 0.25 0.25 0.75\n")}                # a triangle, same extent


def test_polygons_give_their_extent_as_the_box(tmp_path):
    root = ultralytics(tmp_path / "ds", labels=SEGMENTS)
    out = tmp_path / "s.record"
    tfrconv.convert("yolo", data_dir=root, output=str(out))
    (record,) = parse_records(str(out))
    assert boxes(record) == [(10, 5, 30, 15), (10, 5, 30, 15)]
    assert "image/object/mask" not in record


def test_polygons_give_masks_with_include_masks(tmp_path):
    labels = dict(SEGMENTS)
    labels["train/a.jpg"] += "0 0.5 0.5 0.5 0.5\n"        # a box line: its rectangle
    root = ultralytics(tmp_path / "ds", labels=labels)
    out = tmp_path / "m.record"
    tfrconv.convert("yolo", data_dir=root, output=str(out), include_masks=True)
    (record,) = parse_records(str(out))
    masks = record.decoded["groundtruth_instance_masks"]
    assert masks.shape == (3, H, W)
    square = np.zeros((H, W), dtype=bool)
    square[5:15, 10:30] = True                            # the pixels the square covers
    assert np.array_equal(masks[0].astype(bool), square)
    assert np.array_equal(masks[2].astype(bool), square)
    assert int(masks[1].sum()) == 100                     # half the square: 20 x 10 / 2
    assert not masks[1][square == 0].any()


# -- darknet and bare folders --------------------------------------------------------------
def darknet(root) -> str:
    """The AlexeyAB darknet layout: data/obj.data, obj.names, train.txt naming data/obj/*.jpg
    (paths from darknet's working folder), each image's label file beside it."""
    write(root / "data" / "obj.names", "car\nbus\n\n")
    write(root / "data" / "obj.data", "classes = 2\ntrain = data/train.txt\n"
          "valid = data/valid.txt\nnames = data/obj.names\nbackup = backup/\n")
    for seed, name in enumerate(("x", "y", "z")):
        write_jpeg(str(root / "data" / "obj" / f"{name}.jpg"), W, H, seed)
    write(root / "data" / "obj" / "x.txt", "1 0.5 0.5 0.5 0.5\n")
    write(root / "data" / "obj" / "y.txt", "0 0.5 0.5 1 1\n")
    write(root / "data" / "train.txt", "data/obj/x.jpg\ndata/obj/y.jpg\n")
    write(root / "data" / "valid.txt", "data/obj/z.jpg\n")
    return str(root)


def test_darknet(tmp_path):
    root = darknet(tmp_path / "darknet")
    tfrconv.convert("yolo", data_dir=root, output=str(tmp_path / "d.record"))
    train = by_id(parse_records(str(tmp_path / "d_train.record")))
    assert sorted(train) == ["data/obj/x.jpg", "data/obj/y.jpg"]
    assert texts(train["data/obj/x.jpg"]) == ["bus"]
    assert train["data/obj/x.jpg"]["image/object/class/label"].tolist() == [2]
    assert boxes(train["data/obj/y.jpg"]) == [(0, 0, 40, 20)]
    (valid,) = parse_records(str(tmp_path / "d_valid.record"))
    assert valid["image/object/class/label"].size == 0


def test_darknet_class_count_must_match_the_names(tmp_path):
    root = darknet(tmp_path / "darknet")
    write(tmp_path / "darknet" / "data" / "obj.data", "classes = 3\ntrain = data/train.txt\n"
          "names = data/obj.names\n")
    with pytest.raises(DataError, match="classes = 3 but .*obj.names has 2 names") as info:
        tfrconv.convert("yolo", data_dir=root, output=str(tmp_path / "d.record"))
    assert info.value.file.endswith("obj.data") and info.value.line == 1


def bare(root) -> str:
    """images/ and labels/ with split subfolders, names in classes.txt."""
    write(root / "classes.txt", "cat\ndog\n")
    from PIL import Image

    os.makedirs(root / "images" / "train")
    Image.new("RGB", (W, H)).save(root / "images" / "train" / "a.png")
    write(root / "labels" / "train" / "a.txt", "1 0.5 0.5 0.5 0.5\n")
    return str(root)


def test_bare_folders_with_classes_txt(tmp_path):
    root = bare(tmp_path / "bare")
    out = tmp_path / "b.record"
    tfrconv.convert("yolo", data_dir=root, output=str(out))
    (record,) = parse_records(str(out))
    assert texts(record) == ["dog"] and record["image/format"] == b"png"
    os.remove(os.path.join(root, "classes.txt"))
    with pytest.raises(UsageError, match="no class names"):
        tfrconv.convert("yolo", data_dir=root, output=str(out))


# -- label map ------------------------------------------------------------------------------
def test_labelmap_from_data_keeps_the_names_order(tmp_path, capsys):
    """`labelmap from-data` gives the ids the conversion writes: zebra 1, apple 2."""
    root = ultralytics(tmp_path / "ds")
    assert cli_main(["labelmap", "from-data", "yolo", "--data-dir", root, "--out",
                     str(tmp_path / "from_data.pbtxt")]) == 0
    from_data = tfrconv.load_label_map(str(tmp_path / "from_data.pbtxt"))
    assert [(item.id, item.name) for item in from_data.items] == [(1, "zebra"), (2, "apple")]
    tfrconv.convert("yolo", data_dir=root, split="val", output=str(tmp_path / "v.record"))
    written = tfrconv.load_label_map(str(tmp_path / "v.label_map.pbtxt"))
    assert [(item.id, item.name) for item in written.items] == [(1, "zebra"), (2, "apple")]


def test_duplicate_names_are_refused(tmp_path):
    root = ultralytics(tmp_path / "ds", names="names: [cat, dog, cat]")
    with pytest.raises(DataError, match="classes 0 and 2 are both named 'cat'") as info:
        tfrconv.convert("yolo", data_dir=root, output=str(tmp_path / "y.record"))
    assert info.value.file.endswith("data.yaml") and info.value.line == 3


# -- bad input: one line, naming the file and the line --------------------------------------
@pytest.mark.parametrize("line,message", [
    ("-1 0.5 0.5 0.1 0.1", "class index -1 is outside 0..1"),
    ("2 0.5 0.5 0.1 0.1", "class index 2 is outside 0..1"),
    ("cat 0.5 0.5 0.1 0.1", "the class 'cat' is not a class index"),
    ("0 0.5 0.5 0.1", "expected 'class cx cy w h' or a polygon"),
    ("0 0.5 0.5 0.1 0.1 0.3", "expected 'class cx cy w h' or a polygon"),
    ("0 0.5 0.5 0.1 x", "field 5 is not a number: 'x'"),
])
def test_bad_label_lines(tmp_path, capsys, line, message):
    root = ultralytics(tmp_path / "ds", labels={"train/a.jpg": f"0 0.5 0.5 0.2 0.2\n\n{line}\n"})
    code = cli_main(["yolo", "--data-dir", root, "--output", str(tmp_path / "y.record"),
                     "--no-progress"])
    err = capsys.readouterr().err.strip()
    label = os.path.join(root, "labels", "train", "a.txt")
    assert code == 1 and "\n" not in err and f"{label}:3: {message}" in err, err


def test_a_bad_line_is_one_bad_object(tmp_path):
    """With on_error='skip' the bad line is dropped and counted, and the image keeps its good
    boxes; class -1 never becomes 'apple' (the last class)."""
    root = ultralytics(tmp_path / "ds", labels={
        "train/a.jpg": "-1 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.5 0.5\n0 0.5 0.5\n",
        "train/b.jpg": "1 0.5 0.5 0.2 0.2\n"})
    out = tmp_path / "y.record"
    summary = tfrconv.convert("yolo", data_dir=root, output=str(out), on_error="skip")
    records = by_id(parse_records(str(out)))
    assert texts(records["images/train/a.jpg"]) == ["zebra"]
    assert boxes(records["images/train/a.jpg"]) == [(10, 5, 30, 15)]
    assert texts(records["images/train/b.jpg"]) == ["apple"]
    assert summary.examples == 2 and summary.skipped_objects == 2


def test_out_of_range_coordinates_follow_the_bad_box_policy(tmp_path):
    root = ultralytics(tmp_path / "ds", labels={"train/a.jpg": "0 0.9 0.5 0.5 0.5\n"})
    out = tmp_path / "y.record"
    with pytest.raises(DataError, match="outside"):
        tfrconv.convert("yolo", data_dir=root, output=str(out))
    tfrconv.convert("yolo", data_dir=root, output=str(out), on_bad_box="clip")
    # cx .9 w .5 → x 0.65..1.15, clipped to 0.65..1 → 26..40 px
    assert boxes(parse_records(str(out))[0]) == [(26, 5, 40, 15)]


@pytest.mark.parametrize("yaml_text,message,line", [
    ("train: images/train\nnames: [a, b\n", "not valid YAML", 3),
    ("train: images/train\nnames: {0: a, 2: b}\n", "needs the indices 0..1", 2),
    ("train: images/train\nnames: [a, b]\nnc: 3\n", "nc is 3 but names has 2", 3),
    ("train: images/nowhere\nnames: [a]\n", "images/nowhere: no such folder", 1),
    ("names: [a]\n", "no split", None),
])
def test_bad_data_yaml(tmp_path, yaml_text, message, line):
    root = ultralytics(tmp_path / "ds")
    write(tmp_path / "ds" / "data.yaml", yaml_text)
    with pytest.raises(DataError, match=message) as info:
        tfrconv.convert("yolo", data_dir=root, output=str(tmp_path / "y.record"))
    assert info.value.file.endswith("data.yaml") and info.value.line == line


# -- detection ------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["ultralytics", "darknet", "bare"])
def test_detected_first_on_its_own_layouts(tmp_path, layout):
    root = {"ultralytics": ultralytics, "darknet": darknet, "bare": bare}[layout](
        tmp_path / layout)
    report = detect_formats(root)
    assert [m.format for m in report.matches][:1] == ["yolo"], report.lines()
    assert report.verdict == "unique", report.lines()


def test_bare_folders_without_names_are_recognised_and_say_what_is_missing(tmp_path):
    root = bare(tmp_path / "bare")
    os.remove(os.path.join(root, "classes.txt"))
    (match,) = detect_formats(root).matches
    assert match.format == "yolo" and "no class names" in match.reason


@pytest.mark.parametrize("name", FORMATS)
def test_not_detected_on_other_formats(tmp_path, name):
    make(name, tmp_path / name, standard_pictures())
    results = {r.format: r for r in detect_formats(str(tmp_path / name)).results}
    assert not results["yolo"].confidence, results["yolo"].reason


def test_pixel_labels_in_a_labels_folder_are_not_yolo(tmp_path):
    root = bare(tmp_path / "bare")
    write(os.path.join(root, "labels", "train", "a.txt"), "car 10 20 30 40\n")
    results = {r.format: r for r in detect_formats(root).results}
    assert results["yolo"].confidence == 0 and "not a class index" in results["yolo"].reason


# -- the command line ------------------------------------------------------------------------
def test_command_line_and_workers(tmp_path, capsys):
    root = ultralytics(tmp_path / "ds")
    first, second = tmp_path / "one", tmp_path / "two"
    for out, workers in ((first, "1"), (second, "2")):
        assert cli_main(["yolo", "--data-dir", root, "--output", str(out / "y.record"),
                         "--workers", workers, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n}\n")[0] + "\n}")
    assert [(o["split"], o["examples"]) for o in summary["outputs"]] == [("train", 2),
                                                                         ("val", 1)]
    for name in ("y_train.record", "y_val.record"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    shutil.rmtree(second)


# -- hostile input: converts (what was dropped counted) or one tfrconv error line ----------
HOSTILE = ["", "-1", "0", "1e999", "nan", "-inf", "\x00", "\x07", "99999999999999999999999",
           "..", "/etc/passwd", "\xe9", "\t", ":", "[", "{", "'", "- x", "&a", "*b", "!!python/x"]
SKIP_ALL = {f"on_{kind}": "skip" for kind in (
    "error", "bad_box", "degenerate_box", "unknown_class", "missing_image", "bad_image",
    "size_mismatch", "duplicate_id")}


@st.composite
def hostile_text(draw, valid: str) -> bytes:
    """The valid file with 1-3 whitespace-separated tokens swapped for hostile ones, or any
    bytes."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=200))
    tokens = valid.replace("\n", " \n ").split(" ")
    for _ in range(draw(st.integers(1, 3))):
        tokens[draw(st.integers(0, len(tokens) - 1))] = draw(st.sampled_from(HOSTILE))
    return " ".join(tokens).encode("utf-8", "surrogatepass")


VALID_LABELS = SEGMENTS["train/a.jpg"] + "1 0.5 0.5 0.5 0.5\n"
VALID_YAML = "path: .\ntrain: images/train\nval: images/train\nnames: {0: zebra, 1: apple}\nnc: 2\n"


@reaches("promise checked")
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_label_and_yaml_files_keep_the_promise(tmp_path, data):
    root = tmp_path / "ds"
    if not root.exists():
        ultralytics(root, labels={"train/a.jpg": VALID_LABELS, "train/b.jpg": "0 .5 .5 .5 .5\n"})
    which, valid = data.draw(st.sampled_from([("labels/train/a.txt", VALID_LABELS),
                                              ("data.yaml", VALID_YAML)]))
    (root / which).write_bytes(data.draw(hostile_text(valid)))
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    try:
        tfrconv.convert("yolo", data_dir=str(root), output=str(out / "y.record"),
                        include_masks=data.draw(st.booleans()), **SKIP_ALL)
    except tfrconv.TfrconvError as exc:
        assert "\n" not in str(exc), str(exc)
        assert not out.exists() or not os.listdir(out), os.listdir(out)
        branch("a one-line error")
    else:
        assert not [n for n in os.listdir(out) if n.startswith(".")], os.listdir(out)
        branch("converted")
    finally:
        (root / which).write_text(valid)
    branch("promise checked")


# -- the conformance kit --------------------------------------------------------------------
def test_the_conformance_kit(tmp_path):
    from tfrconv.testing import check_format

    root = ultralytics(tmp_path / "ds")
    others = []
    for name in FORMATS:
        make(name, tmp_path / "others" / name, standard_pictures())
        others.append(tmp_path / "others" / name)

    def break_item(copy):
        label = copy / "labels" / "train" / "a.txt"
        label.write_text("0 0.5 0.5 0.2 0.2\n-1 0.5 0.5 0.1 0.1\n")
        return label, 2

    check_format("yolo", {"data_dir": root}, tmp_path / "kit", examples=3, objects=3,
                 dataset=root, break_item=break_item, others=others)


def test_a_list_file_cannot_reach_outside_the_dataset(tmp_path):
    """A list entry leading out of the dataset root is refused, naming the path, unless
    allow_outside_paths (an absolute path inside the root is fine)."""
    root = ultralytics(tmp_path / "ds", labels={"train/a.jpg": "0 0.5 0.5 0.5 0.5\n"})
    write_jpeg(str(tmp_path / "outside.jpg"), W, H, 3)
    inside = os.path.join(root, "images", "train", "a.jpg")
    write(tmp_path / "ds" / "list.txt", f"{inside}\n../outside.jpg\n")
    write(tmp_path / "ds" / "data.yaml", "train: list.txt\nnames: [zebra]\n")
    out = tmp_path / "y.record"
    with pytest.raises(DataError, match="outside.jpg leads outside the dataset folder"):
        tfrconv.convert("yolo", data_dir=root, output=str(out))
    summary = tfrconv.convert("yolo", data_dir=root, output=str(out), allow_outside_paths=True)
    assert summary.examples == 2
    write(tmp_path / "ds" / "list.txt", f"{inside}\nimages/x\x00.jpg\n")
    with pytest.raises(DataError, match="NUL byte") as info:
        tfrconv.convert("yolo", data_dir=root, output=str(out))
    assert info.value.file.endswith("list.txt") and info.value.line == 2


def test_whole_dataset_conversion_names_every_split(tmp_path):
    """`tfrconv convert ROOT --output DIR/`: each split the data.yaml declares, one label map
    in the names' order."""
    root = ultralytics(tmp_path / "ds")
    out = tmp_path / "whole"
    assert cli_main(["convert", root, "--output", str(out) + os.sep, "--quiet"]) == 0
    assert len(parse_records(str(out / "train.record"))) == 2
    (val,) = parse_records(str(out / "val.record"))
    assert texts(val) == ["zebra"] and val["image/object/class/label"].tolist() == [1]


def test_records_exported_as_yolo_convert_back_to_the_same_boxes(tmp_path):
    """YOLO → records → `export_records(to="yolo")` (its data.yaml: names as a JSON flow list,
    no path) → YOLO again: same classes, ids and boxes (the export writes 6 decimals)."""
    root = ultralytics(tmp_path / "ds")
    for split in ("train", "val"):            # the export names its splits after the files
        tfrconv.convert("yolo", data_dir=root, split=split,
                        output=str(tmp_path / "r1" / f"{split}.record"))
    tfrconv.export_records(str(tmp_path / "r1"), "yolo", str(tmp_path / "exported"))
    tfrconv.convert("yolo", data_dir=str(tmp_path / "exported"),
                    output=str(tmp_path / "r2" / "data.record"))
    for split in ("train", "val"):
        first = parse_records(str(tmp_path / "r1" / f"{split}.record"))
        second = parse_records(str(tmp_path / "r2" / f"data_{split}.record"))
        assert [(texts(r), r["image/object/class/label"].tolist(), boxes(r)) for r in first] \
            == [(texts(r), r["image/object/class/label"].tolist(), boxes(r)) for r in second]


def test_not_detected_on_labelme_and_cvat_exports(tmp_path):
    """LabelMe (a JSON beside each image) and a CVAT export (annotations.xml beside images/)."""
    write_jpeg(str(tmp_path / "labelme" / "a.jpg"), W, H, 1)
    write(tmp_path / "labelme" / "a.json", json.dumps({
        "version": "5.4.1", "shapes": [{"label": "cat", "points": [[1, 1], [9, 9]],
                                        "shape_type": "rectangle"}],
        "imagePath": "a.jpg", "imageData": None, "imageHeight": H, "imageWidth": W}))
    write_jpeg(str(tmp_path / "cvat" / "images" / "a.jpg"), W, H, 1)
    write(tmp_path / "cvat" / "annotations.xml",
          '<annotations><version>1.1</version><image id="0" name="a.jpg" width="40" '
          'height="20"><box label="cat" xtl="1" ytl="1" xbr="9" ybr="9" occluded="0"/>'
          '</image></annotations>')
    for name in ("labelme", "cvat"):
        report = detect_formats(str(tmp_path / name))
        assert [m.format for m in report.matches] == [name], report.lines()
