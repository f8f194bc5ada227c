"""Oxford-IIIT Pet: reference features, split and shards; masks; skipped images; bad files."""

from __future__ import annotations

import glob
import io
import os
import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import bytes_feature, feature_spec, float_feature, int64_feature, parse_records
from parity import assert_same_kinds_and_values
from reach import branch, reaches
from strategies import one_part_broken

import tfrconv

TRAINVAL = ["Abyssinian_1", "Abyssinian_2", "american_bulldog_10", "Bengal_3", "basset_hound_4",
            "Bengal_5", "yorkshire_terrier_6", "Abyssinian_7", "american_bulldog_8",
            "Bengal_9", "basset_hound_11", "Abyssinian_12"]
TEST = ["Bengal_100", "basset_hound_101", "Abyssinian_102"]
NO_XML = "basset_hound_11"          # listed in trainval, no XML: both converters skip it
EXTRA = {"image/object/truncated": "int", "image/object/view": "bytes"}


def write_xml(path, filename, width, height, boxes):
    objects = "".join(
        f"<object><name>{kind}</name><pose>{pose}</pose><truncated>{trunc}</truncated>"
        f"<occluded>0</occluded><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
        f"<ymax>{y1}</ymax></bndbox><difficult>{diff}</difficult></object>"
        for kind, pose, trunc, diff, (x0, y0, x1, y1) in boxes)
    path.write_text(
        f"<annotation><folder>OXIIIT</folder><filename>{filename}</filename>"
        f"<source><database>OXFORD-IIIT Pet Dataset</database></source><size><width>{width}"
        f"</width><height>{height}</height><depth>3</depth></size><segmented>0</segmented>"
        f"{objects}</annotation>")


def make_pets(root, trainval=TRAINVAL, test=TEST, no_xml=(NO_XML,)):
    """The real layout: images/, annotations/{xmls,trimaps}/, trainval.txt, test.txt, list.txt."""
    from PIL import Image

    images = root / "images"
    xmls = root / "annotations" / "xmls"
    trimaps = root / "annotations" / "trimaps"
    for folder in (images, xmls, trimaps):
        folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for index, name in enumerate(trainval + test):
        width, height = 24 + index % 5, 20 + index % 3
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
            images / f"{name}.jpg", format="JPEG")
        trimap = np.full((height, width), 2, dtype=np.uint8)
        top, left = 2 + index % 3, 3 + index % 4
        trimap[top:height - 3, left:width - 2] = 3
        trimap[top + 1:height - 4, left + 1:width - 3] = 1
        Image.fromarray(trimap).save(trimaps / f"{name}.png")
        if name in test or name in no_xml:
            continue
        boxes = [("cat" if name[0].isupper() else "dog", "Frontal", index % 2, 0,
                  (left, top, width - 4, height - 5))]
        if index % 4 == 0:       # a second head on some images, one of them difficult
            boxes.append(("dog", "Unspecified", 0, 1, (1, 1, 6 + index % 3, 7)))
        write_xml(xmls / f"{name}.xml", f"{name}.jpg", width, height, boxes)
    listing = root / "annotations"
    (listing / "trainval.txt").write_text("".join(f"{n} 1 1 1\n" for n in trainval))
    (listing / "test.txt").write_text("".join(f"{n} 1 1 1\n" for n in test))
    (listing / "list.txt").write_text("#Image CLASS-ID SPECIES BREED ID\n"
                                      + "".join(f"{n} 1 1 1\n" for n in trainval + test))
    return root


# -- the reference, reproduced from odapi-reference.md §2.5 (test oracle) ---------------------
def _xml_to_dict(path):
    from lxml import etree

    root = etree.parse(str(path)).getroot()
    data = {"filename": root.findtext("filename"),
            "size": {"width": root.findtext("size/width"), "height": root.findtext("size/height")},
            "object": []}
    for element in root.iterfind("object"):
        data["object"].append({
            "name": element.findtext("name"), "pose": element.findtext("pose"),
            "truncated": element.findtext("truncated"),
            "difficult": element.findtext("difficult"),
            "bndbox": {t: element.findtext(f"bndbox/{t}") for t in ("xmin", "ymin", "xmax",
                                                                      "ymax")}})
    return data


