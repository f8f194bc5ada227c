"""Datasets as annotation tools export them: each layout is built in tmp (tiny images), found by
detect-format (with its reason) and converted as it is; the records are read back and compared
with what the layout was built with."""

from __future__ import annotations

import io
import json
import os

import pytest
from PIL import Image

import tfrconv
from tfrconv.cli import main
from tfrconv.layouts import find_layout

W, H = 64, 48


def jpeg(path: str, colour=(200, 30, 30)) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (W, H), colour).save(buffer, "JPEG")
    with open(path, "wb") as fileobj:
        fileobj.write(buffer.getvalue())


def voc_xml(path: str, filename: str, objects) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    parts = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in objects)
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(f"<annotation><folder>x</folder><filename>{filename}</filename><size>"
                      f"<width>{W}</width><height>{H}</height><depth>3</depth></size>{parts}"
                      "</annotation>")


def coco_json(path: str, files: dict[str, list]) -> None:
    """files: file name → [(category name, x, y, w, h)]; categories numbered as Roboflow does
    (0: the superclass, unused; then the classes from 1)."""
    names = sorted({obj[0] for objects in files.values() for obj in objects})
    ids = {name: i for i, name in enumerate(names, start=1)}
    images, annotations = [], []
    for index, (name, objects) in enumerate(sorted(files.items())):
        images.append({"id": index, "file_name": name, "width": W, "height": H})
        for cls, x, y, w, h in objects:
            annotations.append({"id": len(annotations), "image_id": index,
                                "category_id": ids[cls], "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0})
    categories = [{"id": 0, "name": "objects"}] + [{"id": i, "name": n} for n, i in ids.items()]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fileobj:
        json.dump({"images": images, "annotations": annotations, "categories": categories},
                  fileobj)


def read(path: str) -> dict[str, tuple]:
    """filename → (class texts, labels, xmin list) of every example in a record file."""
    out = {}
    for example in tfrconv.read_examples(path):
        name = example["image/filename"][0].decode()
        out[name] = (tuple(t.decode() for t in example["image/object/class/text"]),
                     tuple(example["image/object/class/label"]),
                     tuple(round(v, 4) for v in example["image/object/bbox/xmin"]))
    return out


def detect_lines(path, capsys) -> str:
    status = main(["detect-format", str(path)])
    assert status == 0
    return capsys.readouterr().out


# -- labelImg ----------------------------------------------------------------------------------
def labelimg(root) -> None:
    jpeg(f"{root}/a.jpg")
    voc_xml(f"{root}/a.xml", "a.jpg", [("ball", 8, 4, 40, 30)])
    jpeg(f"{root}/day2/deep/a.jpg", (10, 200, 10))      # the same name, another folder
    voc_xml(f"{root}/day2/deep/a.xml", "a.jpg", [("bat", 16, 8, 48, 40), ("ball", 0, 0, 8, 8)])


def test_labelimg_folder_at_any_depth(tmp_path, capsys):
    labelimg(tmp_path / "ds")
    out = detect_lines(tmp_path / "ds", capsys)
    assert "looks like voc" in out and "labelImg layout" in out
    assert main(["convert", str(tmp_path / "ds"), "--output", str(tmp_path / "x.record"),
                 "--label-map", "from-data", "-q"]) == 0
    examples = list(tfrconv.read_examples(tmp_path / "x.record"))
    ids = sorted(e["image/source_id"][0].decode() for e in examples)
    assert ids == ["a.jpg", "day2/deep/a.jpg"]          # two a.jpg, no duplicate id
    texts = sorted(t.decode() for e in examples for t in e["image/object/class/text"])
    assert texts == ["ball", "ball", "bat"]
    labels = {t.decode(): lb for e in examples for t, lb in
              zip(e["image/object/class/text"], e["image/object/class/label"])}
    assert labels == {"ball": 1, "bat": 2}              # sorted names, ids 1..N


def test_labelimg_custom_classes_without_a_map_say_what_works(tmp_path, capsys):
    labelimg(tmp_path / "ds")
    status = main(["convert", str(tmp_path / "ds"), "--output", str(tmp_path / "x.record")])
    err = capsys.readouterr().err
    assert status == 1
    assert "no class of the data is in the label map (pascal)" in err
    assert "--label-map from-data" in err and f"tfrconv convert {tmp_path / 'ds'}" in err
    assert not os.path.exists(tmp_path / "x.record")


# -- Roboflow ----------------------------------------------------------------------------------
def roboflow_coco(root) -> None:
    for split, files in (("train", {"t1.jpg": [("ball", 4, 4, 20, 10)],
                                    "t2.jpg": [("bat", 10, 10, 30, 20)]}),
                         ("valid", {"v1.jpg": [("ball", 0, 0, 32, 24)]}),
                         ("test", {"e1.jpg": []})):
        for name in files:
            jpeg(f"{root}/{split}/{name}")
        coco_json(f"{root}/{split}/_annotations.coco.json", files)


def test_roboflow_coco_export(tmp_path, capsys):
    roboflow_coco(tmp_path / "rf")
    out = detect_lines(tmp_path / "rf", capsys)
    assert "holds 3 splits (split folders)" in out
    assert main(["convert", str(tmp_path / "rf"), "--output", str(tmp_path / "out") + "/",
                 "-q"]) == 0
    assert sorted(os.listdir(tmp_path / "out")) == [
        f"{s}.{k}" for s in ("test", "train", "valid")
        for k in ("label_map.pbtxt", "manifest.json", "record")]
    train = read(str(tmp_path / "out/train.record"))
    # the union of the classes, sorted: ball 1, bat 2 (not each JSON's own numbering)
    assert train == {"t1.jpg": (("ball",), (1,), (0.0625,)),
                     "t2.jpg": (("bat",), (2,), (0.1562,))}
    assert read(str(tmp_path / "out/valid.record")) == {"v1.jpg": (("ball",), (1,), (0.0,))}
    assert read(str(tmp_path / "out/test.record")) == {"e1.jpg": ((), (), ())}


def test_roboflow_coco_split_converts_without_image_dir(tmp_path):
    roboflow_coco(tmp_path / "rf")
    summary = tfrconv.convert("coco", annotations_file=str(
        tmp_path / "rf/train/_annotations.coco.json"), output=str(tmp_path / "t.record"))
    assert summary.examples == 2


def test_roboflow_csv_export(tmp_path, capsys):
    for split, rows in (("train", [("a.jpg", "ball", 4, 4, 24, 14)]),
                        ("valid", [("b.jpg", "bat", 8, 8, 16, 16)])):
        lines = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
        for name, cls, *box in rows:
            jpeg(str(tmp_path / f"rf/{split}/{name}"))
            lines.append(",".join(map(str, (name, W, H, cls, *box))))
        (tmp_path / f"rf/{split}/_annotations.csv").write_text("\n".join(lines) + "\n")
    assert "csv" in detect_lines(tmp_path / "rf", capsys)
    summary = tfrconv.convert_dataset(tmp_path / "rf", output=tmp_path / "out")
    assert list(summary.splits) == ["train", "valid"]
    assert read(str(tmp_path / "out/train.record")) == {"a.jpg": (("ball",), (1,), (0.0625,))}
    assert read(str(tmp_path / "out/valid.record")) == {"b.jpg": (("bat",), (2,), (0.125,))}


def test_roboflow_voc_export(tmp_path):
    for split, name, cls in (("train", "a.jpg", "ball"), ("valid", "b.jpg", "bat")):
        jpeg(str(tmp_path / f"rf/{split}/{name}"))
        voc_xml(str(tmp_path / f"rf/{split}/{name[:-4]}.xml"), name, [(cls, 16, 0, 32, 24)])
    layout = find_layout(tmp_path / "rf")
    assert [(s.name, s.format) for s in layout.splits] == [("train", "voc"), ("valid", "voc")]
    tfrconv.convert_dataset(tmp_path / "rf", output=tmp_path / "out")
    assert read(str(tmp_path / "out/valid.record")) == {"b.jpg": (("bat",), (2,), (0.25,))}


# -- CVAT, Datumaro, Label Studio --------------------------------------------------------------
def voc_export(root, sets: dict[str, list[str]], images_dir="JPEGImages") -> None:
    classes = {"a": "cat", "b": "dog", "c": "cat"}
    for stems in sets.values():
        for stem in stems:
            jpeg(f"{root}/{images_dir}/{stem}.jpg")
            voc_xml(f"{root}/Annotations/{stem}.xml", f"{stem}.jpg",
                    [(classes[stem], 4, 4, 20, 20)])
    for name, stems in sets.items():
        os.makedirs(f"{root}/ImageSets/Main", exist_ok=True)
        with open(f"{root}/ImageSets/Main/{name}.txt", "w") as fileobj:
            fileobj.write("\n".join(stems) + "\n")
    with open(f"{root}/labelmap.txt", "w") as fileobj:         # CVAT/Datumaro write one
        fileobj.write("# label:color_rgb:parts:actions\ncat:1,2,3::\ndog:4,5,6::\n")


def test_cvat_export_without_subsets(tmp_path, capsys):
    voc_export(tmp_path / "cvat", {"default": ["a", "b"]})
    out = detect_lines(tmp_path / "cvat", capsys)
    assert "looks like voc" in out
    # no --set: the only list (default.txt) is the one converted
    assert main(["convert", str(tmp_path / "cvat"), "--output", str(tmp_path / "x.record"),
                 "--label-map", "from-data", "-q"]) == 0
    assert read(str(tmp_path / "x.record")) == {"a.jpg": (("cat",), (1,), (0.0625,)),
                                                "b.jpg": (("dog",), (2,), (0.0625,))}


def test_datumaro_export_with_train_and_val(tmp_path):
    voc_export(tmp_path / "dm", {"train": ["a", "b"], "val": ["c"], "trainval": ["a", "b", "c"]})
    layout = find_layout(tmp_path / "dm")
    assert layout.names == ["train", "val"]            # trainval is their union: left out
    summary = tfrconv.convert_dataset(tmp_path / "dm", output=tmp_path / "out")
    assert {n: s.examples for n, s in summary.splits.items()} == {"train": 2, "val": 1}
    # cat and dog are pascal classes: the voc default (pascal: cat is 8) is shared by both
    assert read(str(tmp_path / "out/val.record")) == {"c.jpg": (("cat",), (8,), (0.0625,))}
    assert summary.label_map.startswith("pascal")


def test_label_studio_export(tmp_path, capsys):
    for stem in ("a", "b"):
        jpeg(str(tmp_path / f"ls/images/{stem}.jpg"))
        voc_xml(str(tmp_path / f"ls/Annotations/{stem}.xml"), f"{stem}.jpg",
                [("cat", 4, 4, 20, 20)])
    out = detect_lines(tmp_path / "ls", capsys)
    assert "Label Studio" in out and "--images-dir images" in out
    assert main(["convert", str(tmp_path / "ls"), "--output", str(tmp_path / "x.record"),
                 "--label-map", "from-data", "-q"]) == 0
    assert sorted(read(str(tmp_path / "x.record"))) == ["a.jpg", "b.jpg"]


# -- COCO's own layout -------------------------------------------------------------------------
def test_coco_2017_layout(tmp_path, capsys):
    root = tmp_path / "coco"
    for split, files in (("train2017", {"1.jpg": [("person", 0, 0, 16, 12)]}),
                         ("val2017", {"2.jpg": [("car", 8, 8, 8, 8)]})):
        for name in files:
            jpeg(str(root / split / name))
        coco_json(str(root / "annotations" / f"instances_{split}.json"), files)
    out = detect_lines(root, capsys)
    assert "coco splits" in out
    assert find_layout(root).names == ["train", "val"]
    assert main(["convert", str(root), "--output", str(tmp_path / "out") + "/", "--splits",
                 "val", "-q"]) == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["val.label_map.pbtxt", "val.manifest.json",
                                                    "val.record"]
    # the two JSON files disagree on ids (each numbers its own classes from 1): the union wins
    assert read(str(tmp_path / "out/val.record")) == {"2.jpg": (("car",), (1,), (0.125,))}


def test_a_split_folder_no_format_reads_is_named(tmp_path):
    roboflow_coco(tmp_path / "rf")
    (tmp_path / "rf/test/_annotations.coco.json").unlink()
    with pytest.raises(tfrconv.DataError, match="test: .*--splits"):
        tfrconv.convert_dataset(tmp_path / "rf", output=tmp_path / "out")
    assert not os.path.exists(tmp_path / "out/train.record")
    summary = tfrconv.convert_dataset(tmp_path / "rf", output=tmp_path / "out",
                                      splits=["train", "valid"])
    assert list(summary.splits) == ["train", "valid"]
