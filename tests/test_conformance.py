"""tfrconv.testing, the conformance kit: every builtin format passes it on tests/datasets.py's
tiny dataset in its own layout, and the kit notices formats that break its promises."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from datasets import FORMATS, make, standard_pictures

import tfrconv
from tfrconv import FormatSpec, Object, Option, Sample, hookimpl
from tfrconv.plugins import temporary_plugin
from tfrconv.testing import (
    ConformanceError,
    check_broken_item,
    check_cli,
    check_converts,
    check_detection,
    check_deterministic,
    check_format,
    check_registration,
)


def _replace_line(path: Path, number: int, old: str, new: str) -> tuple[Path, int]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, number


def _cut_xml(path: Path) -> tuple[Path, None]:
    path.write_text(path.read_text(encoding="utf-8")[:60], encoding="utf-8")
    return path, None


def _coco_without_file_name(root: Path) -> tuple[Path, None]:
    import json

    path = root / "annotations" / "instances_val2017.json"
    doc = json.loads(path.read_text())
    doc["images"][2]["file_name"] = ""
    path.write_text(json.dumps(doc))
    return path, None


def _oid_break(root: Path):
    """Open Images: picture 1's box (line 4) gets an XMin that is not a number."""
    path = root / "boxes.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    fields = lines[3].split(",")
    fields[4] = "left"
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, 4


# How to break one item of each layout, and the file (and line) the error must name. Lines are
# counted from datasets.py's writing order: a header, then the boxes of picture 0 (two), 1, 2...
BREAK_ONE_ITEM = {
    "voc": lambda root: _cut_xml(root / "Annotations" / "img2.xml"),
    "pets": lambda root: _cut_xml(next((root / "annotations" / "xmls").glob("*_3.xml"))),
    "coco": _coco_without_file_name,
    "kitti": lambda root: _replace_line(root / "training" / "label_2" / "000002.txt", 1,
                                        " 0.00 0 ", " 0.00 "),
    "csv": lambda root: _replace_line(root / "labels.csv", 4, ",1,1,", ",1,x1,"),
    "oid": _oid_break,
}


def _dataset(tmp_path: Path, name: str):
    pictures = standard_pictures()
    root = tmp_path / f"data-{name}"
    layout, options = make(name, root, pictures)
    objects = sum(len(p.boxes) for p in pictures)
    return layout, options, root, len(pictures), objects


@pytest.mark.slow
@pytest.mark.parametrize("name", FORMATS)
def test_every_builtin_format_passes_the_kit(tmp_path, name):
    layout, options, root, examples, objects = _dataset(tmp_path, name)
    others = [_dataset(tmp_path, other)[2] for other in FORMATS if other != name]
    check_format(name, options, tmp_path / "work", examples=examples, objects=objects,
                 dataset=root, break_item=BREAK_ONE_ITEM[name], others=others,
                 outputs=layout.output_options)


# -- the kit notices what is wrong ------------------------------------------------------------
def _image(folder: Path) -> str:
    from PIL import Image

    path = folder / "x.png"
    Image.new("RGB", (8, 8)).save(path)
    return str(path)


class Plugin:
    def __init__(self, *specs: FormatSpec) -> None:
        self.specs = specs

    @hookimpl
    def register_formats(self, register):
        for spec in self.specs:
            register(spec)


def _spec(image: str, name: str = "kit-toy", read=None, **fields) -> FormatSpec:
    def read_item(item, opts):
        return Sample(f"id{item}", "x.png", image_path=image,
                      objects=[Object("cat", 1, 1, 1 + item, 1 + item)])

    fields.setdefault("default_label_map", lambda opts: "pascal")
    return FormatSpec(name, "a toy", list_items=lambda opts: range(1, 4),
                      read_item=read or read_item, **fields)


def test_counts_that_differ_fail(tmp_path):
    with temporary_plugin(Plugin(_spec(_image(tmp_path))), "kit-toy"):
        check_converts("kit-toy", {}, tmp_path / "a", examples=3, objects=3)
        with pytest.raises(ConformanceError, match="expected 4 examples, the records hold 3"):
            check_converts("kit-toy", {}, tmp_path / "b", examples=4)
        with pytest.raises(ConformanceError, match="expected 2 objects"):
            check_converts("kit-toy", {}, tmp_path / "c", examples=3, objects=2)


def _random_box(item, opts):
    """Reads a different box on every call: output that is not reproducible."""
    size = random.Random().uniform(2, 6)
    return Sample(f"id{item}", "x.png", image_path=opts.image,
                  objects=[Object("cat", 1, 1, size, size)])