def _reference_example(data, mask_path, label_map, image_dir, faces_only, mask_type):
    import hashlib

    import PIL.Image
    import tensorflow as tf

    with open(os.path.join(image_dir, data["filename"]), "rb") as f:
        encoded = f.read()
    if PIL.Image.open(io.BytesIO(encoded)).format != "JPEG":
        raise ValueError("Image format not JPEG")
    key = hashlib.sha256(encoded).hexdigest()
    with open(mask_path, "rb") as f:
        mask = PIL.Image.open(io.BytesIO(f.read()))
    if mask.format != "PNG":
        raise ValueError("Mask format not PNG")
    mask_np = np.asarray(mask)
    xs = np.where(np.any(mask_np != 2, axis=0))
    ys = np.where(np.any(mask_np != 2, axis=1))
    width, height = int(data["size"]["width"]), int(data["size"]["height"])
    xmins, ymins, xmaxs, ymaxs, texts, labels, truncated, poses, difficult, masks = \
        [], [], [], [], [], [], [], [], [], []
    for obj in data["object"]:
        difficult.append(int(bool(int(obj["difficult"]))))
        if faces_only:
            box = [float(obj["bndbox"][k]) for k in ("xmin", "xmax", "ymin", "ymax")]
        else:
            box = [float(np.min(xs)), float(np.max(xs)), float(np.min(ys)), float(np.max(ys))]
        xmins.append(box[0] / width)
        xmaxs.append(box[1] / width)
        ymins.append(box[2] / height)
        ymaxs.append(box[3] / height)
        breed = re.match(r"([A-Za-z_]+)(_[0-9]+\.jpg)", data["filename"], re.I).groups()[0]
        texts.append(breed.encode("utf8"))
        labels.append(label_map[breed])
        truncated.append(int(obj["truncated"]))
        poses.append(obj["pose"].encode("utf8"))
        if not faces_only:
            masks.append((mask_np != 2).astype(np.uint8))

    ints, floats, raw = int64_feature, float_feature, bytes_feature

    feature = {
        "image/height": ints([height]), "image/width": ints([width]),
        "image/filename": raw([data["filename"].encode()]),
        "image/source_id": raw([data["filename"].encode()]),
        "image/key/sha256": raw([key.encode()]), "image/encoded": raw([encoded]),
        "image/format": raw([b"jpeg"]),
        "image/object/bbox/xmin": floats(xmins), "image/object/bbox/xmax": floats(xmaxs),
        "image/object/bbox/ymin": floats(ymins), "image/object/bbox/ymax": floats(ymaxs),
        "image/object/class/text": raw(texts), "image/object/class/label": ints(labels),
        "image/object/difficult": ints(difficult), "image/object/truncated": ints(truncated),
        "image/object/view": raw(poses),
    }
    if not faces_only:
        if mask_type == "numerical":
            flat = np.reshape(np.stack(masks).astype(np.float32), [-1])
            feature["image/object/mask"] = floats(flat.tolist())
        else:
            pngs = []
            for m in masks:
                out = io.BytesIO()
                PIL.Image.fromarray(m).save(out, format="PNG")
                pngs.append(out.getvalue())
            feature["image/object/mask"] = raw(pngs)
    return tf.train.Example(features=tf.train.Features(feature=feature))


def reference_records(data_dir, faces_only=True, mask_type="png", num_shards=10):
    """create_pet_tf_record.py main(): {source id: (split, shard, serialized example)}."""
    from tfrconv import load_label_map

    label_map = {item.name: item.id for item in load_label_map("pets")}
    annotations = os.path.join(data_dir, "annotations")
    with open(os.path.join(annotations, "trainval.txt")) as f:
        examples = [line.strip().split(" ")[0] for line in f.readlines()]
    random.seed(42)
    random.shuffle(examples)
    num_train = int(0.7 * len(examples))
    out = {}
    for split, names in (("train", examples[:num_train]), ("val", examples[num_train:])):
        for idx, example in enumerate(names):
            xml_path = os.path.join(annotations, "xmls", example + ".xml")
            if not os.path.exists(xml_path):
                continue
            data = _xml_to_dict(xml_path)
            mask_path = os.path.join(annotations, "trimaps", example + ".png")
            try:
                tf_example = _reference_example(data, mask_path, label_map,
                                                os.path.join(data_dir, "images"), faces_only,
                                                mask_type)
            except ValueError:
                continue
            out[data["filename"]] = (split, idx % num_shards, tf_example.SerializeToString())
    return out


