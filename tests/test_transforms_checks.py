"""Transform checks at the end of a run and what `tfrconv plugins` lists: --remap on a format
without a cheap class list (checked on the classes the workers read, before publishing),
near-duplicate images across splits (perceptual hash, banded index), the plugins listing.

Datasets come from tests/test_transforms.py's small VOC writer, so every class is known.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_transforms import PICTURES, cli, convert, examples, make_voc

import tfrconv

LABELS = "".join(f"item {{ id: {i} name: '{name}' }}\n"
                 for i, name in enumerate(("van", "car", "Truck", "person"), 1))


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    return make_voc(tmp_path_factory.mktemp("voc"))


# -- --remap on VOC with a given label map: checked on the classes read ----------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_remap_of_a_class_no_annotation_has_fails_before_publishing(voc, tmp_path, workers):
    (tmp_path / "labels.pbtxt").write_text(LABELS)
    out = tmp_path / "out" / "data.record"
    done = cli("voc", "--data-dir", str(voc), "--year", "VOC2012", "--set", "all",
               "--label-map", str(tmp_path / "labels.pbtxt"), "--output", str(out),
               "--workers", str(workers), "--remap", "vna=car")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--remap: class 'vna' is not in the dataset" in lines[0]
    assert "Truck, car, person, van" in lines[0]          # every class the workers read
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_keep_classes_checked_after_the_remap_on_the_classes_read(voc, tmp_path):
    (tmp_path / "labels.pbtxt").write_text(LABELS)
    with pytest.raises(tfrconv.UsageError, match="--keep-classes: class 'van' is not in the "
                       "dataset after --remap"):
        convert(voc, tmp_path / "k.record", label_map=str(tmp_path / "labels.pbtxt"),
                remap="van=car", keep_classes=["van"])
    assert not list(tmp_path.glob("k*"))
    summary = convert(voc, tmp_path / "ok.record", label_map=str(tmp_path / "labels.pbtxt"),
                      remap="van=car", keep_classes=["car"])
    assert summary.classes == {"car": 7}


# -- tfrconv plugins ---------------------------------------------------------------------------
def test_plugins_lists_each_plugins_transforms():
    done = cli("plugins")
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("transforms "))
    assert "transforms: classes, filters, split, resize" in line
    listed = json.loads(cli("plugins", "--json").stdout)
    by_name = {p["name"]: p for p in listed["plugins"]}
    assert by_name["transforms"]["transforms"] == ["classes", "filters", "split", "resize"]
    assert by_name["voc"]["transforms"] == []
