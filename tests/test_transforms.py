"""Transforms while converting (docs/transforms.md): split, classes, filters, resize, exact
duplicate images, a third-party transform, and the promises (one-line usage errors before any
work; bytes identical across --workers; no transform, no change).

The dataset is a small VOC folder written here, so every expectation is known in advance: the
classes of each image, its pixels and its boxes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_plugins import fake_dist
from PIL import Image

import tfrconv
from tfrconv import keys as K

# name → (width, height, [(class, xmin, ymin, xmax, ymax)], colour seed)
PICTURES = {
    "seqA_001": (400, 200, [("van", 10, 10, 110, 60), ("car", 200, 50, 390, 190)], 1),
    "seqA_002": (400, 200, [("van", 12, 10, 112, 60)], 2),
    "seqB_001": (300, 300, [("Truck", 5, 5, 295, 295), ("car", 1, 1, 4, 4)], 3),
    "seqB_002": (300, 300, [], 4),
    "seqC_001": (640, 480, [("car", 0, 0, 320, 240), ("car", 10, 10, 30, 30),
                            ("van", 100, 100, 500, 400)], 5),
    "seqC_002": (200, 100, [("person", 20, 20, 60, 90)], 6),
}


def write_jpeg(path: Path, width: int, height: int, seed: int) -> None:
    image = Image.new("RGB", (width, height), (seed * 40 % 256, 90, 200 - seed * 20))
    for x in range(0, width, 17):                       # some structure for the encoder
        image.putpixel((x, (x * seed) % height), (255, 255, 255))
    image.save(path, format="JPEG", quality=90)


def make_voc(root: Path, pictures=PICTURES, duplicate: tuple[str, str] | None = None) -> Path:
    """VOC2012-style folder; `duplicate` = (new name, existing name): the same image bytes."""
    base = root / "VOC2012"
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    names = list(pictures)
    for name, (width, height, objects, seed) in pictures.items():
        write_jpeg(base / "JPEGImages" / f"{name}.jpg", width, height, seed)
        write_xml(base, name, width, height, objects)
    if duplicate is not None:
        new, old = duplicate
        width, height, objects, _seed = pictures[old]
        (base / "JPEGImages" / f"{new}.jpg").write_bytes(
            (base / "JPEGImages" / f"{old}.jpg").read_bytes())
        write_xml(base, new, width, height, objects)
        names.append(new)
    (base / "ImageSets/Main/all.txt").write_text("\n".join(names) + "\n")
    return root


def write_xml(base: Path, name: str, width: int, height: int, objects) -> None:
    parts = [f"<annotation><filename>{name}.jpg</filename><size><width>{width}</width>"
             f"<height>{height}</height><depth>3</depth></size>"]
    for label, xmin, ymin, xmax, ymax in objects:
        parts.append(f"<object><name>{label}</name><difficult>0</difficult><bndbox>"
                     f"<xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax>"
                     f"<ymax>{ymax}</ymax></bndbox></object>")
    (base / "Annotations" / f"{name}.xml").write_text("".join(parts) + "</annotation>")


def subset(root: Path, name: str, images: list[str]) -> None:
    (root / "VOC2012/ImageSets/Main" / f"{name}.txt").write_text("\n".join(images) + "\n")


def convert(root: Path, output: Path, **options):
    options.setdefault("workers", 1)
    options.setdefault("set", "all")
    options.setdefault("label_map", "from-data")
    return tfrconv.convert("voc", data_dir=str(root), year="VOC2012", output=str(output),
                           **options)


def examples(path: Path) -> dict[str, dict]:
    return {ex[K.SOURCE_ID][0].decode().removesuffix(".jpg"): ex
            for ex in tfrconv.read_examples(str(path))}


def texts(example) -> list[str]:
    return [t.decode() for t in example[K.OBJECT_CLASS_TEXT]]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfrconv", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    return make_voc(tmp_path_factory.mktemp("voc"))


# -- split ---------------------------------------------------------------------------------
def test_split_writes_one_output_per_split_with_one_label_map(voc, tmp_path):
    summary = convert(voc, tmp_path / "data.record", split="train=0.5,val=0.5")
    train, val = tmp_path / "data_train.record", tmp_path / "data_val.record"
    assert sorted(p.name for p in tmp_path.glob("*.record")) == [train.name, val.name]
    ids = list(examples(train)) + list(examples(val))
    assert sorted(ids) == sorted(PICTURES)                     # each image exactly once
    maps = {(tmp_path / f"data_{s}.label_map.pbtxt").read_text() for s in ("train", "val")}
    assert len(maps) == 1
    assert [o.split for o in summary.outputs] == ["train", "val"]
    manifest = json.loads((tmp_path / "data_val.manifest.json").read_text())
    assert manifest["settings"]["transforms"]["split"] == "train=0.5,val=0.5"


def split_of(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.glob("data_*.record"):
        split = path.stem[len("data_"):]
        found.update({sid: split for sid in examples(path)})
    return found


def test_adding_images_moves_no_image_to_another_split(voc, tmp_path):
    few = ["seqA_001", "seqB_002", "seqC_002"]
    subset(voc, "few", few)
    for folder, image_set in (("all", "all"), ("few", "few")):
        convert(voc, tmp_path / folder / "data.record", set=image_set,
                split="a=0.34,b=0.33,c=0.33", on_unknown_class="skip")
    everything, fewer = split_of(tmp_path / "all"), split_of(tmp_path / "few")
    assert set(fewer) == set(few)
    assert {sid: everything[sid] for sid in few} == fewer


def test_split_by_content_follows_the_bytes_not_the_name(tmp_path):
    root = make_voc(tmp_path / "voc", duplicate=("renamed", "seqC_001"))
    convert(root, tmp_path / "out/data.record", split="a=0.5,b=0.5")
    where = split_of(tmp_path / "out")
    assert where["renamed"] == where["seqC_001"]


def test_group_by_keeps_a_sequence_in_one_split(voc, tmp_path):
    for seed in range(6):           # several seeds: without grouping some pair would part
        out = tmp_path / str(seed)
        convert(voc, out / "data.record", split="train=0.5,val=0.5", split_seed=seed,
                group_by=r"^(seq[A-Z])_")
        where = split_of(out)
        for sequence in ("seqA", "seqB", "seqC"):
            assert where[f"{sequence}_001"] == where[f"{sequence}_002"], (seed, where)


def test_split_shares_are_kept_on_many_images():
    # The assignment rule itself on 20,000 keys: each share within 1.5 points.
    from tfrconv.transforms.split import SplitAssigner, parse_split

    assigner = SplitAssigner(parse_split("train=0.8,val=0.1,test=0.1"), 7, "id", None)
    counts = {"train": 0, "val": 0, "test": 0}
    for index in range(20_000):
        counts[assigner.choose(f"id:image{index}")] += 1
    assert abs(counts["train"] / 20_000 - 0.8) < 0.015
    assert abs(counts["val"] / 20_000 - 0.1) < 0.015


# -- classes -------------------------------------------------------------------------------
def test_remap_merges_classes_and_the_label_map_follows(voc, tmp_path):
    out = tmp_path / "data.record"
    summary = convert(voc, out, remap="van=car,Truck=truck")
    records = examples(out)
    assert texts(records["seqA_001"]) == ["car", "car"]
    assert texts(records["seqB_001"]) == ["truck", "car"]
    label_map = tfrconv.load_label_map(str(tmp_path / "data.label_map.pbtxt"))
    assert sorted(item.name for item in label_map.items) == ["car", "person", "truck"]
    assert summary.classes == {"car": 7, "person": 1, "truck": 1}
    for example in records.values():      # ids are the generated map's
        assert [label_map.resolve(t) for t in texts(example)] == \
            list(example[K.OBJECT_CLASS_LABEL])


def test_keep_and_drop_classes_name_classes_after_the_remap(voc, tmp_path):
    kept = convert(voc, tmp_path / "k/k.record", remap="van=car", keep_classes="car")
    assert kept.classes == {"car": 7}
    dropped = convert(voc, tmp_path / "d/d.record", remap="van=car", drop_classes=["car"])
    assert dropped.classes == {"Truck": 1, "person": 1}
    assert texts(examples(tmp_path / "d/d.record")["seqA_001"]) == []


# -- filters -------------------------------------------------------------------------------
def test_min_box_size_and_max_boxes(voc, tmp_path):
    out = tmp_path / "f.record"
    convert(voc, out, min_box_size=10, max_boxes=1)
    records = examples(out)
    assert texts(records["seqB_001"]) == ["Truck"]             # the 3 px car is gone
    assert texts(records["seqC_001"]) == ["van"]                # the largest of three
    first = tmp_path / "first.record"
    convert(voc, first, max_boxes=1, max_boxes_policy="first")
    assert texts(examples(first)["seqC_001"]) == ["car"]
    skip = tmp_path / "skip.record"
    summary = convert(voc, skip, max_boxes=2, max_boxes_policy="skip")
    assert "seqC_001" not in examples(skip)
    assert summary.problems["filtered"]["count"] == 1


def test_drop_empty(voc, tmp_path):
    out = tmp_path / "e.record"
    convert(voc, out, drop_empty=True)
    assert set(examples(out)) == set(PICTURES) - {"seqB_002"}
    convert(voc, tmp_path / "k.record", keep_empty=True)
    assert set(examples(tmp_path / "k.record")) == set(PICTURES)


# -- images --------------------------------------------------------------------------------
def test_max_side_shrinks_keeps_boxes_and_hashes_the_new_bytes(voc, tmp_path):
    plain, small = tmp_path / "p.record", tmp_path / "s.record"
    convert(voc, plain)
    convert(voc, small, max_side=150)
    before, after = examples(plain), examples(small)
    for sid, (width, height, _objects, _seed) in PICTURES.items():
        data = after[sid][K.ENCODED][0]
        image = Image.open(io.BytesIO(data))
        assert max(image.size) == min(150, max(width, height))
        assert abs(image.size[0] / image.size[1] - width / height) < 0.02
        assert list(image.size) == [after[sid][K.WIDTH][0], after[sid][K.HEIGHT][0]]
        assert after[sid][K.KEY_SHA256][0].decode() == hashlib.sha256(data).hexdigest()
        for key in K.BOX_KEYS:
            assert after[sid][key] == before[sid][key]


def test_image_format_png_and_jpeg_quality(voc, tmp_path):
    convert(voc, tmp_path / "png.record", image_format="png")
    for example in examples(tmp_path / "png.record").values():
        assert example[K.FORMAT] == [b"png"]
        assert Image.open(io.BytesIO(example[K.ENCODED][0])).format == "PNG"
    convert(voc, tmp_path / "q.record", jpeg_quality=20)
    plain = tmp_path / "plain.record"
    convert(voc, plain)
    low, high = examples(tmp_path / "q.record"), examples(plain)
    assert all(len(low[s][K.ENCODED][0]) < len(high[s][K.ENCODED][0]) for s in PICTURES)


def test_exif_orientation_is_applied_when_reencoding(tmp_path):
    root = make_voc(tmp_path / "voc", {"r": (100, 40, [("car", 1, 1, 20, 20)], 1)})
    path = root / "VOC2012/JPEGImages/r.jpg"
    image = Image.open(path)
    exif = Image.Exif()
    exif[0x0112] = 6                                         # rotate 90° clockwise to show
    image.save(path, format="JPEG", exif=exif.tobytes())
    convert(root, tmp_path / "o.record", max_side=50, on_size_mismatch="warn")
    stored = Image.open(io.BytesIO(examples(tmp_path / "o.record")["r"][K.ENCODED][0]))
    assert stored.size == (20, 50)                           # shown upright: 40x100 → 20x50
    assert stored.getexif().get(0x0112, 1) == 1


# -- duplicates ----------------------------------------------------------------------------
def test_exact_duplicate_images_warn_skip_error(tmp_path):
    root = make_voc(tmp_path / "voc", duplicate=("copy", "seqA_002"))
    warned = convert(root, tmp_path / "w.record", on_duplicate_image="warn")
    assert warned.problems["duplicate_image"]["count"] == 1
    assert warned.problems["duplicate_image"]["first"][0]["source_id"] == "copy.jpg"
    assert len(examples(tmp_path / "w.record")) == len(PICTURES) + 1
    skipped = convert(root, tmp_path / "s.record", on_duplicate_image="skip")
    assert skipped.skipped_images == 1 and "copy" not in examples(tmp_path / "s.record")
    with pytest.raises(tfrconv.DataError, match="same image bytes"):
        convert(root, tmp_path / "e.record", on_duplicate_image="error")
    assert not list(tmp_path.glob("e*"))
    quiet = convert(root, tmp_path / "k.record")                # default keep: not checked
    assert "duplicate_image" not in quiet.problems


def test_a_duplicate_across_splits_is_named_as_leakage(tmp_path):
    root = make_voc(tmp_path / "voc", duplicate=("copy", "seqA_002"))
    for seed in range(20):        # by id, the copy lands in the other split for some seed
        summary = convert(root, tmp_path / str(seed) / "d.record", split="a=0.5,b=0.5",
                          split_by="id", split_seed=seed, on_duplicate_image="warn")
        message = summary.problems["duplicate_image"]["first"][0]["message"]
        if "leakage" in message:
            return
    pytest.fail("no seed put the two copies in different splits")


# -- promises ------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "expected"), [
    (["--split", "train=0.8,val=0.3"], "the shares add up to 1.1"),
    (["--split", "train=0.8,val"], "is not NAME=SHARE"),
    (["--split", "a=0.5,b=0.5", "--group-by", "seq(["], "--group-by: 'seq([' is not a "
     "regular expression"),
    (["--remap", "vna=car"], "--remap: class 'vna' is not in the dataset"),
    (["--remap", "van"], "is not OLD=NEW"),
    (["--keep-classes", "plane"], "--keep-classes: class 'plane' is not in the dataset"),
    (["--drop-empty", "--keep-empty"], "--drop-empty contradicts --keep-empty"),
    (["--split-seed", "3"], "--split-seed needs --split"),
    (["--max-side", "0"], "--max-side must be at least 1"),
])
def test_bad_transform_options_are_one_usage_line_before_any_work(voc, tmp_path, args,
                                                                  expected):
    out = tmp_path / "data.record"
    done = cli("voc", "--data-dir", str(voc), "--year", "VOC2012", "--set", "all",
               "--label-map", "from-data", "--output", str(out), *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert not list(tmp_path.iterdir())


def test_output_is_the_same_for_one_and_two_workers(voc, tmp_path):
    options = dict(split="train=0.6,val=0.4", remap="van=car", max_side=120, min_box_size=4,
                   on_duplicate_image="warn")
    for workers in (1, 2):
        convert(voc, tmp_path / str(workers) / "data.record", workers=workers, **options)
    one = {p.name: p.read_bytes() for p in (tmp_path / "1").glob("*.record")}
    two = {p.name: p.read_bytes() for p in (tmp_path / "2").glob("*.record")}
    assert one == two and len(one) == 2


def test_no_transform_option_leaves_the_records_and_manifest_alone(voc, tmp_path):
    convert(voc, tmp_path / "a.record")
    convert(voc, tmp_path / "b.record", split_by=None, remap=None)       # None: not given
    assert (tmp_path / "a.record").read_bytes() == (tmp_path / "b.record").read_bytes()
    manifest = json.loads((tmp_path / "a.manifest.json").read_text())
    assert "transforms" not in manifest["settings"]
    assert "on_duplicate_image" not in manifest["settings"]


# -- a third party's transform -------------------------------------------------------------
UPPER = """
from tfrconv import Option, TransformSpec, hookimpl

