"""`tfrconv records export` / `tfrconv.export_records`: records back to VOC, COCO and YOLO.

Oracles: round trips compared feature by feature with TensorFlow's own parser (tests/parity.py),
pycocotools' COCOeval on the original annotations, and YOLO label lines worked out by hand.
"""

from __future__ import annotations

import json
import os
import struct

import pytest
import recordmaker
from hypothesis import given
from hypothesis import strategies as st
from reach import branch, reaches

import tfrconv
from tfrconv.cli import main as cli_main
from tfrconv.records.export_common import pixel, safe_name, split_of


def write_jpeg(path, width, height, colour):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (width, height), colour).save(path, format="JPEG")


def records_payloads(path) -> list[bytes]:
    return list(tfrconv.api.read_records(str(path)))


# -- VOC: VOC -> records -> VOC -> records gives equal examples ----------------------------------
VOC_OBJECTS = {
    "a": (40, 30, [("cat", 2.5, 3, 17.25, 20, 1, 0, "Left"), ("dog", 0, 0, 40, 30, 0, 1,
                                                              "Frontal")]),
    "b": (33, 21, [("dog", 1, 1.1, 30.7, 19.9, 0, 0, "Unspecified")]),
    "c": (25, 25, []),
}


def make_voc(root) -> str:
    for stem, (width, height, objects) in VOC_OBJECTS.items():
        write_jpeg(os.path.join(root, "JPEGImages", stem + ".jpg"), width, height, (9, 99, 199))
        body = "".join(
            f"<object><name>{name}</name><pose>{pose}</pose><truncated>{trunc}</truncated>"
            f"<difficult>{diff}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for name, x0, y0, x1, y1, diff, trunc, pose in objects)
        os.makedirs(os.path.join(root, "Annotations"), exist_ok=True)
        with open(os.path.join(root, "Annotations", stem + ".xml"), "w") as fileobj:
            fileobj.write(f"<annotation><filename>{stem}.jpg</filename><size><width>{width}"
                          f"</width><height>{height}</height><depth>3</depth></size>{body}"
                          "</annotation>")
    os.makedirs(os.path.join(root, "ImageSets", "Main"), exist_ok=True)
    with open(os.path.join(root, "ImageSets", "Main", "val.txt"), "w") as fileobj:
        fileobj.write("a\nb\nc\n")
    with open(os.path.join(root, "label_map.pbtxt"), "w") as fileobj:
        fileobj.write("item { id: 3 name: 'cat' }\nitem { id: 7 name: 'dog' }\n")
    return str(root)


def test_voc_round_trip_gives_equal_examples(tmp_path):
    from parity import typed_features

    first = tmp_path / "first" / "val.record"
    tfrconv.convert("voc", data_dir=make_voc(tmp_path / "voc"), set="val", output=str(first),
                    workers=1)
    summary = tfrconv.export_records(str(first), "voc", tmp_path / "exported")
    assert (summary.images, summary.objects, summary.splits) == (3, 3, {"val": 3})
    exported = tmp_path / "exported"
    assert (exported / "ImageSets" / "Main" / "val.txt").read_text() == "a\nb\nc\n"
    second = tmp_path / "second" / "val.record"
    tfrconv.convert("voc", data_dir=str(exported), set="val", output=str(second), workers=1)

    before, after = records_payloads(first), records_payloads(second)
    assert len(before) == len(after) == 3
    for one, two in zip(before, after):
        # Every feature, its kind and values (floats by their float32 bits): source_id is
        # the file name in VOC, and the names stay as they were, so nothing differs.
        assert typed_features(one) == typed_features(two)
    xml = (exported / "Annotations" / "a.xml").read_text()
    assert "<xmin>2.5</xmin>" in xml and "<pose>Left</pose>" in xml
    assert "<difficult>1</difficult>" in xml and "<truncated>1</truncated>" in xml


def test_images_are_the_stored_bytes(tmp_path):
    first = tmp_path / "r" / "val.record"
    tfrconv.convert("voc", data_dir=make_voc(tmp_path / "voc"), set="val", output=str(first),
                    workers=1)
    for to, folder in (("voc", "JPEGImages"), ("coco", "val"), ("yolo", "images/val")):
        tfrconv.export_records(str(first), to, tmp_path / f"out_{to}")
        for stem in VOC_OBJECTS:
            original = (tmp_path / "voc" / "JPEGImages" / f"{stem}.jpg").read_bytes()
            assert (tmp_path / f"out_{to}" / folder / f"{stem}.jpg").read_bytes() == original


# -- COCO: COCO -> records -> COCO loads in pycocotools, AP 1.0 against the original ----------
def polygon(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x + w / 2, y + h + 3, x, y + h]]