def ours_by_id(output_dir, base):
    from tfrconv.example import decode
    from tfrconv.tfrecord import read_records

    out = {}
    for path in sorted(glob.glob(os.path.join(output_dir, f"{base}_*.record*"))):
        if path.endswith(".json") or path.endswith(".pbtxt"):
            continue
        split = re.search(rf"{base}_(\w+?)\.record", path).group(1)
        match = re.search(r"-(\d{5})-of-", path)
        shard = int(match.group(1)) if match else 0
        for record in read_records(path):
            out[decode(record)["image/source_id"][0].decode()] = (split, shard, record)
    return out


def parse_one(record, extra):
    import tensorflow as tf

    parsed = tf.io.parse_single_example(record, feature_spec(tf, extra))
    return {k: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
            for k, v in parsed.items()}


def decode_png(data):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("mode,mask_type", [("faces", None), ("full", "png"),
                                            ("full", "numerical")])
def test_features_split_and_shards_match_the_reference(tmp_path, mode, mask_type):
    data_dir = make_pets(tmp_path / "pets")
    out = tmp_path / "out"
    full = mode == "full"
    options = {"full_body": True, "mask_type": mask_type} if full else {}
    summary = tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(out), workers=1,
                              **options)
    expected = reference_records(str(data_dir), faces_only=not full,
                                 mask_type=mask_type or "png")
    base = "pets_fullbody_with_masks" if full else "pet_faces"
    assert sorted(os.path.basename(p) for p in glob.glob(str(out / "*train.record-*"))) == [
        f"{base}_train.record-{i:05d}-of-00010" for i in range(10)]
    ours = ours_by_id(str(out), base)
    assert set(ours) == set(expected) and len(ours) == len(TRAINVAL) - 1
    assert summary.skipped_images == 1 and summary.problems["bad_annotation"]["count"] == 1
    mask_kind = {"png": "bytes", "numerical": "float"}.get(mask_type)
    extra = {**EXTRA, **({"image/object/mask": mask_kind} if mask_kind else {})}
    for source_id, (split, shard, reference) in expected.items():
        our_split, our_shard, record = ours[source_id]
        assert (our_split, our_shard) == (split, shard), source_id
        pixels = {"image/object/mask": lambda png: decode_png(png).tolist()}
        assert_same_kinds_and_values(record, reference, where=source_id,
                                     compare=pixels if mask_type == "png" else {})
    for split in ("train", "val"):
        parse_records(str(out / f"{base}_{split}.record-*"), extra=extra)


def test_full_body_box_is_inclusive_and_mask_keeps_the_border(tmp_path):
    from PIL import Image
    from tfrconv_plugins.pets import _trimap_box_and_mask

    from tfrconv.formats import Options

    folder = tmp_path / "annotations" / "trimaps"
    folder.mkdir(parents=True)
    trimap = np.full((10, 12), 2, dtype=np.uint8)
    trimap[2:6, 3:9] = 3
    trimap[3:5, 4:8] = 1
    Image.fromarray(trimap).save(folder / "Bengal_1.png")
    xmin, ymin, xmax, ymax, mask = _trimap_box_and_mask(
        "Bengal_1", Options({"data_dir": str(tmp_path)}), 12, 10)
    assert (xmin, ymin, xmax, ymax) == (3.0, 2.0, 8.0, 5.0)          # last index, inclusive
    assert mask.sum() == 4 * 6 and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}


def test_official_split_uses_the_lists(tmp_path):
    data_dir = make_pets(tmp_path / "pets")
    out = tmp_path / "out"
    summary = tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(out),
                              split="official", num_shards=1, workers=1)
    ours = ours_by_id(str(out), "pet_faces")
    assert {sid for sid, (split, *_r) in ours.items() if split == "trainval"} == \
        {f"{n}.jpg" for n in TRAINVAL if n != NO_XML}
    assert (out / "pet_faces_test.record").exists()
    # The test images have no XML (as in the real set): skipped and counted, never silent.
    assert summary.problems["bad_annotation"]["count"] == len(TEST) + 1
    by_split = {o.split: o.examples for o in summary.outputs}
    assert by_split == {"trainval": len(TRAINVAL) - 1, "test": 0}


