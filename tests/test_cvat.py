"""CVAT for images 1.1 XML: task and project exports written as CVAT writes them (annotations.xml
beside images/), read back with the OD API's own decoder (tests/odapi.py). Every expected value
below is worked out by hand from the XML written here."""

from __future__ import annotations

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

HEADER = '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'


def write_image(path, width, height, seed=0):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (width, height), (40 * seed % 256, 90, 160)).save(path, format="JPEG")


def labels_xml(names, indent="      "):
    return "".join(f"{indent}<label>\n{indent}  <name>{n}</name>\n{indent}  <color>#ff0000"
                   f"</color>\n{indent}  <type>any</type>\n{indent}  <attributes/>\n"
                   f"{indent}</label>\n" for n in names)


def task_meta(names, subset=None):
    subset_line = f"      <subset>{subset}</subset>\n" if subset else ""
    return (f"  <meta>\n    <task>\n      <id>7</id>\n      <name>demo</name>\n"
            f"      <size>3</size>\n      <mode>annotation</mode>\n{subset_line}"
            f"      <labels>\n{labels_xml(names, '        ')}      </labels>\n    </task>\n"
            f"    <dumped>2024-05-01 10:00:00</dumped>\n  </meta>\n")


def box(label, xtl, ytl, xbr, ybr, occluded=0, **extra):
    more = "".join(f' {k}="{v}"' for k, v in extra.items())
    return (f'    <box label="{label}" source="manual" occluded="{occluded}" xtl="{xtl}" '
            f'ytl="{ytl}" xbr="{xbr}" ybr="{ybr}" z_order="0"{more}>\n    </box>\n')


def polygon(label, points, occluded=0):
    text = ";".join(f"{x},{y}" for x, y in points)
    return (f'    <polygon label="{label}" source="manual" occluded="{occluded}" '
            f'points="{text}" z_order="0">\n    </polygon>\n')


def image(index, name, width, height, shapes="", **extra):
    more = "".join(f' {k}="{v}"' for k, v in extra.items())
    return (f'  <image id="{index}" name="{name}"{more} width="{width}" height="{height}">\n'
            f"{shapes}  </image>\n")


def task_export(root) -> str:
    """Three images of a task: boxes (one occluded, one rotated), a polygon, shapes that are
    not objects, a negative. Labels in the order dog, cat: not alphabetical."""
    root = str(root)
    write_image(os.path.join(root, "images", "a.jpg"), 40, 20, seed=1)
    write_image(os.path.join(root, "images", "sub", "b.jpg"), 50, 40, seed=2)
    write_image(os.path.join(root, "images", "c.jpg"), 16, 16, seed=3)
    body = (image(0, "a.jpg", 40, 20,
                  box("cat", 10, 5, 30, 15) + polygon("dog", [(4, 2), (20, 2), (12, 18)], 1)
                  + '    <polyline label="dog" points="1,1;3,3" occluded="0"></polyline>\n'
                  + '    <points label="cat" points="5,5" occluded="0"></points>\n'
                  + '    <tag label="cat" source="manual"></tag>\n')
            + image(1, "sub/b.jpg", 50, 40, box("dog", 10.5, 10, 30.5, 20, 1, rotation="90.0"))
            + image(2, "c.jpg", 16, 16))
    path = os.path.join(root, "annotations.xml")
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(HEADER + task_meta(["dog", "cat"]) + body + "</annotations>\n")
    return path


def project_export(root) -> str:
    """A project with two tasks, subsets Train and Validation; images under images/<subset>/,
    one name used in both subsets."""
    root = str(root)
    tasks = "".join(f"        <task>\n          <id>{i}</id>\n          <name>t{i}</name>\n"
                    f"          <subset>{s}</subset>\n        </task>\n"
                    for i, s in ((3, "Train"), (4, "Validation")))
    meta = (f"  <meta>\n    <project>\n      <id>1</id>\n      <name>p</name>\n"
            f"      <labels>\n{labels_xml(['person', 'car'], '        ')}      </labels>\n"
            f"      <tasks>\n{tasks}      </tasks>\n    </project>\n  </meta>\n")
    write_image(os.path.join(root, "images", "Train", "t1.jpg"), 20, 20, seed=1)
    write_image(os.path.join(root, "images", "Train", "t2.jpg"), 20, 20, seed=2)
    write_image(os.path.join(root, "images", "Validation", "v1.jpg"), 30, 10, seed=3)
    body = (image(0, "t1.jpg", 20, 20, box("car", 0, 0, 10, 10), subset="Train", task_id=3)
            + image(1, "t2.jpg", 20, 20, box("person", 5, 5, 15, 15), subset="Train",
                    task_id=3)
            + image(2, "v1.jpg", 30, 10, box("person", 3, 1, 9, 7), subset="Validation",
                    task_id=4))
    path = os.path.join(root, "annotations.xml")
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(HEADER + meta + body + "</annotations>\n")
    return path