def make_coco(root):
    import numpy as np

    images = [{"id": 11, "file_name": "p.jpg", "width": 60, "height": 40},
              {"id": 42, "file_name": "q.jpg", "width": 50, "height": 50},
              {"id": 7, "file_name": "r.jpg", "width": 30, "height": 20}]
    crowd = np.zeros((50, 50), np.uint8, order="F")
    crowd[5:30, 10:45] = 1
    runs, last, length = [], 0, 0          # uncompressed RLE, as COCO writes crowds
    for value in crowd.flatten(order="F"):
        if value != last:
            runs.append(length)
            last, length = value, 0
        length += 1
    runs.append(length)
    annotations = [
        {"id": 1, "image_id": 11, "category_id": 1, "iscrowd": 0, "bbox": [3, 4, 20, 15],
         "area": 280.0, "segmentation": polygon(3, 4, 20, 12)},
        {"id": 2, "image_id": 11, "category_id": 5, "iscrowd": 0, "bbox": [30, 2, 25, 30],
         "area": 700.0, "segmentation": polygon(30, 2, 25, 27)},
        {"id": 3, "image_id": 42, "category_id": 5, "iscrowd": 1, "bbox": [10, 5, 35, 25],
         "area": float(crowd.sum()), "segmentation": {"size": [50, 50], "counts": runs}},
        {"id": 4, "image_id": 42, "category_id": 1, "iscrowd": 0, "bbox": [1, 35, 12, 10],
         "area": 100.0, "segmentation": polygon(1, 35, 12, 7)},
    ]
    for index, image in enumerate(images):
        write_jpeg(os.path.join(root, "val2017", image["file_name"]), image["width"],
                   image["height"], (50 * index, 80, 120))
    path = os.path.join(root, "annotations", "instances_val2017.json")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as fileobj:
        json.dump({"images": images, "annotations": annotations, "categories": [
            {"id": 1, "name": "cat"}, {"id": 5, "name": "dog"}]}, fileobj)
    return path


def evaluate(truth_path, detections, iou_type) -> float:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(truth_path)
        results = truth.loadRes(detections)
        run = COCOeval(truth, results, iou_type)
        run.evaluate()
        run.accumulate()
        run.summarize()
    return run.stats[0]


def test_coco_round_trip_evaluates_to_ap_1(tmp_path):
    from pycocotools.coco import COCO

    original = make_coco(str(tmp_path / "coco"))
    record = tmp_path / "r" / "val2017.record"
    tfrconv.convert("coco", annotations_file=original, include_masks=True, output=str(record),
                    workers=1)
    tfrconv.export_records(str(record), "coco", tmp_path / "out")
    exported_path = str(tmp_path / "out" / "annotations" / "instances_val2017.json")
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        exported = COCO(exported_path)            # loads in pycocotools
    assert sorted(exported.getImgIds()) == [7, 11, 42]
    assert [c["name"] for c in exported.loadCats([1, 5])] == ["cat", "dog"]
    anns = exported.loadAnns(exported.getAnnIds())
    assert sorted(a["iscrowd"] for a in anns) == [0, 0, 0, 1]

    boxes = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
              "score": 1.0} for a in anns]
    assert evaluate(original, boxes, "bbox") == 1.0
    masks = [{"image_id": a["image_id"], "category_id": a["category_id"],
              "segmentation": a["segmentation"], "score": 1.0} for a in anns]
    assert evaluate(original, masks, "segm") == 1.0


def test_coco_ap_notices_a_moved_box(tmp_path):
    """The AP oracle is sharp: one exported box shifted by 5 px is no longer AP 1.0."""
    original = make_coco(str(tmp_path / "coco"))
    record = tmp_path / "r" / "val2017.record"
    tfrconv.convert("coco", annotations_file=original, output=str(record), workers=1)
    tfrconv.export_records(str(record), "coco", tmp_path / "out")
    with open(tmp_path / "out" / "annotations" / "instances_val2017.json") as fileobj:
        anns = json.load(fileobj)["annotations"]
    anns[0]["bbox"][0] += 5
    boxes = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
              "score": 1.0} for a in anns]
    assert evaluate(original, boxes, "bbox") < 1.0