def test_output_that_changes_between_runs_fails(tmp_path):
    spec = _spec(_image(tmp_path), read=_random_box,
                 options=(Option("image", "the image", "path", required=True),))
    with temporary_plugin(Plugin(spec), "kit-toy"), \
            pytest.raises(ConformanceError, match="other bytes than workers=1"):
        check_deterministic("kit-toy", {"image": _image(tmp_path)}, tmp_path / "w", beam=False)


def test_a_clean_format_is_deterministic(tmp_path):
    with temporary_plugin(Plugin(_spec(_image(tmp_path))), "kit-toy"):
        check_deterministic("kit-toy", {}, tmp_path / "w", beam=False)


def test_registration_and_cli(tmp_path):
    spec = _spec(_image(tmp_path), options=(
        Option("data_dir", "the folder", "path", required=True),
        Option("max_side", "the longest side", "int", aliases=("--longest-side",))))
    with temporary_plugin(Plugin(spec), "kit-toy"):
        assert check_registration("kit-toy").name == "kit-toy"
        text = check_cli("kit-toy")
        assert "--longest-side" in text and "--num-shards" in text
    bad = _spec(_image(tmp_path), default_policies={"bad_box": "ignore"})
    with temporary_plugin(Plugin(bad), "kit-toy"), \
            pytest.raises(ConformanceError, match="default_policies: bad_box='ignore'"):
        check_registration("kit-toy")
    wordy = FormatSpec("kit-toy", "two\nlines", list_items=list, read_item=print)
    with temporary_plugin(Plugin(wordy), "kit-toy"), \
            pytest.raises(ConformanceError, match="help must be one non-empty line"):
        check_registration("kit-toy")


def _listed_read(item, opts):
    """Reads `list.txt`'s line `item`: `label xmin ymin xmax ymax`."""
    path = os.path.join(opts.data_dir, "list.txt")
    with open(path, encoding="utf-8") as fileobj:
        text = fileobj.read().splitlines()[item]
    label, *box = text.split()
    try:
        values = [float(v) for v in box]
    except ValueError:
        raise tfrconv.DataError(f"not a box: {text!r}", file=path,
                                line=item + 1 if opts.say_line else None) from None
    return Sample(f"id{item}", "x.png", image_path=os.path.join(opts.data_dir, "x.png"),
                  objects=[Object(label, *values)])


def _listed_spec() -> FormatSpec:
    return FormatSpec("kit-toy", "a toy", list_items=lambda opts: range(3),
                      read_item=_listed_read, default_label_map=lambda opts: "pascal",
                      options=(Option("data_dir", "the folder", "path", required=True),
                               Option("say_line", "name the line", "bool")))


def _listed_dataset(folder: Path) -> Path:
    folder.mkdir()
    _image(folder)
    (folder / "list.txt").write_text("cat 1 1 4 4\ndog 2 2 6 6\ncat 0 0 8 8\n")
    return folder


def _break_line_two(root: Path):
    path = root / "list.txt"
    path.write_text("cat 1 1 4 4\ndog 2 two 6 6\ncat 0 0 8 8\n")
    return path, 2


def test_a_broken_item_must_name_its_file_and_line(tmp_path):
    data = _listed_dataset(tmp_path / "data")
    with temporary_plugin(Plugin(_listed_spec()), "kit-toy"):
        check_broken_item("kit-toy", {"data_dir": data, "say_line": True}, data,
                          _break_line_two, tmp_path / "good")
        with pytest.raises(ConformanceError, match="names line None, not line 2"):
            check_broken_item("kit-toy", {"data_dir": data, "say_line": False}, data,
                              _break_line_two, tmp_path / "no-line")
        with pytest.raises(ConformanceError, match="converted without an error"):
            check_broken_item("kit-toy", {"data_dir": data, "say_line": True}, data,
                              lambda root: (root / "list.txt", 2), tmp_path / "unbroken")


def test_detection_must_rank_the_format_first_only_on_its_own_data(tmp_path):
    voc_layout, voc_options, voc_root, *_ = _dataset(tmp_path, "voc")
    _, _, coco_root, *_ = _dataset(tmp_path, "coco")
    check_detection("voc", voc_root, [coco_root])
    with pytest.raises(ConformanceError, match="ranks it first on"):
        check_detection("voc", voc_root, [voc_root])
    with pytest.raises(ConformanceError, match="on its own dataset"):
        check_detection("coco", voc_root)