def test_without_trainval_list_txt_is_used(tmp_path):
    data_dir = make_pets(tmp_path / "pets", test=[])
    os.remove(data_dir / "annotations" / "trainval.txt")
    summary = tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(tmp_path / "o"),
                              workers=1)
    assert summary.examples == len(TRAINVAL) - 1


def test_problem_images_are_counted_and_png_is_converted(tmp_path):
    from PIL import Image

    data_dir = make_pets(tmp_path / "pets")
    images = data_dir / "images"
    Image.open(images / "Bengal_3.jpg").save(images / "Bengal_3.jpg", format="PNG")
    Image.open(images / "Bengal_5.jpg").save(images / "Bengal_5.jpg", format="GIF")
    (data_dir / "annotations" / "xmls" / "Abyssinian_7.xml").write_text("<annotation><oops")
    summary = tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(tmp_path / "o"),
                              workers=1)
    assert summary.problems["bad_annotation"]["count"] == 2          # no XML, broken XML
    assert summary.problems["bad_image"]["count"] == 1               # the GIF
    assert summary.examples == len(TRAINVAL) - 3
    formats = {r["image/source_id"]: r["image/format"] for split in ("train", "val")
               for r in parse_records(str(tmp_path / "o" / f"pet_faces_{split}.record-*"),
                                      extra=EXTRA)}
    assert formats[b"Bengal_3.jpg"] == b"png"                        # the reference refuses it
    with pytest.raises(tfrconv.DataError, match="not valid XML"):
        tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(tmp_path / "strict"),
                        workers=1, on_error="error")
    assert not (tmp_path / "strict").exists() or not os.listdir(tmp_path / "strict")


def test_a_run_where_everything_is_skipped_fails(tmp_path):
    data_dir = make_pets(tmp_path / "pets", no_xml=tuple(TRAINVAL))
    out = tmp_path / "out"
    with pytest.raises(tfrconv.DataError, match="no example written: all 12 images were "
                                                "skipped") as info:
        tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(out), workers=1)
    assert "no XML annotation" in str(info.value)
    assert not out.exists() or not os.listdir(out)


def test_unknown_breed_fails_before_reading_images(tmp_path):
    data_dir = make_pets(tmp_path / "pets", trainval=TRAINVAL + ["Unicorn_1"])
    with pytest.raises(tfrconv.LabelMapError, match="'Unicorn'"):
        tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(tmp_path / "o"))


def test_file_name_without_breed_is_a_reported_problem(tmp_path):
    data_dir = make_pets(tmp_path / "pets")
    write_xml(data_dir / "annotations" / "xmls" / "Bengal_9.xml", "12345.jpg", 24, 20, [])
    summary = tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(tmp_path / "o"),
                              workers=1)
    messages = [p["message"] for p in summary.problems["bad_annotation"]["first"]]
    assert any("does not give a breed" in m for m in messages)


def test_option_conflicts_and_cli(tmp_path, capsys):
    from tfrconv.cli import main

    data_dir = make_pets(tmp_path / "pets")
    with pytest.raises(tfrconv.UsageError, match="exclude each other"):
        tfrconv.convert("pets", data_dir=str(data_dir), output_dir=str(tmp_path / "o"),
                        faces_only=True, full_body=True)
    code = main(["pets", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "cli"),
                 "--full-body", "--mask-type", "numerical", "--num-shards", "2", "--workers",
                 "1", "--no-progress"])
    assert code == 0
    assert "pets_fullbody_with_masks_train.record-?????-of-00002" in capsys.readouterr().out
    records = parse_records(str(tmp_path / "cli" / "pets_fullbody_with_masks_val.record-*"),
                            extra={"image/object/mask": "float"})
    for record in records:
        objects = len(record["image/object/bbox/xmin"])
        assert record["image/object/mask"].size == \
            objects * record["image/height"] * record["image/width"]


def test_detect(tmp_path):
    from tfrconv_plugins.pets import detect

    data_dir = make_pets(tmp_path / "pets")
    assert detect(str(data_dir)).confidence >= 0.8
    found = detect(str(tmp_path))
    assert not found.matched and "images/" in found.reason


# -- malformed input: valid samples or a DataError, nothing else -----------------------------
VALID_XML = ["<annotation>", "<filename>Bengal_1.jpg</filename>",
             "<size><width>24</width><height>20</height></size>", "<object>",
             "<pose>Frontal</pose>", "<truncated>0</truncated>", "<difficult>0</difficult>",
             "<bndbox>", "<xmin>1</xmin>", "<ymin>2</ymin>", "<xmax>9</xmax>", "<ymax>12</ymax>",
             "</bndbox>", "</object>", "</annotation>"]
