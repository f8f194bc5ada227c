"""Transform checks at the end of a run and what `tfrconv plugins` lists: --remap on a format
without a cheap class list (checked on the classes the workers read, before publishing),
near-duplicate images across splits (perceptual hash, banded index), the plugins listing.

Datasets come from tests/test_transforms.py's small VOC writer, so every class is known.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from PIL import Image
from test_transforms import cli, convert, examples, make_voc, subset, write_xml

import tfrconv
from tfrconv.transforms.near_duplicates import LeakageIndex, perceptual_hash

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
    assert "transforms: classes, filters, split, resize, near_duplicates" in line
    listed = json.loads(cli("plugins", "--json").stdout)
    by_name = {p["name"]: p for p in listed["plugins"]}
    assert by_name["transforms"]["transforms"] == ["classes", "filters", "split", "resize",
                                                 "near_duplicates"]
    assert by_name["voc"]["transforms"] == []


# -- --near-duplicates ---------------------------------------------------------------------------
def picture(seed: int, size=(320, 240)) -> Image.Image:
    """A smooth random landscape of grays: pictures of different seeds look nothing alike."""
    rng = random.Random(seed)
    tiles = Image.new("L", (8, 6))
    tiles.putdata([rng.randrange(256) for _ in range(48)])
    return tiles.resize(size, Image.Resampling.BILINEAR).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_perceptual_hash_known_answers():
    brighter_to_the_right = Image.linear_gradient("L").rotate(90)     # black left, white right
    assert perceptual_hash(jpeg(brighter_to_the_right)) == 2 ** 64 - 1
    png = io.BytesIO()
    brighter_to_the_right.rotate(180).save(png, format="PNG")          # white left
    assert perceptual_hash(png.getvalue()) == 0
    assert perceptual_hash(b"not an image") is None
    original = perceptual_hash(jpeg(picture(1)))
    assert (original ^ perceptual_hash(jpeg(picture(1), quality=50))).bit_count() <= 1
    assert (original ^ perceptual_hash(jpeg(picture(2)))).bit_count() > 12


@pytest.mark.parametrize("distance", [0, 2, 4, 9])
def test_the_banded_index_finds_what_comparing_every_pair_finds(distance):
    rng = random.Random(distance)
    hashes = [rng.getrandbits(64) for _ in range(300)]
    for _ in range(150):                      # plant look-alikes: a few bits flipped
        bits = rng.sample(range(64), rng.randrange(0, distance + 3))
        hashes.append(rng.choice(hashes) ^ sum(1 << b for b in bits))
    splits = [rng.choice("ab") for _ in hashes]
    index = LeakageIndex(distance)
    found = set()
    for i, (value, split) in enumerate(zip(hashes, splits)):
        for problem in index.add(value, split, str(i), None, str(i)):
            other = int(problem.message.split()[2])
            found.add((other, i))
    expected = {(i, j) for j in range(len(hashes)) for i in range(j)
                if splits[i] != splits[j] and (hashes[i] ^ hashes[j]).bit_count() <= distance}
    assert found == expected and len(expected) > 10


def make_textured_voc(root: Path) -> Path:
    """Six different pictures, and `copy`: picture 1 saved again at JPEG quality 50."""
    pictures = {f"p{seed}": (320, 240, [("car", 10, 10, 200, 150)], seed) for seed in range(6)}
    make_voc(root, pictures)
    folder = root / "VOC2012/JPEGImages"
    for seed in range(6):
        (folder / f"p{seed}.jpg").write_bytes(jpeg(picture(seed)))
    (folder / "copy.jpg").write_bytes(jpeg(picture(1), quality=50))
    write_xml(root / "VOC2012", "copy", 320, 240, [("car", 10, 10, 200, 150)])
    subset(root, "all", [*pictures, "copy"])
    return root


def split_apart(root: Path, tmp_path: Path, **options):
    """A seed that puts p1 and its copy in different splits, and that run's summary."""
    for seed in range(30):
        summary = convert(root, tmp_path / str(seed) / "d.record", split="a=0.5,b=0.5",
                          split_by="id", split_seed=seed, **options)
        where = {sid: out.split for out in summary.outputs
                 for sid in examples(Path(out.path))}
        if where["p1"] != where["copy"]:
            return seed, summary, where
    pytest.fail("no seed put p1 and its copy in different splits")


def test_a_near_duplicate_across_splits_is_reported_as_leakage(tmp_path):
    root = make_textured_voc(tmp_path / "voc")
    seed, summary, where = split_apart(root, tmp_path / "warn", near_duplicates=True)
    problems = summary.problems["near_duplicate"]
    assert problems["count"] == 1
    first = problems["first"][0]
    assert first["source_id"] == "copy.jpg" and first["action"] == "kept"
    assert first["message"].startswith(f"looks like p1.jpg of split {where['p1']!r}")
    assert "leakage between splits" in first["message"]
    assert summary.examples == 7                           # reported, not left out
    again = convert(root, tmp_path / "w2" / "d.record", split="a=0.5,b=0.5", split_by="id",
                    split_seed=seed, near_duplicates=True, workers=2)
    assert again.problems == summary.problems
    quiet = convert(root, tmp_path / "off" / "d.record", split="a=0.5,b=0.5", split_by="id",
                    split_seed=seed)
    assert "near_duplicate" not in quiet.problems
    strict = tmp_path / "strict"
    with pytest.raises(tfrconv.DataError, match="looks like p1.jpg"):
        convert(root, strict / "d.record", split="a=0.5,b=0.5", split_by="id",
                split_seed=seed, near_duplicates=True, on_near_duplicate="error")
    assert not strict.exists() or not list(strict.iterdir())


@pytest.mark.parametrize(("options", "expected"), [
    (dict(near_duplicates=True), "--near-duplicates looks for leakage between splits"),
    (dict(near_duplicate_distance=3), "--near-duplicate-distance needs --near-duplicates"),
    (dict(split="a=0.5,b=0.5", near_duplicates=True, near_duplicate_distance=16),
     "--near-duplicate-distance must be between 0 and 15"),
    (dict(split="a=0.5,b=0.5", near_duplicates=True, runner="beam"),
     "--near-duplicates needs --runner local"),
])
def test_bad_near_duplicate_options_are_usage_errors_before_any_work(voc, tmp_path, options,
                                                                     expected):
    if options.get("runner") == "beam":
        pytest.importorskip("apache_beam")
    with pytest.raises(tfrconv.UsageError, match=expected):
        convert(voc, tmp_path / "d.record", **options)
    assert not list(tmp_path.iterdir())