def convert(xml, out, **options):
    options.setdefault("workers", 1)
    return tfrconv.convert("cvat", annotations_file=str(xml), output=str(out), **options)


def floats(values):
    return np.asarray(values, dtype=np.float32)


def test_task_export_known_answers(tmp_path):
    xml = task_export(tmp_path / "task")
    out = tmp_path / "out.record"
    summary = convert(xml, out)
    assert (summary.examples, summary.objects) == (3, 3)
    a, b, c = parse_records(str(out), extra={"image/object/occluded": "int"})
    # the labels section in its order: dog 1, cat 2
    with open(tmp_path / "out.label_map.pbtxt", encoding="utf-8") as fileobj:
        assert re.findall(r'name: "(\w+)"\s+id: (\d+)', fileobj.read()) == [("dog", "1"),
                                                                          ("cat", "2")]
    assert [r["image/source_id"] for r in (a, b, c)] == [b"a.jpg", b"sub/b.jpg", b"c.jpg"]
    assert list(a["image/object/class/text"]) == [b"cat", b"dog"]
    assert list(a["image/object/class/label"]) == [2, 1]
    np.testing.assert_array_equal(a["image/object/bbox/xmin"], floats([10 / 40, 4 / 40]))
    np.testing.assert_array_equal(a["image/object/bbox/ymin"], floats([5 / 20, 2 / 20]))
    np.testing.assert_array_equal(a["image/object/bbox/xmax"], floats([30 / 40, 20 / 40]))
    np.testing.assert_array_equal(a["image/object/bbox/ymax"], floats([15 / 20, 18 / 20]))
    assert list(a["image/object/occluded"]) == [0, 1]
    # 20x10 box centred on (20.5, 15) turned by 90 degrees: 10 wide, 20 high, same centre
    np.testing.assert_allclose(
        [b[k][0] for k in ("image/object/bbox/xmin", "image/object/bbox/ymin",
                           "image/object/bbox/xmax", "image/object/bbox/ymax")],
        [15.5 / 50, 5 / 40, 25.5 / 50, 25 / 40], rtol=1e-6)
    assert (b["image/filename"], b["decoded_shape"]) == (b"b.jpg", (40, 50, 3))
    assert list(b["image/object/occluded"]) == [1]
    # a negative still says occluded (no values): the key is always written
    assert len(c["image/object/bbox/xmin"]) == 0 and len(c["image/object/occluded"]) == 0


def test_project_export_one_output_per_subset(tmp_path):
    xml = project_export(tmp_path / "project")
    summary = convert(xml, tmp_path / "p.record")
    assert summary.examples == 3
    train = parse_records(str(tmp_path / "p_Train.record"))
    val = parse_records(str(tmp_path / "p_Validation.record"))
    assert [r["image/source_id"] for r in train] == [b"t1.jpg", b"t2.jpg"]
    assert [r["image/source_id"] for r in val] == [b"v1.jpg"]
    assert list(train[0]["image/object/class/label"]) == [2]           # person 1, car 2
    np.testing.assert_array_equal(val[0]["image/object/bbox/xmin"], floats([3 / 30]))
    assert not (tmp_path / "p.record").exists()


