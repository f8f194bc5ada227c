"""Pascal VOC: reference parity with create_pascal_tf_record.py, and what users need beyond it.

The guarantees every format shares (sharding, atomic publish, manifest, policies, duplicate ids)
are tested for all builtin formats in their own modules (test_sharding.py, test_publish.py, ...).
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importcheck import modules_loaded
from odapi import parse_records
from parity import assert_same_kinds_and_values
from reach import branch, reaches

import tfrconv
import tfrconv.plugins
from tfrconv import DataError
from tfrconv.tfrecord import read_records


# -- the reference converter, rebuilt for comparison (benchmarks/reference_pascal.py) ----------
def reference_example(year_dir: str, image_id: str, label_map: dict[str, int],
                      ignore_difficult: bool = False):
    """What dataset_tools/create_pascal_tf_record.py writes for one image."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import reference_pascal

    data = reference_pascal.read_annotation(os.path.join(year_dir, "Annotations",
                                                         image_id + ".xml"))
    return reference_pascal.dict_to_example(data, os.path.dirname(year_dir), label_map,
                                            ignore_difficult)


SHAPES = {"circle": 1, "square": 2, "triangle": 3}


@pytest.mark.parametrize("image_set,ignore", [("val", False), ("train", True)])
def test_features_equal_the_reference_converter(tmp_path, shapes_voc, image_set, ignore):
    out = tmp_path / "out.record"
    summary = tfrconv.convert("voc", data_dir=str(shapes_voc), year="VOC2012", set=image_set,
                              output=str(out), ignore_difficult_instances=ignore)
    year_dir = str(shapes_voc / "VOC2012")
    with open(os.path.join(year_dir, "ImageSets", "Main", image_set + ".txt")) as fileobj:
        ids = fileobj.read().split()
    ours = list(read_records(str(out)))
    theirs = [reference_example(year_dir, i, SHAPES, ignore).SerializeToString() for i in ids]
    assert len(ours) == len(theirs) == summary.examples
    for image_id, mine, reference in zip(ids, ours, theirs):
        assert_same_kinds_and_values(mine, reference, where=image_id)   # keys, kinds, values
    parse_records(str(out))      # and the OD API decoder reads every record


def write_xml(path, filename, objects, size=(64, 64), declaration=None, encoding="utf-8",
              folder="VOC2012"):
    parts = [f"<annotation><folder>{folder}</folder><filename>{filename}</filename>"]
    if size:
        parts.append(f"<size><width>{size[0]}</width><height>{size[1]}</height>"
                     "<depth>3</depth></size>")
    for obj in objects:
        parts.append("<object>" + "".join(f"<{k}>{v}</{k}>" for k, v in obj.items()
                                          if k != "box"))
        if "box" in obj:
            parts.append("<bndbox>" + "".join(
                f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), obj["box"]))
                + "</bndbox>")
        parts.append("</object>")
    parts.append("</annotation>")
    text = "".join(parts)
    if declaration:
        text = f'<?xml version="1.0" encoding="{declaration}"?>\n' + text
    path.write_bytes(text.encode(encoding))


def _image(path, size=(64, 64), fmt="JPEG"):
    from PIL import Image

    Image.new("RGB", size, (200, 20, 20)).save(path, format=fmt)


@pytest.fixture
def plain_voc(tmp_path):
    """A labelImg-style folder: Annotations/ and JPEGImages/, no ImageSets, own label map."""
    root = tmp_path / "plain"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "label_map.pbtxt").write_text("item { id: 1 name: 'cat' }\n"
                                          "item { id: 2 name: 'dög' }\n")
    return root


