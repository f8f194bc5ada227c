"""CSV (generate_tfrecord.py convention): reference features, columns, negatives, label maps."""

from __future__ import annotations

import glob
import io
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

HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax"
IMAGES = {"cat1.jpg": (40, 30, "JPEG"), "dogs.jpg": (32, 32, "JPEG"),
          "shot.png": (20, 24, "PNG"), "sub/deep.jpg": (16, 16, "JPEG")}
ROWS = ["dogs.jpg,32,32,dog,1,2,15,20", "cat1.jpg,40,30,cat,0,0,40,30",
        "dogs.jpg,32,32,dog,16,3,31.5,29", "shot.png,20,24,raccoon,2.5,3,17,23",
        "sub/deep.jpg,16,16,cat,4,4,12,12", "cat1.jpg,40,30,dog,10,5,20,25"]


def write_image(path, width, height, fmt="JPEG"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(width * height).integers(0, 255, (height, width, 3),
                                                            dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)


def make_csv(root, rows=ROWS, header=HEADER, images=IMAGES):
    image_dir = root / "images"
    image_dir.mkdir(parents=True)
    for name, (width, height, fmt) in images.items():
        write_image(image_dir / name, width, height, fmt)
    (root / "labels.csv").write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return {"csv_file": str(root / "labels.csv"), "image_dir": str(image_dir)}


# -- the community script, reproduced from odapi-reference.md §2.6 (test oracle) --------------
def reference_records(csv_file, image_dir, class_dict):
    """generate_tfrecord.py (raccoon 43903f0f): {filename: serialized tf.train.Example}."""
    import pandas as pd
    import tensorflow as tf
    from PIL import Image

    frame = pd.read_csv(csv_file)
    groups = frame.groupby("filename")
    out = {}
    for filename in groups.groups:
        rows = groups.get_group(filename)
        with open(os.path.join(image_dir, filename), "rb") as f:
            encoded = f.read()
        width, height = Image.open(io.BytesIO(encoded)).size
        xmins, xmaxs, ymins, ymaxs, texts, labels = [], [], [], [], [], []
        for _index, row in rows.iterrows():
            if {"xmin_rel", "xmax_rel", "ymin_rel", "ymax_rel"} <= set(row.index):
                box = row["xmin_rel"], row["xmax_rel"], row["ymin_rel"], row["ymax_rel"]
            else:
                box = (row["xmin"] / width, row["xmax"] / width, row["ymin"] / height,
                       row["ymax"] / height)
            xmins.append(box[0])
            xmaxs.append(box[1])
            ymins.append(box[2])
            ymaxs.append(box[3])
            texts.append(str(row["class"]).encode("utf8"))
            labels.append(class_dict[str(row["class"])])

        ints, floats, raw = int64_feature, float_feature, bytes_feature

        feature = {
            "image/height": ints([height]), "image/width": ints([width]),
            "image/filename": raw([filename.encode()]), "image/source_id": raw([filename.encode()]),
            "image/encoded": raw([encoded]), "image/format": raw([b"jpg"]),
            "image/object/bbox/xmin": floats(xmins), "image/object/bbox/xmax": floats(xmaxs),
            "image/object/bbox/ymin": floats(ymins), "image/object/bbox/ymax": floats(ymaxs),
            "image/object/class/text": raw(texts), "image/object/class/label": ints(labels),
        }
        out[filename] = tf.train.Example(
            features=tf.train.Features(feature=feature)).SerializeToString()
    return out


def parse_one(record):
    import tensorflow as tf

    parsed = tf.io.parse_single_example(record, feature_spec(tf))
    return {k: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
            for k, v in parsed.items()}


def ours(output):
    from tfrconv.example import decode
    from tfrconv.tfrecord import read_records

    return {decode(r)["image/source_id"][0].decode(): r for r in read_records(output)}


def assert_matches_reference(output, paths, class_dict):
    expected = reference_records(paths["csv_file"], paths["image_dir"], class_dict)
    got_all = ours(output)
    assert list(got_all) == sorted(expected)               # one example per file, sorted
    for filename, reference in expected.items():
        # the script writes 'jpg' for every format; tfrconv adds the image's sha256
        assert_same_kinds_and_values(got_all[filename], reference, where=filename,
                                     differ=("image/format",), ours_only=("image/key/sha256",))
        got = parse_one(got_all[filename])
        true_format = b"png" if filename.endswith(".png") else b"jpeg"
        assert got["image/format"] == true_format


def test_features_match_the_community_script(tmp_path):
    paths = make_csv(tmp_path)
    output = str(tmp_path / "train.record")
    summary = tfrconv.convert("csv", output=output, workers=1, **paths)
    assert (summary.examples, summary.objects) == (4, 6)
    # No --label-map: generated from the classes present, sorted, ids from 1, beside the output.
    label_map = tfrconv.load_label_map(str(tmp_path / "train.label_map.pbtxt"))
    assert [(i.id, i.name) for i in label_map] == [(1, "cat"), (2, "dog"), (3, "raccoon")]
    assert_matches_reference(output, paths, {"cat": 1, "dog": 2, "raccoon": 3})
    parse_records(output)


def test_relative_columns_win_when_all_four_exist(tmp_path):
    header = HEADER + ",xmin_rel,ymin_rel,xmax_rel,ymax_rel"
    rows = ["dogs.jpg,32,32,dog,999,999,999,999,0.1,0.2,0.5,0.75",
            "cat1.jpg,40,30,cat,,,,,0.0,0.0,1.0,1.0"]
    images = {k: IMAGES[k] for k in ("dogs.jpg", "cat1.jpg")}
    paths = make_csv(tmp_path, rows, header, images)
    output = str(tmp_path / "t.record")
    tfrconv.convert("csv", output=output, workers=1, **paths)
    assert_matches_reference(output, paths, {"cat": 1, "dog": 2})


def test_relative_flag_and_column_mapping(tmp_path):
    header = "image,label,x1,y1,x2,y2"
    rows = ["dogs.jpg,dog,0.1,0.2,0.5,0.75", "cat1.jpg,cat,0.25,0.0,1.0,0.5"]
    paths = make_csv(tmp_path, rows, header, {k: IMAGES[k] for k in ("dogs.jpg", "cat1.jpg")})
    output = str(tmp_path / "t.record")
    tfrconv.convert("csv", output=output, workers=1, relative=True,
                    columns="filename=image,class=label,xmin=x1,ymin=y1,xmax=x2,ymax=y2",
                    **paths)
    records = {r["image/filename"]: r for r in parse_records(output)}
    dog = records[b"dogs.jpg"]
    assert dog["image/object/bbox/xmin"].tolist() == [np.float32(0.1)]
    assert dog["image/object/bbox/ymax"].tolist() == [np.float32(0.75)]
    assert records[b"cat1.jpg"]["image/object/class/text"].tolist() == [b"cat"]
    with pytest.raises(tfrconv.UsageError, match="unknown field 'colour'"):
        tfrconv.convert("csv", output=output, columns="colour=x", **paths)


def test_rows_without_boxes_are_negatives(tmp_path):
    rows = ROWS + ["empty.jpg,20,20,,,,,", "cat1.jpg,40,30,,,,,"]
    images = {**IMAGES, "empty.jpg": (20, 20, "JPEG")}
    paths = make_csv(tmp_path, rows, images=images)
    output = str(tmp_path / "t.record")
    summary = tfrconv.convert("csv", output=output, workers=1, **paths)
    assert summary.examples == 5
    records = {r["image/filename"]: r for r in parse_records(output)}
    assert records[b"empty.jpg"]["image/object/bbox/xmin"].size == 0
    assert records[b"cat1.jpg"]["image/object/bbox/xmin"].size == 2


def test_class_missing_from_the_label_map_names_the_lines(tmp_path):
    paths = make_csv(tmp_path)
    (tmp_path / "map.pbtxt").write_text("item { id: 1 name: 'cat' }\n")
    for path in glob.glob(str(tmp_path / "images" / "*.*")):     # fails before any image
        os.remove(path)
    with pytest.raises(tfrconv.LabelMapError) as info:
        tfrconv.convert("csv", output=str(tmp_path / "t.record"),
                        label_map=str(tmp_path / "map.pbtxt"), **paths)
    message = str(info.value)
    assert "2 classes" in message
    assert f"'dog' ({paths['csv_file']} lines 2, 4, 7)" in message
    assert f"'raccoon' ({paths['csv_file']} line 5)" in message
    assert not glob.glob(str(tmp_path / "t.*"))


def test_display_name_only_label_map_works(tmp_path):
    """generate_pbtxt.py writes display_name only; the decoder (and tfrconv) resolve it."""
    paths = make_csv(tmp_path)
    (tmp_path / "map.pbtxt").write_text(
        "item {\n id: 1\n display_name: 'raccoon'\n}\nitem {\n id: 2\n display_name: 'dog'\n}\n"
        "item {\n id: 3\n display_name: 'cat'\n}\n")
    output = str(tmp_path / "t.record")
    tfrconv.convert("csv", output=output, workers=1, label_map=str(tmp_path / "map.pbtxt"),
                    **paths)
    assert_matches_reference(output, paths, {"raccoon": 1, "dog": 2, "cat": 3})


def test_bad_rows_follow_the_annotation_policy(tmp_path):
    rows = ROWS + ["dogs.jpg,32,32,dog,1,2,,20", "shot.png,20,24,,1,1,5,5",
                   "cat1.jpg,40,30,cat,one,2,3,4"]
    paths = make_csv(tmp_path, rows)
    with pytest.raises(tfrconv.DataError) as info:
        tfrconv.convert("csv", output=str(tmp_path / "t.record"), workers=1, **paths)
    assert "labels.csv:10" in str(info.value) and "xmin is not a number" in str(info.value)
    summary = tfrconv.convert("csv", output=str(tmp_path / "t.record"), workers=1,
                              on_error="skip", **paths)
    assert summary.examples == 1 and summary.skipped_images == 3
    messages = sorted(p["message"] for p in summary.problems["bad_annotation"]["first"])
    assert messages == ["cat1.jpg: xmin is not a number", "dogs.jpg: class 'dog' has no xmax",
                        "shot.png: a box without a class"]


def test_size_columns_are_checked_against_the_image(tmp_path):
    rows = ["dogs.jpg,64,64,dog,1,2,15,20", "cat1.jpg,0,0,cat,0,0,40,30"]   # VIA writes 0
    paths = make_csv(tmp_path, rows, images={k: IMAGES[k] for k in ("dogs.jpg", "cat1.jpg")})
    with pytest.raises(tfrconv.DataError, match="annotation says 64x64 but the image is 32x32"):
        tfrconv.convert("csv", output=str(tmp_path / "t.record"), workers=1, **paths)
    summary = tfrconv.convert("csv", output=str(tmp_path / "t.record"), workers=1,
                              on_size_mismatch="skip", **paths)
    assert summary.examples == 1


def test_missing_columns_is_one_clear_error(tmp_path):
    paths = make_csv(tmp_path, ["a.jpg,dog,1,2,3,4"], header="file,label,x,y,w,h", images={})
    with pytest.raises(tfrconv.DataError, match="no column 'filename', 'class', 'xmin'") as info:
        tfrconv.convert("csv", output=str(tmp_path / "t.record"), **paths)
    assert info.value.line == 1 and "--columns" in str(info.value)


def test_cli_and_detect(tmp_path, capsys):
    from tfrconv_plugins.csv_format import detect

    from tfrconv.cli import main

    paths = make_csv(tmp_path)
    code = main(["csv", "--csv-file", paths["csv_file"], "--image-dir", paths["image_dir"],
                 "--output", str(tmp_path / "train.record"), "--workers", "1", "--json"])
    assert code == 0 and '"examples": 4' in capsys.readouterr().out
    assert detect(str(tmp_path)).confidence >= 0.9
    assert detect(paths["csv_file"]).matched
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert not detect(str(tmp_path / "other.csv")).matched
    assert "lacks the columns" in detect(str(tmp_path / "other.csv")).reason
    assert not detect(str(tmp_path / "images")).matched


# -- malformed input: valid samples or a DataError, nothing else -----------------------------
CELL = st.one_of(
    st.sampled_from(["", "a.jpg", "dog", "1", "0", "-3", "2.5", "abc", "nan", "NA", "1e400",
                     '"', '""', "a,b", " ", "0.5", "..", "../x.jpg", "/abs.jpg"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6))
ODD_HEADERS = st.one_of(
    st.just(HEADER + ",xmin_rel,ymin_rel,xmax_rel,ymax_rel"),
    st.lists(st.sampled_from(HEADER.split(",") + ["xmin_rel", "x", ""]), max_size=9)
    .map(",".join))
PIXEL = st.integers(0, 40).map(str)
VALID_ROW = st.one_of(
    st.tuples(st.sampled_from(["a.jpg", "b.png", "sub/c.jpg"]), st.sampled_from(["32", "0"]),
              st.sampled_from(["32", "0"]), st.sampled_from(["dog", "cat"]), PIXEL, PIXEL,
              PIXEL, PIXEL).map(list),
    st.just(["a.jpg", "32", "32", "", "", "", "", ""]))
CSV_FILES = one_part_broken({"header": (st.just(HEADER), ODD_HEADERS),
                             "rows": (csv_lines(VALID_ROW), messy_rows(VALID_ROW, CELL)),
                             "tail": (st.just(b""), st.binary(max_size=30))})


@reaches("objects checked")
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CSV_FILES, relative=st.booleans())
def test_malformed_csv_gives_samples_or_data_error(tmp_path_factory, case, relative):
    from tfrconv_plugins import csv_format

    from tfrconv.formats import Options

    root = tmp_path_factory.mktemp("csv")
    (root / "images").mkdir()
    (root / "labels.csv").write_bytes((case["header"] + "\n" + "\n".join(case["rows"])).encode()
                                      + case["tail"])
    opts = Options({"csv_file": str(root / "labels.csv"), "image_dir": str(root / "images"),
                    "columns": None, "relative": relative})
    try:
        items = csv_format.list_items(opts)
        csv_format.classes(opts)
    except tfrconv.DataError:
        branch(f"file rejected (broken: {case['broken']})")
        return
    for item in items:
        try:
            sample = csv_format.read_item(item, opts)
        except tfrconv.DataError:
            branch("an image rejected")
            continue
        assert isinstance(sample, tfrconv.Sample)
        branch("objects checked" if sample.objects else "a sample without objects")
        assert sample.width is None or (isinstance(sample.width, int) and sample.width > 0)
        for obj in sample.objects:
            assert isinstance(obj.label, str) and obj.label
            assert all(isinstance(v, float) for v in (obj.xmin, obj.ymin, obj.xmax, obj.ymax))