class Upper:
    def __init__(self, prefix):
        self.prefix = prefix

    def rename_class(self, name):
        return self.prefix + name.upper()

    def __call__(self, sample, context):
        for obj in sample.objects:
            obj.label = self.rename_class(obj.label)
        return sample

def setup(opts):
    return Upper(opts.upper_prefix) if opts.upper_classes else None

@hookimpl
def register_transforms(register):
    register(TransformSpec("upper", "upper-case every class", setup, options=(
        Option("upper_classes", "upper-case class names", "bool", default=False),
        Option("upper_prefix", "put this before each name", "str", default=""))))
"""


def test_a_third_party_transform_installed_with_an_entry_point(voc, tmp_path):
    site = tmp_path / "site"
    fake_dist(site, "tfrconv_upper", UPPER, entry="upper")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    out = tmp_path / "out/data.record"
    done = cli("voc", "--data-dir", str(voc), "--year", "VOC2012", "--set", "all",
               "--label-map", "from-data", "--output", str(out), "--upper-classes",
               "--upper-prefix", "x-", "--workers", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert texts(examples(out)["seqB_001"]) == ["x-TRUCK", "x-CAR"]
    label_map = (tmp_path / "out/data.label_map.pbtxt").read_text()
    assert "x-VAN" in label_map and "van" not in label_map
    listed = cli("voc", "--help", env=env).stdout
    assert "--upper-classes" in listed


def test_beam_writes_the_local_runners_bytes_with_transforms(voc, tmp_path):
    pytest.importorskip("apache_beam")
    options = dict(split="train=0.6,val=0.4", remap="van=car", max_side=120, min_box_size=4,
                   drop_empty=True)
    convert(voc, tmp_path / "local/data.record", **options)
    convert(voc, tmp_path / "beam/data.record", runner="beam", **options)
    for name in ("data_train.record", "data_val.record", "data_val.label_map.pbtxt"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "beam" / name).read_bytes()
    with pytest.raises(tfrconv.UsageError, match="--on-duplicate-image needs --runner local"):
        convert(voc, tmp_path / "dup/data.record", runner="beam", on_duplicate_image="warn")