# -- YOLO: known answers ---------------------------------------------------------------------
def yolo_records(tmp_path):
    first = recordmaker.good_features("one.jpg")                  # circle, square
    second = recordmaker.good_features("two.png", 32, 32,
                                       recordmaker.image_bytes(32, 32, fmt="PNG"))
    second.update({
        "image/object/bbox/xmin": ("float", [0.0, 0.25]),
        "image/object/bbox/ymin": ("float", [0.5, 0.25]),
        "image/object/bbox/xmax": ("float", [1.0, 0.75]),
        "image/object/bbox/ymax": ("float", [1.0, 0.5]),
        "image/object/class/text": ("bytes", [b"square", b"circle"]),
        "image/object/class/label": ("int", [5, 1]),
        "image/object/difficult": ("int", [0, 0]),
        "image/object/is_crowd": ("int", [0, 1]),
    })
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "train.label_map.pbtxt").write_text(
        "item { id: 1 name: 'circle' }\nitem { id: 5 name: 'square' }\n")
    return recordmaker.write(folder / "train.record", [first, second])


def read_labels(path):
    return [[float(v) if i else int(v) for i, v in enumerate(line.split())]
            for line in path.read_text().splitlines()]


def test_yolo_export_known_answers(tmp_path):
    import yaml

    summary = tfrconv.export_records(yolo_records(tmp_path), "yolo", tmp_path / "y")
    out = tmp_path / "y"
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data == {"train": "images/train", "nc": 2, "names": ["circle", "square"]}
    # good_features: circle (0.1, 0.2)-(0.4, 0.6), square (0.5, 0.25)-(0.9, 0.75)
    expected_one = [[0, 0.25, 0.4, 0.3, 0.4], [1, 0.7, 0.5, 0.4, 0.5]]
    expected_two = [[1, 0.5, 0.75, 1.0, 0.5]]        # the crowd circle is left out
    for name, expected in (("one", expected_one), ("two", expected_two)):
        got = read_labels(out / "labels" / "train" / f"{name}.txt")
        assert [row[0] for row in got] == [row[0] for row in expected]
        for row, want in zip(got, expected):
            assert row[1:] == pytest.approx(want[1:], abs=1e-6)
    assert sorted(os.listdir(out / "images" / "train")) == ["one.jpg", "two.png"]
    assert summary.notes == ["1 crowd objects left out (YOLO has no crowd regions)"]


def test_yolo_names_from_the_records_without_a_label_map(tmp_path):
    import yaml

    path = recordmaker.write(tmp_path / "val.record", [recordmaker.good_features()])
    tfrconv.export_records(path, "yolo", tmp_path / "y", split="test")
    data = yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())
    assert data["names"] == ["circle", "square"] and data["test"] == "images/test"


# -- names, atomicity, bad input ---------------------------------------------------------------
def test_file_names_stay_inside_and_are_unique(tmp_path):
    examples = [recordmaker.good_features(name) for name in
                ("../../evil.jpg", "a.jpg", "A.jpg", "a.jpg", "sub\\dir/b c.jpg", "")]
    path = recordmaker.write(tmp_path / "x.record", examples)
    tfrconv.export_records(path, "voc", tmp_path / "v")
    assert (tmp_path / "v" / "ImageSets" / "Main" / "x.txt").read_text().split() == [
        "evil", "a", "A_1", "a_2", "b_c", "image_000005"]
    assert not (tmp_path / "evil.jpg").exists()
    assert sorted(os.listdir(tmp_path)) == ["v", "x.record"]


@reaches("divided back")
@given(st.floats(0, 1, width=32), st.integers(1, 10_000))
def test_pixel_divides_back_to_the_stored_float32(value, size):
    back = struct.unpack("<f", struct.pack("<f", pixel(value, size) / size))[0]
    branch("divided back")
    assert back == value


def test_safe_name():
    assert safe_name("..\\..//x\n y.jpg") == "x__y.jpg"
    assert safe_name("...") == ""
    assert len(safe_name("é" * 300 + ".jpg").encode()) <= 200


