"""`--split ... --stratify` (docs/transforms.md): each class keeps its share of images per split.

The datasets are small VOC folders written here, with single-class images, so the per-class
counts each split must get are written out below (shares times class sizes are whole numbers,
and the greedy plan reaches them exactly); the plain hash split reaches them only by chance.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_transforms import examples, make_voc, texts

import tfrconv
from tfrconv.transforms.stratify import Annotated, plan

SPLIT = "train=0.8,val=0.1,test=0.1"
SIZES = {"ant": 10, "bee": 20, "cow": 30}          # images of each class, one class per image
EXPECTED = {"ant": {"train": 8, "val": 1, "test": 1},
            "bee": {"train": 16, "val": 2, "test": 2},
            "cow": {"train": 24, "val": 3, "test": 3}}


def pictures(sizes: dict[str, int], per_group: int = 1) -> dict:
    """name → (width, height, objects, seed): `per_group` frames per clip, one class a clip."""
    found, seed = {}, 0
    for label, count in sizes.items():
        for index in range(count):
            seed += 1
            name = f"{label}{index // per_group:02d}_{index % per_group}"
            found[name] = (24, 16, [(label, 2, 2, 20, 14)], seed)
    return found


def convert(root: Path, output: Path, **options):
    options.setdefault("workers", 1)
    return tfrconv.convert("voc", data_dir=str(root), year="VOC2012", set="all",
                           label_map="from-data", output=str(output), **options)


def images_per_split(folder: Path) -> dict[str, Counter]:
    """class → split → images, read back from the records written."""
    found: dict[str, Counter] = {}
    for path in folder.glob("data_*.record"):
        split = path.stem[len("data_"):]
        for example in examples(path).values():
            for label in set(texts(example)):
                found.setdefault(label, Counter())[split] += 1
    return found


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    return make_voc(tmp_path_factory.mktemp("voc"), pictures(SIZES))


def test_each_class_gets_its_share_in_every_split(voc, tmp_path):
    summary = convert(voc, tmp_path / "data.record", split=SPLIT, stratify=True)
    assert images_per_split(tmp_path) == EXPECTED
    assert summary.split_classes == EXPECTED
    assert "ant train 8 (80%), val 1 (10%), test 1 (10%)" in summary.line()
    manifest = json.loads((tmp_path / "data_val.manifest.json").read_text())
    assert {c["name"]: c["images"] for c in manifest["classes"]} == {"ant": 1, "bee": 2, "cow": 3}
    assert manifest["settings"]["transforms"]["split_assignment"].startswith("stratified: 60 ids")


def test_the_plain_split_is_not_stratified_here(voc, tmp_path):
    # The same data and seed without --stratify: the hash alone misses the counts above.
    convert(voc, tmp_path / "data.record", split=SPLIT)
    assert images_per_split(tmp_path) != EXPECTED


def test_one_and_two_workers_write_the_same_bytes(voc, tmp_path):
    for workers in (1, 2):
        convert(voc, tmp_path / str(workers) / "data.record", split=SPLIT, stratify=True,
                split_seed=5, workers=workers)
    one = {p.name: p.read_bytes() for p in (tmp_path / "1").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "2").iterdir()}
    assert len(one) == 9 and one == two          # 3 records, 3 manifests, 3 label maps


def test_group_by_moves_a_clip_as_one(tmp_path):
    # 10 clips of 3 frames per class: 8 clips to train, 1 to val, 1 to test (3 frames each).
    root = make_voc(tmp_path / "voc", pictures({"ant": 30, "bee": 30}, per_group=3))
    convert(root, tmp_path / "out/data.record", split=SPLIT, stratify=True,
            group_by=r"^([a-z]+\d+)_")
    split_of = {}
    for path in (tmp_path / "out").glob("data_*.record"):
        split_of.update({sid: path.stem[len("data_"):] for sid in examples(path)})
    clips: dict[str, set] = {}
    for sid, split in split_of.items():
        clips.setdefault(sid.split("_")[0], set()).add(split)
    assert len(clips) == 20 and all(len(splits) == 1 for splits in clips.values())
    assert images_per_split(tmp_path / "out") == {
        name: {"train": 24, "val": 3, "test": 3} for name in ("ant", "bee")}


def test_the_rarest_class_of_an_image_decides():
    # Ten images with the rare class "r" (four of them also "c"), ten with only "c": "r"
    # gets exactly its shares; "c" follows as it can.
    items = [Annotated(f"r{i}", None, ("r", "c") if i < 4 else ("r",)) for i in range(10)]
    items += [Annotated(f"c{i}", None, ("c",)) for i in range(10)]
    table = plan(items, (("a", 0.5), ("b", 0.5)), 0, None)
    rare = Counter(table[f"r{i}"] for i in range(10))
    assert rare == {"a": 5, "b": 5}
    common = Counter(table[item.source_id] for item in items if "c" in item.classes)
    assert common == {"a": 7, "b": 7}


def test_a_tolerance_that_cannot_be_met_stops_before_any_work(tmp_path):
    root = make_voc(tmp_path / "voc", pictures({"ant": 1, "bee": 20}))
    out = tmp_path / "out"
    with pytest.raises(tfrconv.UsageError, match=r"class 'ant' \(1 image\) cannot keep its "
                       r"shares within --stratify-tolerance 0.05: train 1 \(100%, target 80%\)"
                       r".*give --stratify-tolerance 0.2 or more"):
        convert(root, out / "data.record", split=SPLIT, stratify=True)
    assert not out.exists()
    summary = convert(root, out / "data.record", split=SPLIT, stratify=True,
                      stratify_tolerance=0.2)
    assert summary.split_classes["ant"] == {"train": 1, "val": 0, "test": 0}


@pytest.mark.parametrize("args, expected", [
    (["--stratify"], "--stratify needs --split"),
    (["--split", SPLIT, "--stratify-tolerance", "0.1"], "--stratify-tolerance needs --stratify"),
    (["--split", SPLIT, "--stratify", "--stratify-tolerance", "0"],
     "--stratify-tolerance: 0 is not a share above 0 and at most 1"),
])
def test_bad_stratify_options_are_one_usage_line(voc, tmp_path, args, expected):
    done = subprocess.run(
        [sys.executable, "-m", "tfrconv", "voc", "--data-dir", str(voc), "--year", "VOC2012",
         "--set", "all", "--output", str(tmp_path / "data.record"), *args],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert not list(tmp_path.iterdir())


def test_beam_writes_the_local_runners_bytes(voc, tmp_path):
    pytest.importorskip("apache_beam")
    for runner in ("local", "beam"):
        convert(voc, tmp_path / runner / "data.record", split=SPLIT, stratify=True,
                runner=runner)
    for split in ("train", "val", "test"):
        name = f"data_{split}.record"
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "beam" / name).read_bytes()