def test_what_users_need_beyond_the_reference(tmp_path, plain_voc):
    ann, img = plain_voc / "Annotations", plain_voc / "JPEGImages"
    # PNG image with its true format
    _image(img / "a.png", fmt="PNG")
    write_xml(ann / "a.xml", "a.png", [{"name": "cat", "box": (1, 2, 30, 40)}])
    # missing pose/truncated/difficult, float coordinates, encoding declaration, latin-1 bytes
    _image(img / "b.jpg")
    write_xml(ann / "b.xml", "b.jpg", [{"name": "dög", "box": ("1.5", "2.25", "30.75", "40")}],
              declaration="ISO-8859-1", encoding="latin-1")
    # a negative image, and a stale filename with the image found by the annotation's id
    _image(img / "c.jpg")
    write_xml(ann / "c.xml", "IMG_0001.JPG", [])
    out = tmp_path / "o.record"
    summary = tfrconv.convert("voc", data_dir=str(plain_voc), output=str(out), workers=1)
    assert summary.examples == 3 and summary.objects == 2
    a, b, c = parse_records(str(out), extra={"image/object/view": "bytes",
                                             "image/object/truncated": "int"})
    assert a["image/format"] == b"png" and a["decoded_shape"] == (64, 64, 3)
    assert b["image/object/view"].tolist() == [b"Unspecified"]
    assert b["image/object/truncated"].tolist() == [0]
    assert b["image/object/difficult"].tolist() == [0]
    assert b["image/object/class/text"].tolist() == ["dög".encode()]
    assert b["image/object/class/label"].tolist() == [2]
    np.testing.assert_array_equal(b["image/object/bbox/xmin"], np.float32([1.5 / 64]))
    assert c["image/object/bbox/xmin"].size == 0
    assert c["image/filename"] == b"IMG_0001.JPG"


def test_unknown_classes_are_reported_all_at_once(tmp_path, plain_voc):
    ann, img = plain_voc / "Annotations", plain_voc / "JPEGImages"
    for index, name in enumerate(["cat", "dog", "horse", "dog"]):
        _image(img / f"{index}.jpg")
        write_xml(ann / f"{index}.xml", f"{index}.jpg", [{"name": name, "box": (1, 1, 9, 9)}])
    out = tmp_path / "o.record"
    with pytest.raises(DataError) as info:
        tfrconv.convert("voc", data_dir=str(plain_voc), output=str(out))
    message = str(info.value)
    assert "2 classes are not in the label map" in message
    assert "'dog' (2 objects in 2 files" in message and "1.xml" in message and "3.xml" in message
    assert "'horse' (1 object in 1 file" in message
    assert "\n" not in message
    assert not glob.glob(str(tmp_path / "*o.*")) and not glob.glob(str(tmp_path / ".o.*"))
    summary = tfrconv.convert("voc", data_dir=str(plain_voc), output=str(out),
                              skip_unknown_classes=True)
    assert summary.examples == 4 and summary.objects == 1 and summary.skipped_objects == 3
    assert summary.problems["unknown_class"]["count"] == 3


def test_image_lists_per_class_files_and_no_imagesets(tmp_path, voc_copy):
    main = voc_copy / "VOC2012" / "ImageSets" / "Main"
    val_ids = (main / "val.txt").read_text().split()
    (main / "val.txt").unlink()
    (main / "circle_val.txt").write_text("".join(f"{i} -1\n" for i in val_ids[:3]) + "\n")
    (main / "square_val.txt").write_text("".join(f"{i}  1\n" for i in val_ids))
    out = tmp_path / "v.record"
    summary = tfrconv.convert("voc", data_dir=str(voc_copy), set="val", output=str(out))
    assert summary.examples == len(val_ids)
    shutil.rmtree(voc_copy / "VOC2012" / "ImageSets")
    summary = tfrconv.convert("voc", data_dir=str(voc_copy), set="val", output=str(out))
    assert summary.examples == 12


def test_year_selection(tmp_path, voc_copy):
    shutil.copytree(voc_copy / "VOC2012", voc_copy / "VOC2007")
    with pytest.raises(tfrconv.UsageError, match="choose one with --year"):
        tfrconv.convert("voc", data_dir=str(voc_copy), output=str(tmp_path / "x.record"))
    with pytest.raises(tfrconv.UsageError, match="years found: VOC2007, VOC2012"):
        tfrconv.convert("voc", data_dir=str(voc_copy), year="VOC2010",
                        output=str(tmp_path / "x.record"))
    # merged: both years; the same file names collide, which the duplicate check catches
    with pytest.raises(DataError, match="appears twice"):
        tfrconv.convert("voc", data_dir=str(voc_copy), year="merged", set="trainval",
                        output=str(tmp_path / "x.record"))
    summary = tfrconv.convert("voc", data_dir=str(voc_copy), year="merged", set="trainval",
                              output=str(tmp_path / "x.record"), on_duplicate_id="skip")
    assert summary.examples == 12 and summary.skipped_images == 12