def test_a_failed_export_leaves_nothing(tmp_path):
    good = recordmaker.good_features("ok.jpg")
    strange = recordmaker.good_features("odd.jpg")
    strange["image/object/class/text"] = ("bytes", [b"circle", b"hexagon"])
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "label_map.pbtxt").write_text(recordmaker.LABEL_MAP)
    path = recordmaker.write(folder / "d.record", [good, strange])
    with pytest.raises(tfrconv.DataError, match="hexagon"):
        tfrconv.export_records(path, "coco", tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_damaged_records_stop_or_are_skipped(tmp_path, capsys):
    path = recordmaker.write(tmp_path / "d.record", [recordmaker.good_features("a.jpg"),
                                                       b"not an example",
                                                       recordmaker.good_features("b.jpg")])
    with pytest.raises(tfrconv.DataError, match="record 1"):
        tfrconv.export_records(path, "voc", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    summary = tfrconv.export_records(path, "voc", tmp_path / "out", on_error="skip")
    assert summary.images == 2
    assert "skipped" in capsys.readouterr().err


def test_an_existing_folder_is_never_overwritten(tmp_path):
    path = recordmaker.write(tmp_path / "d.record", [recordmaker.good_features()])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(tfrconv.UsageError, match="not empty"):
        tfrconv.export_records(path, "yolo", tmp_path / "out")
    assert os.listdir(tmp_path / "out") == ["keep.txt"]


def test_command_line(tmp_path, capsys):
    path = recordmaker.write(tmp_path / "val.record", [recordmaker.good_features()])
    code = cli_main(["records", "export", path, "--to", "coco", "--out", str(tmp_path / "c")])
    assert code == 0
    assert "exported 1 images, 2 objects" in capsys.readouterr().out
    assert (tmp_path / "c" / "annotations" / "instances_val.json").is_file()
    with pytest.raises(SystemExit) as exited:
        cli_main(["records", "export", path, "--to", "darknet", "--out", "x"])
    assert exited.value.code == 2


# -- YOLO: split names a conversion gives its outputs -------------------------------------------
YOLO_SPLITS = {"train": {"a": [(0, 0.5, 0.5, 0.4, 0.2)], "b": [(1, 0.25, 0.75, 0.5, 0.5)]},
               "val": {"c": [(1, 0.5, 0.5, 0.2, 0.4), (0, 0.3, 0.3, 0.2, 0.2)]}}


def make_yolo(root):
    for split, images in YOLO_SPLITS.items():
        for stem, rows in images.items():
            write_jpeg(os.path.join(root, "images", split, f"{stem}.jpg"), 40, 20, "white")
            os.makedirs(os.path.join(root, "labels", split), exist_ok=True)
            with open(os.path.join(root, "labels", split, f"{stem}.txt"), "w") as fileobj:
                fileobj.writelines(" ".join(map(str, row)) + "\n" for row in rows)
    with open(os.path.join(root, "data.yaml"), "w") as fileobj:
        fileobj.write("train: images/train\nval: images/val\nnames: [cat, dog]\n")


def yolo_rows(record_path) -> dict[str, list]:
    """{image stem: [(class name, cx, cy, w, h)]} read back from records."""
    rows = {}
    for sample in tfrconv.read_samples(str(record_path)):
        rows[os.path.splitext(sample.filename)[0]] = [
            (obj.label, (obj.xmin + obj.xmax) / 2, (obj.ymin + obj.ymax) / 2,
             obj.xmax - obj.xmin, obj.ymax - obj.ymin) for obj in sample.objects]
    return rows


def test_yolo_round_trip_through_split_named_records(tmp_path):
    """`tfrconv yolo` → data_train/data_val records → export → `tfrconv yolo` reads each split."""
    import yaml

    make_yolo(tmp_path / "yolo")
    for split in YOLO_SPLITS:
        assert cli_main(["yolo", "--data-dir", str(tmp_path / "yolo"), "--split", split,
                         "--output", str(tmp_path / "r" / f"data_{split}.record"), "-q"]) == 0
    assert cli_main(["records", "export", str(tmp_path / "r" / "data_train.record"),
                     str(tmp_path / "r" / "data_val.record"), "--to", "yolo",
                     "--out", str(tmp_path / "y")]) == 0
    data = yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())
    assert data["train"] == "images/train" and data["val"] == "images/val"
    names = ["cat", "dog"]
    for split, images in YOLO_SPLITS.items():
        again = tmp_path / "again" / f"{split}.record"
        assert cli_main(["yolo", "--data-dir", str(tmp_path / "y"), "--split", split,
                         "--output", str(again), "-q"]) == 0
        got = yolo_rows(again)
        assert sorted(got) == sorted(images)
        for stem, rows in images.items():
            assert [row[0] for row in got[stem]] == [names[row[0]] for row in rows]
            for have, want in zip(got[stem], rows):
                assert have[1:] == pytest.approx(want[1:], abs=1e-5)


@pytest.mark.parametrize(("name", "split"), [
    ("data_train.record", "train"), ("data_val.record-00000-of-00002", "val"),
    ("out/x_y_valid.tfrecord", "val"), ("coco_validation.record", "val"),
    ("set_test.record.gz", "test"), ("voc_trainval.record", "trainval"),
    ("valid.record", "val"), ("val2017.record", "val2017"), ("my_data.record", "my_data"),
    ("data_Train.record", "train"), ("??.record", "train")])
def test_split_from_record_file_name(name, split):
    assert split_of(name) == split
