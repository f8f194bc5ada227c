"""LabelMe JSON: datasets written as the labelme tool saves them (one JSON per image, images
beside or embedded as imageData), read back with the OD API's own decoder (tests/odapi.py).
Every expected value below is worked out by hand from the dataset written here."""

from __future__ import annotations

import base64
import io
import json
import os
import re

import numpy as np
import pytest
from datasets import FORMATS, make, standard_pictures
from odapi import parse_records

import tfrconv
from tfrconv.cli import main
from tfrconv.detect import detect_formats

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def image_bytes(width: int, height: int, fmt: str = "JPEG", seed: int = 0) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30 * seed % 256, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def shape(label, points, kind="polygon", group_id=None):
    return {"label": label, "points": [list(p) for p in points], "group_id": group_id,
            "description": "", "shape_type": kind, "flags": {}}


def write_labelme(path, shapes, image_path, width, height, image_data=None, indent=2):
    """One annotation as labelme 5 saves it (key order and all)."""
    doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
           "imageData": image_data, "imageHeight": height, "imageWidth": width}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fileobj:
        json.dump(doc, fileobj, indent=indent)


def write_image(path, width, height, fmt="JPEG", seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fileobj:
        fileobj.write(image_bytes(width, height, fmt, seed))


def labelme_dataset(root) -> str:
    """Four images: a rectangle (corners given bottom-right first) and a polygon beside their
    JSON; a subfolder image named with Windows separators from an annotations/ folder; an
    embedded PNG with skipped shape types; a negative."""
    root = str(root)
    write_image(os.path.join(root, "a.jpg"), 40, 20, seed=1)
    write_labelme(os.path.join(root, "a.json"), [
        shape("cat", [(30, 15), (10, 5)], "rectangle"),
        shape("dog", [(4, 2), (20, 2), (12, 18)]),
    ], "a.jpg", 40, 20)
    write_image(os.path.join(root, "images", "b.jpg"), 20, 16, seed=2)
    write_labelme(os.path.join(root, "annotations", "b.json"), [
        shape("dog", [(0, 0), (10, 8)], "rectangle"),
    ], "..\\images\\b.jpg", 20, 16)
    embedded = base64.b64encode(image_bytes(10, 10, "PNG")).decode()
    write_labelme(os.path.join(root, "embedded", "c.json"), [
        shape("cat", [(1, 1), (9, 9)], "rectangle"),
        shape("cat", [(5, 5), (7, 5)], "circle"),
        shape("dog", [(1, 1), (2, 2)], "line"),
        shape("dog", [(3, 3)], "point"),
        shape("dog", [(1, 1), (2, 2), (3, 1)], "linestrip"),
    ], "c.png", 10, 10, image_data=embedded)
    write_image(os.path.join(root, "d.jpg"), 12, 12, seed=3)
    write_labelme(os.path.join(root, "d.json"), [], "d.jpg", 12, 12)
    return root


def convert(root, out, **options):
    options.setdefault("workers", 1)
    return tfrconv.convert("labelme", data_dir=str(root), output=str(out), **options)


def by_source_id(records):
    return {r["image/source_id"].decode(): r for r in records}


def test_known_answers(tmp_path):
    root = labelme_dataset(tmp_path / "lm")
    out = tmp_path / "out.record"
    summary = convert(root, out)
    assert (summary.examples, summary.objects) == (4, 4)
    records = parse_records(str(out))
    # Items are the .json files, folder by folder in sorted order: a, d, then annotations/b,
    # embedded/c; the source id is the image's path inside the data folder.
    assert [r["image/source_id"] for r in records] == [
        b"a.jpg", b"d.jpg", b"images/b.jpg", b"embedded/c.png"]
    # Generated label map: the classes found, sorted, ids from 1.
    with open(tmp_path / "out.label_map.pbtxt", encoding="utf-8") as fileobj:
        label_map = fileobj.read()
    assert re.findall(r'name: "(\w+)"\s+id: (\d+)', label_map) == [("cat", "1"), ("dog", "2")]
    a, d, b, c = records
    # rectangle (10,5)-(30,15) on 40x20; triangle extent (4,2)-(20,18)
    np.testing.assert_array_equal(a["image/object/bbox/xmin"], np.float32([10 / 40, 4 / 40]))
    np.testing.assert_array_equal(a["image/object/bbox/ymin"], np.float32([5 / 20, 2 / 20]))
    np.testing.assert_array_equal(a["image/object/bbox/xmax"], np.float32([30 / 40, 20 / 40]))
    np.testing.assert_array_equal(a["image/object/bbox/ymax"], np.float32([15 / 20, 18 / 20]))
    assert list(a["image/object/class/text"]) == [b"cat", b"dog"]
    assert list(a["image/object/class/label"]) == [1, 2]
    assert (a["image/filename"], a["image/format"]) == (b"a.jpg", b"jpeg")
    assert a["decoded_shape"] == (20, 40, 3)
    np.testing.assert_array_equal(b["image/object/bbox/xmax"], np.float32([10 / 20]))
    np.testing.assert_array_equal(b["image/object/bbox/ymax"], np.float32([8 / 16]))
    assert b["image/filename"] == b"b.jpg"
    # embedded PNG: the bytes from imageData; circle, line, point and linestrip left out
    assert (c["image/format"], c["decoded_shape"]) == (b"png", (10, 10, 3))
    assert list(c["image/object/class/text"]) == [b"cat"]
    assert len(d["image/object/bbox/xmin"]) == 0


def test_an_output_written_inside_the_dataset_is_not_read_back(tmp_path):
    root = labelme_dataset(tmp_path / "data")
    first = convert(root, tmp_path / "data" / "out" / "x.record")
    again = convert(root, tmp_path / "data" / "out" / "x.record")   # the manifest is beside
    assert (first.examples, first.skipped_images) == (again.examples, again.skipped_images) == \
        (4, 0)


def test_cli_and_library_agree(tmp_path, capsys):
    root = labelme_dataset(tmp_path / "lm")
    convert(root, tmp_path / "lib.record")
    assert main(["labelme", "--data-dir", root, "--output", str(tmp_path / "cli.record"),
                 "--workers", "2", "--no-progress"]) == 0
    assert (tmp_path / "lib.record").read_bytes() == (tmp_path / "cli.record").read_bytes()


def test_masks_from_polygons_rectangles_and_groups(tmp_path):
    root = str(tmp_path / "lm")
    write_image(os.path.join(root, "m.jpg"), 20, 16)
    write_labelme(os.path.join(root, "m.json"), [
        shape("dog", [(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)]),       # an L
        shape("cat", [(12, 2), (18, 6)], "rectangle", group_id=7),
        shape("dog", [(14, 12), (16, 12), (16, 14), (14, 14)], group_id=7),     # other label
        shape("cat", [(12, 10), (14, 10), (14, 12), (12, 12)], group_id=7),     # cat's part
    ], "m.jpg", 20, 16)
    out = tmp_path / "m.record"
    convert(root, out, include_masks=True)
    (record,) = parse_records(str(out))
    # one object per shape, except the cat drawn in two parts (same label and group_id)
    assert list(record["image/object/class/text"]) == [b"dog", b"cat", b"dog"]
    np.testing.assert_array_equal(record["image/object/bbox/xmin"],
                                  np.float32([0, 12 / 20, 14 / 20]))
    np.testing.assert_array_equal(record["image/object/bbox/ymax"],
                                  np.float32([10 / 16, 12 / 16, 14 / 16]))
    masks = record.decoded["groundtruth_instance_masks"]
    expected = np.zeros((3, 16, 20), dtype=np.uint8)
    expected[0, 0:4, 0:10] = 1
    expected[0, 4:10, 0:4] = 1
    expected[1, 2:6, 12:18] = 1
    expected[1, 10:12, 12:14] = 1
    expected[2, 12:14, 14:16] = 1
    np.testing.assert_array_equal(masks, expected)


def test_image_size_comes_from_the_annotation_and_is_checked(tmp_path):
    root = str(tmp_path / "lm")
    write_image(os.path.join(root, "s.jpg"), 20, 10)
    write_labelme(os.path.join(root, "s.json"), [shape("cat", [(1, 1), (5, 5)], "rectangle")],
                  "s.jpg", 30, 10)
    with pytest.raises(tfrconv.DataError, match="annotation says 30x10 but the image is 20x10"):
        convert(root, tmp_path / "s.record")


# -- broken input: one line naming the file (and line) ----------------------------------------
def broken(tmp_path, text: str | bytes) -> str:
    root = str(tmp_path / "bad")
    write_image(os.path.join(root, "x.jpg"), 8, 8)
    path = os.path.join(root, "x.json")
    with open(path, "wb") as fileobj:
        fileobj.write(text.encode() if isinstance(text, str) else text)
    return root


def error_of(root, tmp_path, **options) -> str:
    with pytest.raises(tfrconv.DataError) as info:
        convert(root, tmp_path / "o.record", label_map=_label_map(tmp_path), **options)
    return str(info.value)


def _label_map(tmp_path) -> str:
    path = tmp_path / "lm.pbtxt"
    path.write_text("item { id: 1 name: 'cat' }\n")
    return str(path)


def good_json(**changes) -> dict:
    doc = {"version": "5.4.1", "flags": {},
           "shapes": [shape("cat", [(1, 1), (5, 5)], "rectangle"),
                      shape("cat", [(2, 2), (6, 6)], "rectangle")],
           "imagePath": "x.jpg", "imageData": None, "imageHeight": 8, "imageWidth": 8}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("text,message", [
    ('{"shapes": [\n  {"label": "cat",\n   "points": [[1, 2]], }\n]}',
     r"x\.json:3:24: not valid JSON: Expecting property name"),
    (b'{"shapes": [],\n "imagePath": "\xff.jpg"}', r"x\.json:2:16: not UTF-8 text"),
    ('[1, 2]', r"x\.json: not a LabelMe annotation: no 'shapes' list"),
    (json.dumps(good_json(imageData="not base64!")), r"x\.json: imageData is not valid base64"),
    (json.dumps(good_json(imagePath=None)),
     r"x\.json: neither imagePath nor imageData names the image"),
    (json.dumps(good_json(imageWidth=-3)),
     r"x\.json: imageWidth must be a positive integer, found -3"),
])
def test_broken_files_are_one_line_naming_the_place(tmp_path, text, message):
    assert re.search(message, error_of(broken(tmp_path, text), tmp_path))


@pytest.mark.parametrize("bad_shape,message", [
    ({"label": "cat", "points": [[1, 1], ["a", 2]], "shape_type": "polygon"},
     r"shapes\[1\] \('cat'\): points must be \[x, y\] pairs of numbers"),
    ({"label": "cat", "points": [[1, 1], [2, 2]], "shape_type": "polygon"},
     r"shapes\[1\] \('cat'\): a polygon needs at least 3 points, found 2"),
    ({"label": "cat", "points": [[1, 1], [2, 2]], "shape_type": "hexagon"},
     r"shapes\[1\] \('cat'\): unknown shape_type 'hexagon'"),
    ({"label": " ", "points": [[1, 1], [2, 2]], "shape_type": "rectangle"},
     r"shapes\[1\]: no label"),
])
def test_a_broken_shape_names_its_line(tmp_path, bad_shape, message):
    doc = good_json()
    doc["shapes"][1] = bad_shape
    text = json.dumps(doc, indent=2)
    # shapes[1] starts on the line of the second "{" that opens a shape
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if '"shapes"' in line)
    openers = [i for i, line in enumerate(lines) if line.strip() == "{" and i > first]
    error = error_of(broken(tmp_path, text), tmp_path)
    assert f"x.json:{openers[1] + 1}: " in error, error
    assert re.search(message, error), error
    assert "\n" not in error