XML_PIECES = st.sampled_from([
    "<annotation>", "</annotation>", "<filename>x.png</filename>", "<filename></filename>",
    "<size><width>abc</width></size>", "<object>", "</object>", "<bndbox>", "</bndbox>",
    "<xmax>9.5</xmax>", "<ymax>oops</ymax>", "<difficult>1</difficult>", "<truncated>x</truncated>",
    "<pose/>", "<!DOCTYPE a [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>", "&e;",
    "<?xml version='1.0' encoding='utf-8'?>", "\x00", "é", "<name>dog</name>"])


@st.composite
def pets_xml(draw):
    """A valid face annotation (as VALID_XML) with its own pose, flags and box."""
    xmin, ymin = draw(st.integers(0, 10)), draw(st.integers(0, 9))
    xmax, ymax = draw(st.integers(xmin + 1, 24)), draw(st.integers(ymin + 1, 20))
    pieces = list(VALID_XML)
    pieces[4:6] = [f"<pose>{draw(st.sampled_from(['Frontal', 'Left', 'Unspecified']))}</pose>",
                   f"<truncated>{draw(st.integers(0, 1))}</truncated>"]
    pieces[6] = f"<difficult>{draw(st.integers(0, 1))}</difficult>"
    pieces[8:12] = [f"<xmin>{xmin}</xmin>", f"<ymin>{ymin}</ymin>", f"<xmax>{xmax}</xmax>",
                    f"<ymax>{ymax}</ymax>"]
    return pieces


@st.composite
def messy_xml(draw):
    """A valid annotation with one to three pieces replaced, dropped or inserted."""
    pieces = draw(pets_xml())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(pieces) - 1)) if pieces else 0
        kind = draw(st.sampled_from(["replace", "drop", "insert"]))
        if kind == "insert" or not pieces:
            pieces.insert(where, draw(XML_PIECES))
        elif kind == "replace":
            pieces[where] = draw(XML_PIECES)
        else:
            pieces.pop(where)
    return pieces


@reaches("objects checked")
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=one_part_broken({
    "xml": (pets_xml(), messy_xml()),
    # a trimap: a foreground rectangle (top, left, height, width), or broken bytes or shapes
    "trimap": (st.tuples(st.integers(0, 15), st.integers(0, 19), st.integers(1, 5),
                         st.integers(1, 5)),
               st.binary(max_size=30) | st.sampled_from(["empty", "rgb", "small"]))}),
    full_body=st.booleans())
def test_malformed_files_give_samples_or_data_error(tmp_path_factory, case, full_body):
    from PIL import Image
    from tfrconv_plugins import pets

    from tfrconv.formats import Options

    root = tmp_path_factory.mktemp("pets")
    (root / "annotations" / "xmls").mkdir(parents=True)
    (root / "annotations" / "trimaps").mkdir()
    pieces, trimap = case["xml"], case["trimap"]
    (root / "annotations" / "xmls" / "Bengal_1.xml").write_bytes("".join(pieces).encode())
    target = root / "annotations" / "trimaps" / "Bengal_1.png"
    if isinstance(trimap, bytes):
        target.write_bytes(trimap)
    else:
        shape = {"small": (3, 3), "rgb": (20, 24, 3)}.get(trimap, (20, 24))
        array = np.full(shape, 2, dtype=np.uint8)
        top, left, height, width = trimap if isinstance(trimap, tuple) else (5, 5, 4, 4)
        if trimap != "empty":
            array[top:top + height, left:left + width] = 1
        Image.fromarray(array).save(target)
    opts = Options({"data_dir": str(root), "full_body": full_body, "faces_only": None,
                    "mask_type": "png", "split": "reference"})
    try:
        sample = pets.read_item(("Bengal_1", "train", 0), opts)
    except tfrconv.DataError:
        branch(f"data error (broken: {case['broken']})")
        return
    assert isinstance(sample, tfrconv.Sample)
    branch("objects checked" if sample.objects else "sample without objects")
    for obj in sample.objects:
        assert obj.label == "Bengal"
        assert all(isinstance(v, float) for v in (obj.xmin, obj.ymin, obj.xmax, obj.ymax))