def test_bad_xml_is_one_line_with_file_and_line(tmp_path, plain_voc):
    (plain_voc / "Annotations" / "x.xml").write_text("<annotation>\n<filename>x.jpg</filename>\n"
                                                       "<object><name>cat</name>\n</annotation>")
    _image(plain_voc / "JPEGImages" / "x.jpg")
    result = subprocess.run([sys.executable, "-m", "tfrconv", "voc", "--data-dir",
                             str(plain_voc), "--output", str(tmp_path / "x.record")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "x.xml:4: not valid XML" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_end_to_end_with_json_summary(tmp_path, shapes_voc):
    result = subprocess.run(
        [sys.executable, "-m", "tfrconv", "voc", "--data-dir", str(shapes_voc), "--year",
         "VOC2012", "--set", "train", "--output", str(tmp_path / "out" / "train.record"),
         "--num-shards", "2", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "voc" and summary["examples"] > 0
    assert summary["outputs"][0]["glob"].endswith("train.record-?????-of-00002")
    assert len(parse_records(summary["outputs"][0]["glob"])) == summary["examples"]


def test_usage_errors_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tfrconv", "voc", "--data-dir",
                             str(tmp_path / "missing"), "--output", "x.record"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no such folder" in result.stderr


def test_png_decodes_with_pil_roundtrip(tmp_path, plain_voc):
    from PIL import Image

    _image(plain_voc / "JPEGImages" / "g.png", size=(20, 10), fmt="PNG")
    write_xml(plain_voc / "Annotations" / "g.xml", "g.png", [{"name": "cat",
                                                               "box": (0, 0, 20, 10)}],
              size=(20, 10))
    out = tmp_path / "g.record"
    tfrconv.convert("voc", data_dir=str(plain_voc), output=str(out))
    (features,) = list(tfrconv.read_examples(str(out)))
    assert Image.open(io.BytesIO(features["image/encoded"][0])).size == (20, 10)


def test_conversion_never_imports_tensorflow(tmp_path, shapes_voc):
    """Nor, on clean VOC data, what only slow or unusual paths need (each costs start-up)."""
    code = ("import sys, tfrconv; tfrconv.convert('voc', data_dir=sys.argv[1], set='val', "
            "output=sys.argv[2], workers=2)")
    heavy = ["tensorflow", "google.protobuf", "lxml", "multiprocessing", "PIL"]
    assert modules_loaded(code, heavy, str(shapes_voc), str(tmp_path / "x.record")) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_no_entity_is_expanded_in_any_encoding(tmp_path, plain_voc, encoding):
    """A DTD's entity stays unexpanded, UTF-16 files included (their bytes hide '<!DOCTYPE')."""
    _image(plain_voc / "JPEGImages" / "e.jpg")
    body = ('<!DOCTYPE annotation [<!ENTITY d "cat">]><annotation><filename>e.jpg</filename>'
            "<object><name>&d;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax>"
            "<ymax>9</ymax></bndbox></object></annotation>")
    (plain_voc / "Annotations" / "e.xml").write_bytes(body.encode(encoding))
    opts = tfrconv.plugins.get_registry().format("voc").resolve({"data_dir": str(plain_voc)})
    from tfrconv_plugins import voc

    with pytest.raises(DataError, match="e.xml:1: an <object> has no <name>"):
        voc.read_item((str(plain_voc), "e"), opts)


# -- the expat fast path reads exactly what lxml reads ----------------------------------------
@st.composite
def annotation_documents(draw):
    """VOC XML as tools write it, and then some: declarations and encodings, comments and
    processing instructions, whitespace, a DTD. Two documents in three are valid annotations
    with objects; the rest are messy (repeated or missing fields, bad numbers, empty names)."""
    messy = draw(st.integers(0, 2)) == 0

    def text(value: str) -> str:
        pad = draw(st.sampled_from(["", " ", "\n  ", "\t"]))
        return pad + value + pad

    def number(low: int, high: int) -> str:
        if messy:
            return draw(st.sampled_from(["10", "10.5", " 7 ", "", "x", "1e3", "nan", "inf",
                                         "-3"]))
        value = draw(st.integers(low, high))
        return draw(st.sampled_from([str(value), f"{value}.0", f"{value}.5" if value < high
                                     else str(value)]))

    names = (st.sampled_from(["dog", "cat", "person", "Straße", "狗", "a&amp;b", ""]) if messy
             else st.sampled_from(["dog", "cat", "person", "Straße", "狗", "a&amp;b"]))
    parts = ["<annotation>", draw(st.sampled_from(["", "<!-- made by hand -->", "<?pi x?>"]))]
    if not messy or draw(st.booleans()):
        parts.append(f"<filename>{text(draw(st.sampled_from(['a.jpg', 'b.png'] + ([''] * messy))))}"
                     "</filename>")
    if not messy or draw(st.booleans()):
        parts.append(f"<size><width>{text(number(20, 640))}</width>"
                     f"<height>{text(number(20, 480))}</height><depth>3</depth></size>")
    for _ in range(draw(st.integers(0 if messy else 1, 3))):
        fields = [f"<name>{text(draw(names))}</name>"] if not messy or draw(st.integers(0, 5)) \
            else []
        for tag in draw(st.lists(st.sampled_from(["pose", "truncated", "difficult"]),
                                 max_size=3 if messy else 1, unique=not messy)):
            value = "Left" if tag == "pose" else number(0, 1)
            fields.append(f"<{tag}>{text(value)}</{tag}>")
        if not messy or draw(st.integers(0, 5)):
            x0, y0 = number(1, 10), number(1, 10)
            box = [("xmin", x0), ("ymin", y0), ("xmax", number(11, 20)), ("ymax", number(11, 20))]
            corners = [f"<{c}>{text(v)}</{c}>" for c, v in box
                       if not messy or draw(st.integers(0, 8))]
            fields.append("<bndbox>" + "".join(corners) + "</bndbox>")
        parts.append("<object>" + "".join(draw(st.permutations(fields))) + "</object>")
    parts.append("</annotation>")
    body = "".join(parts)
    encoding = draw(st.sampled_from(["utf-8", "iso-8859-1", "gb2312", "utf-16", None]))
    if draw(st.integers(0, 9)) == 0:
        body = '<!DOCTYPE annotation [<!ENTITY d "dog">]>' + body.replace(">dog<", ">&d;<")
    if encoding is None:
        return body.encode("utf-8")
    try:
        return f'<?xml version="1.0" encoding="{encoding}"?>\n{body}'.encode(encoding)
    except UnicodeEncodeError:
        return body.encode("utf-8")


@reaches("both read objects")
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(annotation_documents())
def test_fast_and_lxml_readings_agree(tmp_path, document):
    from tfrconv_plugins import voc

    (tmp_path / "Annotations").mkdir(exist_ok=True)
    path = tmp_path / "Annotations" / "x.xml"
    path.write_bytes(document)
    opts = tfrconv.plugins.get_registry().format("voc").resolve({"data_dir": str(tmp_path)})

    def outcome(reader):
        try:
            return reader()
        except tfrconv.DataError as exc:
            return str(exc)

    fast = outcome(lambda: voc.read_item((str(tmp_path), "x"), opts))
    exact = outcome(lambda: voc._sample(tfrconv.parse_annotation_xml(str(path)),
                                        str(tmp_path), "x", str(path), opts))
    if isinstance(fast, str):
        branch("both raise a data error" if isinstance(exact, str) else "fast path raises")
    elif fast.objects:
        branch("both read objects")
    else:
        branch("both read no object")
    assert repr(fast) == repr(exact)           # (repr: NaN coordinates compare unequal)