def test_on_error_skip_drops_the_broken_file_and_keeps_the_rest(tmp_path):
    root = broken(tmp_path, '{"shapes": [}')
    write_image(os.path.join(root, "y.jpg"), 8, 8)
    write_labelme(os.path.join(root, "y.json"), [shape("cat", [(1, 1), (5, 5)], "rectangle")],
                  "y.jpg", 8, 8)
    summary = convert(root, tmp_path / "o.record", on_error="skip")
    assert summary.examples == 1


def test_missing_image_and_image_outside_the_folder(tmp_path):
    root = str(tmp_path / "lm")
    write_labelme(os.path.join(root, "gone.json"), [], "gone.jpg", 8, 8)
    with pytest.raises(tfrconv.DataError, match="no such image file"):
        convert(root, tmp_path / "o.record", label_map=_label_map(tmp_path))
    os.remove(os.path.join(root, "gone.json"))
    write_image(str(tmp_path / "outside.jpg"), 8, 8)
    write_labelme(os.path.join(root, "out.json"), [], "../outside.jpg", 8, 8)
    with pytest.raises(tfrconv.DataError, match="leads outside the dataset folder"):
        convert(root, tmp_path / "o.record", label_map=_label_map(tmp_path))


def test_a_folder_without_json_files(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["labelme", "--data-dir", str(tmp_path / "empty"), "--output",
                 str(tmp_path / "o.record")]) == 1
    err = capsys.readouterr().err
    assert "no LabelMe .json files" in err and len(err.strip().splitlines()) == 1