def test_project_export_one_subset(tmp_path, capsys):
    xml = project_export(tmp_path / "project")
    out = tmp_path / "val.record"
    assert main(["cvat", "--annotations-file", xml, "--subset", "Validation", "--output",
                 str(out), "--workers", "2", "--no-progress"]) == 0
    assert [r["image/source_id"] for r in parse_records(str(out))] == [b"v1.jpg"]
    assert main(["cvat", "--annotations-file", xml, "--subset", "Test", "--output",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert "--subset Test: no image" in err and "'Train', 'Validation'" in err


def test_masks_from_polygons_and_boxes(tmp_path):
    root = str(tmp_path / "m")
    write_image(os.path.join(root, "images", "m.jpg"), 20, 16)
    body = image(0, "m.jpg", 20, 16, polygon("a", [(0, 0), (10, 0), (10, 4), (4, 4), (4, 10),
                                                  (0, 10)]) + box("a", 12, 2, 18, 6))
    xml = os.path.join(root, "annotations.xml")
    with open(xml, "w", encoding="utf-8") as fileobj:
        fileobj.write(HEADER + task_meta(["a"]) + body + "</annotations>\n")
    out = tmp_path / "m.record"
    convert(xml, out, include_masks=True)
    (record,) = parse_records(str(out))
    expected = np.zeros((2, 16, 20), dtype=np.uint8)
    expected[0, 0:4, 0:10] = 1
    expected[0, 4:10, 0:4] = 1
    expected[1, 2:6, 12:18] = 1
    np.testing.assert_array_equal(record.decoded["groundtruth_instance_masks"], expected)


def test_external_entities_are_never_loaded(tmp_path):
    root = tmp_path / "x"
    write_image(str(root / "images" / "a.jpg"), 8, 8)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = root / "annotations.xml"
    xml.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE annotations [\n'
                   f'<!ENTITY x SYSTEM "file://{secret}">]>\n'
                   f"<annotations><version>1.1</version><meta><task><labels>"
                   f"<label><name>&x;</name></label><label><name>cat</name></label>"
                   f"</labels></task></meta>\n"
                   f'<image id="0" name="a.jpg" width="8" height="8">'
                   f'<box label="cat" occluded="0" xtl="1" ytl="1" xbr="5" ybr="5"/></image>'
                   f"</annotations>\n")
    convert(xml, tmp_path / "o.record")
    label_map = (tmp_path / "o.label_map.pbtxt").read_text()
    assert "TOPSECRET" not in label_map and re.findall(r'name: "(\w+)"', label_map) == ["cat"]


# -- broken input: one line naming the file and line -------------------------------------------
def broken(tmp_path, body: str, meta: str | None = None, header: str = HEADER) -> str:
    root = tmp_path / "bad"
    write_image(str(root / "images" / "a.jpg"), 8, 8)
    xml = root / "annotations.xml"
    xml.write_text(header + (task_meta(["cat"]) if meta is None else meta) + body
                   + "</annotations>\n")
    return str(xml)


def error_of(xml, tmp_path, **options) -> str:
    with pytest.raises(tfrconv.DataError) as info:
        convert(xml, tmp_path / "o.record", **options)
    return str(info.value)


META_LINES = task_meta(["cat"]).count("\n")


@pytest.mark.parametrize("shape,message", [
    ('<box label="cat" occluded="0" xtl="1" ytl="x" xbr="5" ybr="5"/>',
     "<box label='cat'>: ytl must be a number, found 'x'"),
    ('<box label="cat" occluded="2" xtl="1" ytl="1" xbr="5" ybr="5"/>',
     "<box label='cat'>: occluded must be 0 or 1, found '2'"),
    ('<polygon label="cat" occluded="0" points="1,1;2"/>',
     "<polygon label='cat'>: points must be 'x,y;x,y;...'"),
    ('<polygon label="cat" occluded="0" points="1,1;2,2"/>',
     "<polygon label='cat'>: a polygon needs at least 3 points, found 2"),
    ('<box occluded="0" xtl="1" ytl="1" xbr="5" ybr="5"/>', "a <box> has no label"),
])
def test_a_broken_shape_names_its_line(tmp_path, shape, message):
    body = '  <image id="0" name="a.jpg" width="8" height="8">\n' + \
        '    <box label="cat" occluded="0" xtl="1" ytl="1" xbr="5" ybr="5"/>\n' + \
        f"    {shape}\n  </image>\n"
    error = error_of(broken(tmp_path, body), tmp_path)
    shape_line = HEADER.count("\n") + META_LINES + 3
    assert f"annotations.xml:{shape_line}: {message}" in error, error
    assert "\n" not in error


def test_on_error_skip_drops_the_image_with_the_broken_shape(tmp_path):
    body = (image(0, "a.jpg", 8, 8, '    <box label="cat" occluded="0" xtl="1" ytl="1" '
                  'xbr="5"/>\n') + image(1, "b.jpg", 8, 8, box("cat", 1, 1, 5, 5)))
    xml = broken(tmp_path, body)
    write_image(os.path.join(os.path.dirname(xml), "images", "b.jpg"), 8, 8)
    summary = convert(xml, tmp_path / "o.record", on_error="skip")
    assert summary.examples == 1


@pytest.mark.parametrize("text,message", [
    (HEADER + '  <image id="0" name="a.jpg" width="8" height="8">\n  </imag>\n',
     r"annotations\.xml:5: not valid XML: .*mismatch"),
    ('<?xml version="1.0"?>\n<annotation><filename>a.jpg</filename></annotation>\n',
     r"annotations\.xml:2: expected an <annotations> root element .*try `tfrconv voc`"),
    (HEADER + '  <track id="0" label="cat"></track>\n</annotations>\n',
     r"annotations\.xml:4: a CVAT for video export"),
    (HEADER + '  <image id="0" name="a.jpg" width="-8" height="8"></image>\n</annotations>\n',
     r"annotations\.xml:4: image 'a\.jpg': width must be a positive integer, found '-8'"),
])
def test_broken_files_are_one_line_naming_the_line(tmp_path, text, message):
    root = tmp_path / "bad"
    write_image(str(root / "images" / "a.jpg"), 8, 8)
    (root / "annotations.xml").write_text(text)
    error = error_of(str(root / "annotations.xml"), tmp_path, label_map=_label_map(tmp_path))
    assert re.search(message, error), error


def _label_map(tmp_path) -> str:
    path = tmp_path / "lm.pbtxt"
    path.write_text("item { id: 1 name: 'cat' }\n")
    return str(path)


def test_a_label_outside_the_labels_section_fails_before_any_image(tmp_path):
    body = image(0, "a.jpg", 8, 8, box("zebra", 1, 1, 5, 5))
    with pytest.raises(tfrconv.LabelMapError, match="'zebra'"):
        convert(broken(tmp_path, body), tmp_path / "o.record")


def test_missing_annotation_file_is_a_usage_error(tmp_path, capsys):
    assert main(["cvat", "--annotations-file", str(tmp_path / "nope.xml"), "--output",
                 str(tmp_path / "o.record")]) == 2
    assert "--annotations-file" in capsys.readouterr().err


# -- detection ---------------------------------------------------------------------------------
def test_detection_ranks_cvat_first_and_names_the_file(tmp_path):
    xml = task_export(tmp_path / "task")
    report = detect_formats(os.path.dirname(xml))
    assert [r.format for r in report.matches][:1] == ["cvat"], report.lines()
    assert report.matches[0].options == {"annotations_file": xml}
    assert [r.format for r in detect_formats(xml).matches][:1] == ["cvat"]


@pytest.mark.parametrize("name", FORMATS)
def test_detection_does_not_claim_other_formats(tmp_path, name):
    make(name, tmp_path / name, standard_pictures())
    report = detect_formats(tmp_path / name)
    assert "cvat" not in [r.format for r in report.matches], report.lines()


def test_labelmap_from_data_keeps_the_labels_section_order(tmp_path):
    xml = task_export(tmp_path / "task")
    out = tmp_path / "lm.pbtxt"
    assert main(["labelmap", "from-data", "cvat", "--annotations-file", xml, "-o",
                 str(out)]) == 0
    assert re.findall(r'name: "(\w+)"\s+id: (\d+)', out.read_text()) == [("dog", "1"),
                                                                         ("cat", "2")]


# -- the conformance kit -----------------------------------------------------------------------
def test_the_conformance_kit(tmp_path):
    from tfrconv.testing import check_format

    xml = task_export(tmp_path / "task")
    others = []
    for name in FORMATS:
        make(name, tmp_path / "others" / name, standard_pictures())
        others.append(tmp_path / "others" / name)

    def break_item(copy):
        path = copy / "annotations.xml"
        lines = path.read_text().splitlines(keepends=True)
        number = next(i for i, line in enumerate(lines) if "<box " in line)
        lines[number] = lines[number].replace('ytl="5"', 'ytl="five"')
        path.write_text("".join(lines))
        return path, number + 1

    check_format("cvat", {"annotations_file": xml}, tmp_path / "kit", examples=3, objects=3,
                 dataset=os.path.dirname(xml), break_item=break_item, others=others)
