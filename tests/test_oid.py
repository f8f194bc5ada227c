"""Open Images: features against the reference converter's, negatives, shards, policies, bad
CSVs."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import bytes_feature, feature_spec, float_feature, int64_feature, parse_records
from parity import assert_same_kinds_and_values
from reach import branch, reaches
from strategies import csv_lines, messy_rows, one_part_broken

import tfrconv
from tfrconv.sharding import stable_hash

PERSON, CAR, DOG = "/m/01g317", "/m/0k4j", "/m/0bt9lr"
DESCRIPTIONS = [(PERSON, "Person"), (CAR, "Car"), (DOG, "Dog")]
BOX_HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,"
              "IsGroupOf,IsDepiction,IsInside")
ATTRIBUTE_KEYS = {"image/object/occluded": "int", "image/object/truncated": "int",
                  "image/object/depiction": "int", "image/object/inside": "int"}


def write_image(path, width, height, fmt="JPEG"):
    from PIL import Image

    pixels = np.random.default_rng(len(str(path))).integers(0, 255, (height, width, 3),
                                                            dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)


def make_oid(root, images, boxes, labels=None, descriptions=DESCRIPTIONS, header=BOX_HEADER):
    """An Open Images folder: images/<id>.<ext>, the box CSV, label CSV and descriptions."""
    image_dir = root / "images"
    image_dir.mkdir(parents=True)
    for name, (width, height, fmt) in images.items():
        write_image(image_dir / name, width, height, fmt)
    (root / "boxes.csv").write_text(header + "\n" + "".join(r + "\n" for r in boxes))
    paths = {"annotations_csv": str(root / "boxes.csv"), "images_dir": str(image_dir)}
    if labels is not None:
        (root / "labels.csv").write_text("ImageID,Source,LabelName,Confidence\n"
                                         + "".join(r + "\n" for r in labels))
        paths["image_labels_csv"] = str(root / "labels.csv")
    if descriptions is not None:
        (root / "descriptions.csv").write_text("".join(f"{m},{n}\n" for m, n in descriptions))
        paths["class_descriptions"] = str(root / "descriptions.csv")
    return paths


# Data both converters can read: hex ids, .jpg files (the reference globs *.jpg only).
REFERENCE_IMAGES = {"000002b66c9c498e.jpg": (40, 30, "JPEG"),
                    "0a1b2c3d4e5f6789.jpg": (32, 32, "JPEG"),
                    "ffee0011aabbccdd.jpg": (20, 24, "JPEG")}      # no annotations: a negative
REFERENCE_BOXES = [
    f"000002b66c9c498e,xclick,{PERSON},1,0.1,0.5,0.2,0.9,0,1,0,0,0",
    f"000002b66c9c498e,xclick,{CAR},1,0.3333333,0.99,0.125,0.7071,1,0,1,-1,1",
    f"0a1b2c3d4e5f6789,activemil,{DOG},1,0.05,0.95,0.0,1.0,-1,-1,-1,-1,-1",
    f"000002b66c9c498e,xclick,{DOG},1,0.0,0.1,0.0,0.1,0,0,0,1,0",
]
REFERENCE_LABELS = [f"0a1b2c3d4e5f6789,verification,{DOG},1",
                    f"0a1b2c3d4e5f6789,verification,{PERSON},0",
                    f"000002b66c9c498e,verification,{CAR},1"]


# -- the reference, reproduced from odapi-reference.md §2.4 (test oracle) ---------------------
def reference_records(paths, label_map, num_shards):
    """create_oid_tf_record.py: {image id: (serialized tf.train.Example, shard)}."""
    import pandas as pd
    import tensorflow as tf

    boxes = pd.read_csv(paths["annotations_csv"])
    labels = None
    if "image_labels_csv" in paths:
        labels = pd.read_csv(paths["image_labels_csv"]).rename(
            columns={"Confidence": "ConfidenceImageLabel"})
    files = glob.glob(os.path.join(paths["images_dir"], "*.jpg"))
    ids = pd.DataFrame({"ImageID": [os.path.splitext(os.path.basename(f))[0] for f in files]})
    everything = pd.concat([boxes, ids, labels])
    out = {}
    for image_id, frame in everything.groupby("ImageID"):
        with open(os.path.join(paths["images_dir"], image_id + ".jpg"), "rb") as f:
            encoded = f.read()
        kept = frame[frame.LabelName.isin(label_map)]
        box_rows = kept[~kept.YMin.isnull()]
        label_rows = kept[kept.YMin.isnull()]

        floats, ints = float_feature, int64_feature

        def texts(values):
            return bytes_feature([v.encode() if isinstance(v, str) else v for v in values])

        feature = {
            "image/object/bbox/ymin": floats(box_rows.YMin.to_numpy()),
            "image/object/bbox/xmin": floats(box_rows.XMin.to_numpy()),
            "image/object/bbox/ymax": floats(box_rows.YMax.to_numpy()),
            "image/object/bbox/xmax": floats(box_rows.XMax.to_numpy()),
            "image/object/class/text": texts(box_rows.LabelName.to_numpy()),
            "image/object/class/label": ints(box_rows.LabelName.map(label_map).to_numpy()),
            "image/filename": texts([f"{image_id}.jpg"]),
            "image/source_id": texts([image_id]),
            "image/encoded": texts([encoded]),
        }
        for column, key in (("IsGroupOf", "group_of"), ("IsOccluded", "occluded"),
                            ("IsTruncated", "truncated"), ("IsDepiction", "depiction")):
            if column in kept.columns:
                feature[f"image/object/{key}"] = ints(box_rows[column].to_numpy().astype(int))
        if "ConfidenceImageLabel" in label_rows.columns:
            feature["image/class/label"] = ints(label_rows.LabelName.map(label_map).to_numpy())
            feature["image/class/text"] = texts(label_rows.LabelName.to_numpy())
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        out[image_id] = (example.SerializeToString(), int(image_id, 16) % num_shards)
    return out


# What the reference leaves out (docs/formats/oid.md): the true size, format and sha256, IsInside,
# the image-level labels' confidence and the verified-absent ids.
OURS_ONLY = ("image/height", "image/width", "image/format", "image/key/sha256",
             "image/object/inside", "image/class/confidence", "image/neg_category_ids")

# On an image without boxes or labels the reference writes these as empty lists, tfrconv not.
EMPTY_ON_NEGATIVES = (
    *(f"image/object/{key}" for key in ("bbox/xmin", "bbox/xmax", "bbox/ymin", "bbox/ymax",
                                        "class/text", "class/label", "group_of", "occluded",
                                        "truncated", "depiction", "inside")),
    "image/class/label", "image/class/text")


def parse_one(record: bytes, extra=None) -> dict:
    import tensorflow as tf

    parsed = tf.io.parse_single_example(record, feature_spec(tf, extra))
    return {k: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
            for k, v in parsed.items()}


def records_by_shard(output: str) -> dict[int, list[bytes]]:
    from tfrconv.tfrecord import read_records

    shards = sorted(glob.glob(output + "-*-of-*"))
    return {i: list(read_records(path)) for i, path in enumerate(shards)}


def source_id(record: bytes) -> str:
    from tfrconv.example import decode

    return decode(record)["image/source_id"][0].decode()


# -- tests ---------------------------------------------------------------------------------
def test_features_match_the_reference_converter(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES, REFERENCE_LABELS)
    output = str(tmp_path / "out" / "oid.record")
    summary = tfrconv.convert("oid", output=output, num_shards=4, workers=1, **paths)
    assert summary.examples == 3 and summary.objects == 4

    label_map = {mid: i for i, (mid, _name) in enumerate(DESCRIPTIONS, start=1)}
    expected = reference_records(paths, label_map, 4)
    ours = {source_id(r): (r, shard) for shard, rs in records_by_shard(output).items()
            for r in rs}
    assert set(ours) == set(expected)
    extra = {**ATTRIBUTE_KEYS, "image/object/depiction": "int"}
    for image_id, (reference, shard) in expected.items():
        record, our_shard = ours[image_id]
        assert our_shard == shard, image_id                  # int(ImageID, 16) % N
        assert_same_kinds_and_values(record, reference, where=image_id, ours_only=OURS_ONLY,
                                     empty_or_absent=EMPTY_ON_NEGATIVES)
        got = parse_one(record, extra)
        assert (got["image/height"], got["image/width"]) == \
            tuple(reversed(REFERENCE_IMAGES[image_id + ".jpg"][:2]))
        assert got["image/format"] == b"jpeg"
        assert len(got["image/key/sha256"]) == 64
    parse_records(output + "-*", extra=extra)                # the OD API can read every record


def test_negative_image_labels_are_kept_apart(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES, REFERENCE_LABELS)
    output = str(tmp_path / "oid.record")
    tfrconv.convert("oid", output=output, workers=1, **paths)
    records = {r["image/source_id"].decode(): r for r in
               parse_records(output, extra={"image/object/inside": "int"})}
    image = records["0a1b2c3d4e5f6789"]
    assert image["image/class/text"].tolist() == [DOG.encode(), PERSON.encode()]
    assert image["image/class/label"].tolist() == [3, 1]
    assert image["image/class/confidence"].tolist() == [1.0, 0.0]
    assert image["image/neg_category_ids"].tolist() == [1]    # person: verified absent
    assert records["000002b66c9c498e"]["image/neg_category_ids"].tolist() == []
    assert records["ffee0011aabbccdd"]["image/object/bbox/xmin"].size == 0     # a negative


def test_label_map_from_class_descriptions(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES)
    output = tmp_path / "oid.record"
    tfrconv.convert("oid", output=str(output), workers=1, **paths)
    label_map = tfrconv.load_label_map(str(tmp_path / "oid.label_map.pbtxt"))
    assert [(i.id, i.name, i.display_name) for i in label_map] == [
        (1, PERSON, "Person"), (2, CAR, "Car"), (3, DOG, "Dog")]


def test_without_descriptions_the_label_map_comes_from_the_data(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES, descriptions=None)
    tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1, **paths)
    label_map = tfrconv.load_label_map(str(tmp_path / "o.label_map.pbtxt"))
    assert [i.name for i in label_map] == sorted([PERSON, CAR, DOG])


def test_descriptions_with_header_and_errors(tmp_path):
    from tfrconv_plugins.oid import read_class_descriptions

    path = tmp_path / "d.csv"
    path.write_text("LabelName,DisplayName\n/m/1,One\n/m/2,Two\n")
    assert [(i.id, i.name) for i in read_class_descriptions(str(path))] == [(1, "/m/1"),
                                                                            (2, "/m/2")]
    path.write_text("/m/1,One\n/m/1,Again\n")
    with pytest.raises(tfrconv.DataError, match="appears twice") as info:
        read_class_descriptions(str(path))
    assert info.value.line == 2


def test_unknown_attribute_values(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES)
    extra = {**ATTRIBUTE_KEYS}
    tfrconv.convert("oid", output=str(tmp_path / "keep.record"), workers=1, **paths)
    keep = {r["image/source_id"].decode(): r
            for r in parse_records(str(tmp_path / "keep.record"), extra=extra)}
    image = keep["0a1b2c3d4e5f6789"]
    for key in ("image/object/occluded", "image/object/truncated", "image/object/group_of",
                "image/object/depiction", "image/object/inside"):
        assert image[key].tolist() == [-1], key                # -1 (unknown) kept, as reference
    assert keep["000002b66c9c498e"]["image/object/inside"].tolist() == [0, 1, 0]
    tfrconv.convert("oid", output=str(tmp_path / "zero.record"), workers=1,
                    unknown_attributes="zero", **paths)
    zero = {r["image/source_id"].decode(): r
            for r in parse_records(str(tmp_path / "zero.record"), extra=extra)}
    assert zero["0a1b2c3d4e5f6789"]["image/object/group_of"].tolist() == [0]
    assert zero["000002b66c9c498e"]["image/object/depiction"].tolist() == [0, 0, 1]


def test_attribute_columns_absent_are_not_written(tmp_path):
    header = "ImageID,LabelName,XMin,XMax,YMin,YMax"
    paths = make_oid(tmp_path, {"00ab.jpg": (16, 16, "JPEG")},
                     [f"00ab,{CAR},0.1,0.9,0.1,0.9"], header=header)
    tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1, **paths)
    (features,) = tfrconv.read_examples(str(tmp_path / "o.record"))
    assert not any(k.startswith(("image/object/occluded", "image/object/group_of",
                                 "image/object/inside")) for k in features)
    assert features["image/object/class/text"] == [CAR.encode()]


def test_shards_hex_ids_by_value_other_ids_by_stable_hash(tmp_path):
    images = {"0000000000000011.jpg": (8, 8, "JPEG"), "00000000000000ab.png": (8, 8, "PNG"),
              "fe.jpg": (8, 8, "JPEG"), "img_7.jpg": (8, 8, "JPEG"),
              "photo-two.jpeg": (8, 8, "JPEG"), "0x1f.jpg": (8, 8, "JPEG")}
    boxes = [f"{name.split('.')[0]},s,{CAR},1,0.1,0.9,0.1,0.9,0,0,0,0,0" for name in images]
    paths = make_oid(tmp_path, images, boxes)
    output = str(tmp_path / "o.record")
    summary = tfrconv.convert("oid", output=output, num_shards=5, workers=1, **paths)
    assert summary.examples == 6
    placed = {source_id(r): shard for shard, rs in records_by_shard(output).items() for r in rs}
    for image_id, shard in placed.items():
        is_hex = all(c in "0123456789abcdef" for c in image_id)
        expected = int(image_id, 16) if is_hex else stable_hash(image_id)
        assert shard == expected % 5, image_id
    assert set(placed) == {n.split(".")[0] for n in images}
    formats = {r["image/source_id"].decode(): (r["image/format"], r["image/filename"])
               for r in parse_records(output + "-*")}
    assert formats["00000000000000ab"] == (b"png", b"00000000000000ab.png")
    assert formats["photo-two"] == (b"jpeg", b"photo-two.jpeg")


def test_jpg_wins_when_an_id_has_several_files(tmp_path):
    images = {"00cd.png": (8, 8, "PNG"), "00cd.jpg": (8, 8, "JPEG"), "00ef.png": (8, 8, "PNG"),
              "00ef.jpeg": (8, 8, "JPEG")}
    paths = make_oid(tmp_path, images, [f"00cd,s,{CAR},1,0.1,0.9,0.1,0.9,0,0,0,0,0"])
    tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1, **paths)
    names = {r["image/source_id"]: (r["image/filename"], r["image/format"])
             for r in parse_records(str(tmp_path / "o.record"))}
    assert names == {b"00cd": (b"00cd.jpg", b"jpeg"), b"00ef": (b"00ef.jpeg", b"jpeg")}


def test_annotated_only_leaves_out_unannotated_images(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES)
    summary = tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1,
                              annotated_only=True, **paths)
    assert summary.examples == 2                    # ffee0011aabbccdd has no annotation row


def test_bad_rows_name_the_file_and_line(tmp_path):
    boxes = REFERENCE_BOXES + [f"0a1b2c3d4e5f6789,s,{CAR},1,abc,0.9,0.1,0.9,0,0,0,0,0",
                               f"000002b66c9c498e,s,{CAR},1,0.1,0.9,0.1,0.9,7,0,0,0,0"]
    paths = make_oid(tmp_path, REFERENCE_IMAGES, boxes)
    with pytest.raises(tfrconv.DataError) as info:
        tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1, **paths)
    assert "boxes.csv" in str(info.value) and "must be 0, 1 or -1" in str(info.value)
    summary = tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1,
                              on_error="skip", **paths)
    assert summary.examples == 1 and summary.skipped_images == 2
    messages = [p["message"] for p in summary.problems["bad_annotation"]["first"]]
    assert any("XMin is not a number" in m for m in messages)
    assert {p["file"] for p in summary.problems["bad_annotation"]["first"]} == \
        {f"{paths['annotations_csv']}:6", f"{paths['annotations_csv']}:7"}


def test_unknown_class_is_listed_before_any_image_is_read(tmp_path):
    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES,
                     descriptions=[(PERSON, "Person"), (CAR, "Car")])
    for name in os.listdir(tmp_path / "images"):                 # no image is needed to fail
        os.remove(tmp_path / "images" / name)
    with pytest.raises(tfrconv.LabelMapError) as info:
        tfrconv.convert("oid", output=str(tmp_path / "o.record"), workers=1,
                        **{k: v for k, v in paths.items()})
    assert DOG in str(info.value) and "boxes.csv:4" in str(info.value)


def test_missing_columns_is_one_clear_error(tmp_path):
    paths = make_oid(tmp_path, {}, ["a,b,c"], header="ImageID,LabelName,Foo")
    with pytest.raises(tfrconv.DataError, match="no column XMin, XMax, YMin, YMax"):
        tfrconv.convert("oid", output=str(tmp_path / "o.record"), **paths)


def test_cli_and_detect(tmp_path, capsys):
    from tfrconv_plugins.oid import detect

    from tfrconv.cli import main

    paths = make_oid(tmp_path, REFERENCE_IMAGES, REFERENCE_BOXES, REFERENCE_LABELS)
    code = main(["oid", "--annotations-csv", paths["annotations_csv"], "--images-dir",
                 paths["images_dir"], "--image-labels-csv", paths["image_labels_csv"],
                 "--class-descriptions", paths["class_descriptions"], "--output",
                 str(tmp_path / "oid_train.record"), "--num-shards", "2", "--json",
                 "--workers", "1"])
    assert code == 0
    assert '"examples": 3' in capsys.readouterr().out
    assert detect(str(tmp_path)).confidence >= 0.9
    assert detect(paths["annotations_csv"]).matched
    assert not detect(str(tmp_path / "images")).matched
    assert "no .csv" in detect(str(tmp_path / "images")).reason


# -- malformed input: valid samples or a DataError, nothing else -----------------------------
CELL = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "0.5", "2", "abc", "nan", "1e400", "/m/0k4j", PERSON,
                     "000002b66c9c498e", "zz", '"', '""', "a,b", " "]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6))
ODD_HEADERS = st.one_of(
    st.just("ImageID,LabelName,XMin,XMax,YMin,YMax"),
    st.lists(st.sampled_from(BOX_HEADER.split(",") + ["x", ""]), max_size=8).map(",".join))
# min < max on each axis: hypothesis's simplest floats are equal, and a box of no size is
# (rightly) dropped, so independent coordinates left most examples without an object to check.
SPAN = st.tuples(st.integers(0, 9000), st.integers(1, 999)).map(
    lambda lo_width: (f"{lo_width[0] / 10000:.4f}", f"{sum(lo_width) / 10000:.4f}"))
FLAG = st.sampled_from(["0", "1", "-1", ""])
VALID_ROW = st.tuples(
    st.sampled_from(["000002b66c9c498e", "0a1b2c3d4e5f6789", "img_1"]), st.just("xclick"),
    st.sampled_from([PERSON, CAR, DOG]), st.just("1"), SPAN, SPAN,
    FLAG, FLAG, FLAG, FLAG, FLAG).map(lambda row: [*row[:4], *row[4], *row[5], *row[6:]])
LABEL_ROW = st.tuples(st.sampled_from(["000002b66c9c498e", "img_1"]), st.just("verification"),
                     st.sampled_from([PERSON, CAR]), st.sampled_from(["0", "1"])).map(list)
OID_FILES = one_part_broken({
    "header": (st.just(BOX_HEADER), ODD_HEADERS),
    "rows": (csv_lines(VALID_ROW), messy_rows(VALID_ROW, CELL)),
    "labels": (st.none() | csv_lines(LABEL_ROW), messy_rows(LABEL_ROW, CELL)),
    "tail": (st.just(b""), st.binary(max_size=40))}, odds=4)


@reaches("objects checked")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=OID_FILES)
def test_malformed_csv_gives_samples_or_data_error(tmp_path_factory, case):
    from tfrconv_plugins import oid

    from tfrconv.formats import Options

    root = tmp_path_factory.mktemp("oid")
    (root / "images").mkdir()
    for image_id in ("000002b66c9c498e", "0a1b2c3d4e5f6789"):  # img_1 stays missing
        write_image(root / "images" / f"{image_id}.jpg", 8, 8)
    boxes = root / "boxes.csv"
    boxes.write_bytes((case["header"] + "\n" + "\n".join(case["rows"])).encode() + case["tail"])
    labels = case["labels"]
    values = {"annotations_csv": str(boxes), "images_dir": str(root / "images"),
              "image_labels_csv": None, "class_descriptions": None, "annotated_only": False,
              "unknown_attributes": "keep"}
    if labels is not None:
        (root / "labels.csv").write_text("ImageID,Source,LabelName,Confidence\n"
                                         + "\n".join(labels))
        values["image_labels_csv"] = str(root / "labels.csv")
        # Class descriptions: well formed unless the labels part is the broken one, whose
        # lines then make a broken descriptions file as well.
        descriptions = (labels if case["broken"] == "labels"
                        else [f"{PERSON},Person", f"{CAR},Car", f"{DOG},Dog"])
        (root / "d.csv").write_text("\n".join(descriptions))
        values["class_descriptions"] = str(root / "d.csv")
    opts = Options(values)
    try:
        items = oid.list_items(opts)
        oid.classes(opts)
        oid.default_label_map(opts)
    except tfrconv.DataError:
        branch(f"file rejected (broken: {case['broken']})")
        return
    for item in items:
        try:
            sample = oid.read_item(item, opts)
        except tfrconv.DataError:
            branch("an image rejected")
            continue
        assert isinstance(sample, tfrconv.Sample) and sample.normalized
        branch("objects checked" if sample.objects else "a sample without objects")
        for obj in sample.objects:
            assert isinstance(obj.label, str)
            assert all(isinstance(v, float) for v in (obj.xmin, obj.ymin, obj.xmax, obj.ymax))