# -- detection ---------------------------------------------------------------------------------
def test_detection_ranks_labelme_first_on_its_own_data(tmp_path):
    report = detect_formats(labelme_dataset(tmp_path / "lm"))
    assert [r.format for r in report.matches][:1] == ["labelme"], report.lines()


@pytest.mark.parametrize("name", FORMATS)
def test_detection_does_not_claim_other_formats(tmp_path, name):
    _layout, options = make(name, tmp_path / name, standard_pictures())
    report = detect_formats(tmp_path / name)
    assert "labelme" not in [r.format for r in report.matches], report.lines()


# -- the conformance kit -----------------------------------------------------------------------
def test_the_conformance_kit(tmp_path):
    from tfrconv.testing import check_format

    root = labelme_dataset(tmp_path / "lm")
    others = []
    for name in FORMATS:
        make(name, tmp_path / "others" / name, standard_pictures())
        others.append(tmp_path / "others" / name)

    def break_item(copy):
        path = copy / "a.json"
        path.write_text('{"version": "5.4.1", "shapes": [\n'
                        '  {"label": "cat", "points": [[1, 2]], "shape_type": "polygon"}\n'
                        '], "imagePath": "a.jpg", "imageData": null}\n')
        return path, 2

    check_format("labelme", {"data_dir": root}, tmp_path / "kit", examples=4, objects=4,
                 dataset=root, break_item=break_item, others=others)
