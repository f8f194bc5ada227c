"""COCO plugin: features equal the reference converter's, records the OD API decoder reads,
policies, negatives, label maps, masks (polygons, crowd and non-crowd RLE) and malformed input.

The oracle `reference_example` builds each tf.train.Example the way the reference
`create_coco_tf_record.py` does (docs: odapi-reference.md §2.2), with TensorFlow and PIL; both
records are parsed with the decoder's spec and compared value by value (floats as float32, masks
as decoded pixels).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import (
    bytes_feature,
    feature_spec,
    float_feature,
    int64_feature,
    parse_records,
)
from parity import assert_same_kinds_and_values
from reach import branch, reaches
from tfrconv_plugins import coco

import tfrconv
from tfrconv import DataError, LabelMapError, UsageError
from tfrconv.cli import main as cli_main
from tfrconv.tfrecord import read_records

# pycocotools 2.0.11 + numpy 2 warn inside mask.decode; harmless, and not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

MASK_KEY = "image/object/mask"
CATEGORIES = [{"id": 1, "name": "person", "supercategory": "person"},
              {"id": 17, "name": "cat", "supercategory": "animal"},
              {"id": 18, "name": "dog", "supercategory": "animal"},
              {"id": 90, "name": "toothbrush", "supercategory": "indoor"}]   # unused


# -- fixtures in the real layout: coco/annotations/instances_<split>.json, coco/<split>/ -----
def write_image(path, width, height, seed=0, fmt=None):
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt or ("PNG" if path.endswith(".png") else "JPEG"))


def make_coco(root, images, annotations, categories=CATEGORIES, split="val2017",
              write_images=True, extra=None):
    """Write images (as {id, file_name, width, height}) and the JSON; return the JSON path."""
    for number, image in enumerate(images):
        if write_images and isinstance(image, dict) and "file_name" in image:
            write_image(os.path.join(root, split, image["file_name"]), image["width"],
                        image["height"], seed=number)
    doc = {"info": {"description": "test"}, "licenses": [], "images": images,
           "annotations": annotations, "categories": categories, **(extra or {})}
    path = os.path.join(root, "annotations", f"instances_{split}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fileobj:
        json.dump(doc, fileobj)
    return path


def crowd_rle(width, height, box):
    """An uncompressed (column-major) RLE of a filled box, as COCO stores crowd regions."""
    mask = np.zeros((height, width), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 1
    flat = mask.flatten(order="F")
    counts, current, run = [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return {"counts": counts, "size": [height, width]}


def standard_dataset(root):
    """Three images: polygons and a crowd RLE, a two-part polygon, and a negative; a box that
    touches the right edge exactly (the reference keeps it)."""
    images = [
        {"id": 42, "file_name": "000000000042.jpg", "width": 40, "height": 30},
        {"id": 7, "file_name": "000000000007.jpg", "width": 32, "height": 32},
        {"id": 9, "file_name": "000000000009.jpg", "width": 24, "height": 20},
    ]
    annotations = [
        {"id": 1, "image_id": 42, "category_id": 17, "iscrowd": 0, "area": 120.5,
         "bbox": [2.5, 3.0, 15.25, 10.0],
         "segmentation": [[2.5, 3, 17.75, 3, 17.75, 13, 2.5, 13]]},
        {"id": 2, "image_id": 42, "category_id": 1, "iscrowd": 1, "area": 80.0,
         "bbox": [20, 10, 20, 8], "segmentation": crowd_rle(40, 30, (20, 10, 40, 18))},
        {"id": 3, "image_id": 7, "category_id": 18, "iscrowd": 0, "area": 60.0,
         "bbox": [1, 1, 30, 29],
         "segmentation": [[1, 1, 10, 1, 10, 10], [20, 20, 31, 20, 31, 30, 20, 30]]},
    ]
    return make_coco(root, images, annotations)


def convert(path, out, **options):
    options.setdefault("workers", 1)
    return tfrconv.convert("coco", annotations_file=str(path), output=str(out), **options)


# -- the oracle: the reference's create_tf_example, rebuilt with TensorFlow ----------------
def reference_example(image, image_dir, annotations, category_index, include_masks):
    """(serialized Example, annotations skipped) as create_coco_tf_record.py makes them."""
    import tensorflow as tf
    from PIL import Image
    from pycocotools import mask as mask_api

    int64s, floats, byte_list = int64_feature, float_feature, bytes_feature

    height, width = image["height"], image["width"]
    with open(os.path.join(image_dir, image["file_name"]), "rb") as fileobj:
        encoded = fileobj.read()
    Image.open(io.BytesIO(encoded))
    feature = {
        "image/height": int64s([height]), "image/width": int64s([width]),
        "image/filename": byte_list([image["file_name"].encode("utf8")]),
        "image/source_id": byte_list([str(image["id"]).encode("utf8")]),
        "image/key/sha256": byte_list([hashlib.sha256(encoded).hexdigest().encode("utf8")]),
        "image/encoded": byte_list([encoded]), "image/format": byte_list([b"jpeg"]),
    }
    skipped = 0
    if annotations:
        xmin, xmax, ymin, ymax, crowd, names, ids, area, masks = ([] for _ in range(9))
        for annotation in annotations:
            x, y, w, h = tuple(annotation["bbox"])
            if w <= 0 or h <= 0 or x + w > width or y + h > height:
                skipped += 1
                continue
            xmin.append(float(x) / width)
            xmax.append(float(x + w) / width)
            ymin.append(float(y) / height)
            ymax.append(float(y + h) / height)
            crowd.append(annotation["iscrowd"])
            ids.append(int(annotation["category_id"]))
            names.append(category_index[int(annotation["category_id"])]["name"].encode("utf8"))
            area.append(annotation["area"])
            if include_masks:
                binary = mask_api.decode(mask_api.frPyObjects(annotation["segmentation"],
                                                              height, width))
                if not annotation["iscrowd"]:
                    binary = np.amax(binary, axis=2)
                out = io.BytesIO()
                Image.fromarray(binary).save(out, format="PNG")
                masks.append(out.getvalue())
        feature.update({
            "image/object/bbox/xmin": floats(xmin), "image/object/bbox/xmax": floats(xmax),
            "image/object/bbox/ymin": floats(ymin), "image/object/bbox/ymax": floats(ymax),
            "image/object/class/text": byte_list(names),
            "image/object/class/label": int64s(ids),
            "image/object/is_crowd": int64s(crowd), "image/object/area": floats(area)})
        if include_masks:
            feature[MASK_KEY] = byte_list(masks)
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(), skipped


def reference_records(json_path, image_dir, include_masks):
    with open(json_path) as fileobj:
        doc = json.load(fileobj)
    category_index = {c["id"]: c for c in doc["categories"]}
    by_image = {}
    for annotation in doc["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    return [reference_example(image, image_dir, by_image.get(image["id"], []), category_index,
                              include_masks)[0] for image in doc["images"]]


EXTRA_KEYS = {MASK_KEY: "bytes"}
# The reference leaves the object keys out of a negative image; tfrconv writes empty lists.
OBJECT_KEYS_ON_NEGATIVES = (
    "image/object/bbox/xmin", "image/object/bbox/xmax", "image/object/bbox/ymin",
    "image/object/bbox/ymax", "image/object/class/text", "image/object/class/label",
    "image/object/is_crowd", "image/object/area", MASK_KEY)


def parse_payload(payload, extra=EXTRA_KEYS):
    import tensorflow as tf

    parsed = tf.io.parse_single_example(payload, feature_spec(tf, extra))
    return {key: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
            for key, v in parsed.items()}


def mask_pixels(png: bytes) -> list:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png))).tolist()


def decoded_masks(pngs):
    from PIL import Image

    return [np.asarray(Image.open(io.BytesIO(png))) for png in pngs]


def assert_same_features(ours, reference, *, differ=()):
    """Parsed features equal key by key (missing = empty, as for the decoder), floats as
    float32, masks as pixels; `differ` lists keys documented to differ."""
    for key in sorted(set(ours) | set(reference)):
        if key in differ or key == "decoded_shape":
            continue
        a, b = ours.get(key), reference.get(key)
        if key == MASK_KEY:
            masks_a, masks_b = decoded_masks(a), decoded_masks(b)
            assert len(masks_a) == len(masks_b)
            for mask_a, mask_b in zip(masks_a, masks_b):
                assert mask_a.dtype == np.uint8 and set(np.unique(mask_a)) <= {0, 1}
                np.testing.assert_array_equal(mask_a, mask_b)
        elif isinstance(a, np.ndarray) and a.dtype == np.float32:
            np.testing.assert_array_equal(a, np.asarray(b, dtype=np.float32), err_msg=key)
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)


# -- reference compatibility ---------------------------------------------------------------
@pytest.mark.parametrize("include_masks", [True, False])
def test_features_match_reference_example_by_example(tmp_path, include_masks):
    json_path = standard_dataset(tmp_path / "coco")
    out = tmp_path / "out" / "coco_val.record"
    summary = convert(json_path, out, include_masks=include_masks)
    assert summary.examples == 3 and summary.objects == 3
    assert summary.skipped_images == 0 and summary.skipped_objects == 0

    ours = parse_records(out, extra=EXTRA_KEYS)        # the OD API decoder's spec, TF parsing
    image_dir = str(tmp_path / "coco" / "val2017")
    reference = [parse_payload(p) for p in reference_records(json_path, image_dir,
                                                             include_masks)]
    assert len(ours) == len(reference) == 3
    for mine, theirs in zip(ours, reference):
        assert_same_features(mine, theirs)
    # the raw examples: every key the reference writes, of its kind, with its values
    for index, (record, payload) in enumerate(zip(read_records(str(out)), reference_records(
            json_path, image_dir, include_masks))):
        assert_same_kinds_and_values(record, payload, where=f"example {index}",
                                     compare={MASK_KEY: mask_pixels},
                                     empty_or_absent=OBJECT_KEYS_ON_NEGATIVES)
    first = ours[0]
    assert list(first["image/object/class/text"]) == [b"cat", b"person"]
    assert list(first["image/object/class/label"]) == [17, 1]
    assert list(first["image/object/is_crowd"]) == [0, 1]
    assert first["image/source_id"] == b"42"
    assert first["image/filename"] == b"000000000042.jpg"
    assert first["image/object/bbox/xmax"][1] == np.float32(1.0)      # touches the edge: kept
    if include_masks:
        masks = decoded_masks(first[MASK_KEY])
        assert masks[1][10:18, 20:40].all() and masks[1].sum() == 8 * 20    # crowd RLE
        two_parts = decoded_masks(ours[1][MASK_KEY])[0]
        assert two_parts[25, 25] == 1 and two_parts[3, 8] == 1 and two_parts[8, 3] == 0
    else:
        assert MASK_KEY not in next(tfrconv.read_examples(str(out)))


def test_negative_images_kept_or_skipped(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    summary = convert(json_path, tmp_path / "all.record")
    records = parse_records(tmp_path / "all.record")
    negative = [r for r in records if r["image/source_id"] == b"9"]
    assert summary.examples == 3 and len(negative) == 1
    assert len(negative[0]["image/object/bbox/xmin"]) == 0
    example = next(e for e in tfrconv.read_examples(str(tmp_path / "all.record"))
                   if e["image/source_id"] == [b"9"])
    assert example["image/object/is_crowd"] == [] and example["image/object/area"] == []

    summary = convert(json_path, tmp_path / "nonempty.record", skip_empty=True)
    ids = [r["image/source_id"] for r in parse_records(tmp_path / "nonempty.record")]
    assert summary.examples == 2 and b"9" not in ids


def test_shards_follow_the_reference_rule(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    convert(json_path, tmp_path / "s.record", num_shards=2)
    shard0 = [r["image/source_id"] for r in parse_records(tmp_path / "s.record-00000-of-00002")]
    shard1 = [r["image/source_id"] for r in parse_records(tmp_path / "s.record-00001-of-00002")]
    assert shard0 == [b"42", b"9"] and shard1 == [b"7"]           # position in images[] % 2


def test_true_image_format_and_sizes_from_json(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "width": 16, "height": 12}]
    annotations = [{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4,
                    "bbox": [1, 1, 2, 2]}]
    json_path = make_coco(tmp_path / "coco", images, annotations)
    convert(json_path, tmp_path / "p.record")
    record = parse_records(tmp_path / "p.record")[0]
    assert record["image/format"] == b"png"
    assert (record["image/height"], record["image/width"]) == (12, 16)


def test_size_mismatch_is_a_problem(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 16, "height": 12}]
    json_path = make_coco(tmp_path / "coco", images, [])
    write_image(str(tmp_path / "coco" / "val2017" / "a.jpg"), 20, 12)
    with pytest.raises(DataError, match="annotation says 16x12 but the image is 20x12"):
        convert(json_path, tmp_path / "m.record")
    assert not os.path.exists(tmp_path / "m.record")


# -- label maps ----------------------------------------------------------------------------
def test_default_label_map_is_the_files_categories(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    summary = convert(json_path, tmp_path / "o.record")
    label_map = tfrconv.load_label_map(str(tmp_path / "o.label_map.pbtxt"))
    assert [(i.id, i.name) for i in label_map] == [(1, "person"), (17, "cat"), (18, "dog"),
                                                   (90, "toothbrush")]
    assert "categories of" in summary.label_map
    manifest = json.loads((tmp_path / "o.manifest.json").read_text())
    assert manifest["label_map"]["num_classes"] == 90


def test_mscoco_label_map(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    convert(json_path, tmp_path / "m.record", label_map="mscoco")
    first = parse_records(tmp_path / "m.record")[0]
    assert list(first["image/object/class/text"]) == [b"cat", b"person"]
    assert list(first["image/object/class/label"]) == [17, 1]      # mscoco: cat 17, person 1


def test_label_map_mismatch_fails_before_reading_images(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    for name in os.listdir(tmp_path / "coco" / "val2017"):        # no image may be needed
        os.unlink(tmp_path / "coco" / "val2017" / name)
    label_map = tmp_path / "two.pbtxt"
    label_map.write_text("item { id: 1 name: 'person' }\nitem { id: 2 name: 'cat' }\n")
    with pytest.raises(LabelMapError, match="'dog'"):
        convert(json_path, tmp_path / "x.record", label_map=str(label_map))
    assert not list(tmp_path.glob("x.*"))


def test_category_id_zero(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 16, "height": 12}]
    annotation = {"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4,
                  "bbox": [1, 1, 2, 2]}
    categories = [{"id": 0, "name": "cells"}, {"id": 1, "name": "cell"}]   # Roboflow style
    json_path = make_coco(tmp_path / "ok", images, [annotation], categories)
    convert(json_path, tmp_path / "ok.record")
    items = list(tfrconv.load_label_map(str(tmp_path / "ok.label_map.pbtxt")))
    assert [(i.id, i.name) for i in items] == [(1, "cell")]
    json_path = make_coco(tmp_path / "bad", images, [dict(annotation, category_id=0)],
                          categories)
    with pytest.raises(DataError, match="id 0"):
        convert(json_path, tmp_path / "bad.record")


# -- policies: nothing is lost without a word ----------------------------------------------
def policy_dataset(root, **annotation):
    images = [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}]
    base = {"id": 1, "image_id": 1, "category_id": 17, "iscrowd": 0, "area": 4,
            "bbox": [1, 1, 2, 2]}
    other = {"id": 2, "image_id": 1, "category_id": 18, "iscrowd": 0, "area": 4,
             "bbox": [5, 5, 2, 2]}
    return make_coco(root, images, [dict(base, **annotation), other])


@pytest.mark.parametrize("bbox", [[1, 1, 0, 2], [1, 1, 2, 0], [4, 4, -1, 2]])
def test_zero_size_box_follows_the_degenerate_policy(tmp_path, bbox):
    json_path = policy_dataset(tmp_path / "coco", bbox=bbox)
    with pytest.raises(DataError, match="empty or inverted box"):
        convert(json_path, tmp_path / "e.record")
    summary = convert(json_path, tmp_path / "s.record", on_degenerate_box="skip")
    assert summary.examples == 1 and summary.objects == 1 and summary.skipped_objects == 1
    assert summary.problems["degenerate_box"]["count"] == 1
    assert "a.jpg" in summary.problems["degenerate_box"]["first"][0]["file"]


@pytest.mark.parametrize("field, message", [
    ({"bbox": [1, 1, 10**400, 2]}, "bbox must be"), ({"area": -10**400}, "area must be")])
def test_ints_beyond_floats_are_data_errors(tmp_path, field, message):
    json_path = policy_dataset(tmp_path / "coco", **field)
    with pytest.raises(DataError, match=message):
        convert(json_path, tmp_path / "e.record")


def test_box_outside_the_image_follows_the_bad_box_policy(tmp_path):
    json_path = policy_dataset(tmp_path / "coco", bbox=[15, 2, 10, 4])      # x + w = 25 > 20
    with pytest.raises(DataError, match="outside the 20x10 image"):
        convert(json_path, tmp_path / "e.record")
    summary = convert(json_path, tmp_path / "s.record", on_bad_box="skip")
    assert summary.objects == 1 and summary.problems["bad_box"]["count"] == 1
    summary = convert(json_path, tmp_path / "c.record", on_bad_box="clip")
    record = parse_records(tmp_path / "c.record")[0]
    assert summary.objects == 2 and record["image/object/bbox/xmax"][0] == np.float32(1.0)
    # float drift past the edge (the reference drops such boxes) is clipped quietly
    json_path = policy_dataset(tmp_path / "drift", bbox=[15, 2, 5.000001, 4])
    summary = convert(json_path, tmp_path / "d.record")
    assert summary.objects == 2 and summary.clipped_boxes == 1


def test_unknown_category_is_a_clear_problem(tmp_path):
    json_path = policy_dataset(tmp_path / "coco", category_id=55)
    with pytest.raises(DataError) as info:
        convert(json_path, tmp_path / "e.record")
    assert "category_id 55 is not one of the file's categories" in str(info.value)
    assert str(json_path) in str(info.value)
    # skipping the only image leaves nothing to write: that is an error, not an empty success
    with pytest.raises(DataError, match="no example written: all 1 images were skipped"):
        convert(json_path, tmp_path / "s.record", on_error="skip")
    assert not list(tmp_path.glob("s.*"))


def test_annotations_of_no_image_are_reported(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4,
                    "bbox": [1, 1, 2, 2]},
                   {"id": 2, "image_id": 999, "category_id": 1, "iscrowd": 0, "area": 4,
                    "bbox": [1, 1, 2, 2]}]
    json_path = make_coco(tmp_path / "coco", images, annotations)
    with pytest.raises(DataError, match="1 annotations belong to no image.*image_id 999"):
        convert(json_path, tmp_path / "e.record")
    summary = convert(json_path, tmp_path / "s.record", on_error="skip")
    assert summary.examples == 1 and summary.problems["bad_annotation"]["count"] == 1


def test_optional_iscrowd_and_area(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 2]}]
    json_path = make_coco(tmp_path / "coco", images, annotations)
    convert(json_path, tmp_path / "o.record")
    record = parse_records(tmp_path / "o.record")[0]
    assert list(record["image/object/is_crowd"]) == [0]
    assert list(record["image/object/area"]) == [8.0]


# -- masks beyond what the reference reads ----------------------------------------------------
def test_rle_masks_compressed_and_non_crowd(tmp_path):
    from pycocotools import mask as mask_api

    width, height = 24, 16
    box = np.zeros((height, width), dtype=np.uint8, order="F")
    box[3:9, 4:15] = 1
    compressed = mask_api.encode(np.asfortranarray(box))
    compressed["counts"] = compressed["counts"].decode("ascii")
    images = [{"id": 1, "file_name": "a.jpg", "width": width, "height": height}]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 66,
         "bbox": [4, 3, 11, 6], "segmentation": crowd_rle(width, height, (4, 3, 15, 9))},
        {"id": 2, "image_id": 1, "category_id": 17, "iscrowd": 1, "area": 66,
         "bbox": [4, 3, 11, 6], "segmentation": compressed},
        {"id": 3, "image_id": 1, "category_id": 18, "iscrowd": 0, "area": 0,
         "bbox": [4, 3, 11, 6], "segmentation": [[1, 1, 5, 5]]},    # under 3 points: no area
    ]
    json_path = make_coco(tmp_path / "coco", images, annotations)
    convert(json_path, tmp_path / "r.record", include_masks=True)
    masks = decoded_masks(parse_records(tmp_path / "r.record", extra=EXTRA_KEYS)[0][MASK_KEY])
    np.testing.assert_array_equal(masks[0], box)
    np.testing.assert_array_equal(masks[1], box)
    assert masks[2].shape == (height, width) and masks[2].sum() == 0


@pytest.mark.parametrize("segmentation, message", [
    (None, "no segmentation"),
    ([[0, 0, 1e9, 0, 0, 1e9]], "finite coordinates near the image"),
    ([[0, 0, "x", 1, 2, 2]], "finite coordinates"),
    ([[0, 0, 10**400, 1, 2, 2]], "finite coordinates"),      # an int beyond any float
    ({"counts": [5, 10**6], "size": [10, 20]}, "runs cover 1000005 pixels, the image 200"),
    ({"counts": [], "size": [10, 20]}, "runs cover 0 pixels"),
    ({"counts": [5, -3], "size": [10, 20]}, "non-negative integers"),
    ({"counts": [5, 3], "size": [3, 3]}, "not the image's"),
    ({"counts": "\u00e9t\u00e9", "size": [10, 20]}, "compressed RLE string is corrupt"),
    ({"counts": "!!bad", "size": [10, 20]}, "compressed RLE string is corrupt"),
    ({"counts": "12", "size": [10, 20]}, "runs cover 3 pixels"),
    (7, "polygons or RLE"),
])
def test_broken_segmentations_are_data_errors(tmp_path, segmentation, message):
    json_path = policy_dataset(tmp_path / "coco", segmentation=segmentation)
    with pytest.raises(DataError, match=message):
        convert(json_path, tmp_path / "e.record", include_masks=True)


# -- the file itself -----------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ('{"images": [{"id": 1, "file_na', "not valid JSON.*truncated"),
    ("[1, 2]", "the JSON is a list"),
    ('{"annotations": []}', "no 'images' list"),
    ('{"images": {}, "annotations": []}', "'images' is a object"),
    ('{"images": [], "annotations": [], "categories": [{"id": "x", "name": "a"}]}',
     "no integer id"),
    ('{"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}',
     "appears twice"),
    ("\xff\xfe{}", "not UTF-8"),
    ('{"images": [], "annotations": [{"area": 1' + "0" * 5000 + '}]}', "not valid JSON.*digits"),
])
def test_broken_files_are_one_line_data_errors(tmp_path, text, message):
    path = tmp_path / "instances_x.json"
    path.write_bytes(text.encode("latin-1"))
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match=message) as info:
        convert(path, tmp_path / "e.record", image_dir=str(tmp_path / "x"))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_json_names_the_line(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    with open(json_path) as fileobj:
        text = json.dumps(json.load(fileobj), indent=1)
    with open(json_path, "w") as fileobj:
        fileobj.write(text[: len(text) // 2])
    with pytest.raises(DataError) as info:
        convert(json_path, tmp_path / "e.record")
    assert info.value.line and info.value.line > 1
    assert "truncated" in info.value.message


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        convert(tmp_path / "missing.json", tmp_path / "e.record")
    path = make_coco(tmp_path / "lonely", [], [], split="train")      # no train/ folder
    with pytest.raises(UsageError, match="give --image-dir"):
        convert(path, tmp_path / "e.record")


def test_image_dir_defaults_to_the_split_folder(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    summary = convert(json_path, tmp_path / "d.record")             # no image_dir given
    assert summary.examples == 3


def test_parsed_once_per_run(tmp_path, monkeypatch):
    json_path = standard_dataset(tmp_path / "coco")
    calls = []
    real = coco.stream_index
    monkeypatch.setattr(coco, "stream_index", lambda *a, **k: calls.append(real(*a, **k))
                        or calls[-1])
    coco.INDEX.clear()
    convert(json_path, tmp_path / "o.record")
    assert len(calls) == 1 and calls[0] is not None      # streamed, not parsed whole


def test_segmentation_dropped_unless_masks_are_asked_for(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    doc = coco.read_json(str(json_path), keep_masks=False)
    assert all("segmentation" not in a for a in doc["annotations"])
    doc = coco.read_json(str(json_path), keep_masks=True)
    assert all("segmentation" in a for a in doc["annotations"])


# -- command line and detection ------------------------------------------------------------
def test_command_line_json_summary(tmp_path, capsys):
    json_path = standard_dataset(tmp_path / "coco")
    out = tmp_path / "cli" / "coco_val.record"
    code = cli_main(["coco", "--annotations-file", str(json_path), "--image-dir",
                     str(tmp_path / "coco" / "val2017"), "--output", str(out),
                     "--include-masks", "--workers", "2", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["examples"] == 3 and summary["classes"] == {"cat": 1, "dog": 1, "person": 1}
    assert os.path.exists(tmp_path / "cli" / "coco_val.manifest.json")
    code = cli_main(["coco", "--annotations-file", str(tmp_path / "nope.json"), "--output",
                     str(out)])
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_detect(tmp_path):
    json_path = standard_dataset(tmp_path / "coco")
    assert coco.detect(str(tmp_path / "coco")).confidence > 0.5
    assert coco.detect(str(json_path)).matched
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.json").write_text('{"a": [1]}')
    miss = coco.detect(str(tmp_path / "other"))
    assert not miss.matched and "COCO" in miss.reason
    assert "no .json" in coco.detect(str(tmp_path / "coco" / "val2017")).reason


# -- property: any malformed annotation file gives samples or DataError, nothing else ------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
field_values = json_values | st.sampled_from(
    [[], [1, 2, 3, 4], [0, 0, 5, 5], [[0, 0, 4, 0, 4, 4]], {"counts": [3, 4], "size": [2, 2]},
     {"counts": "PP", "size": [3, 4]}, 1, 0, 3, -1, 17, 10**30, 1.5, "1", "a.jpg"])


@st.composite
def coco_documents(draw):
    """(JSON text, what was broken or None): a valid annotation file (images, boxes inside
    them, polygons), except in about one in three: fields broken in random places, the text
    truncated, or a top level that is not an object."""
    width, height = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    images = [{"id": i, "file_name": f"{i}.jpg", "width": width, "height": height}
              for i in range(draw(st.integers(1, 3)))]
    annotations = []
    for i in range(draw(st.integers(1, 4))):
        x, y = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
        w, h = draw(st.integers(1, width - x)), draw(st.integers(1, height - y))
        annotations.append({"id": i, "image_id": draw(st.integers(0, len(images) - 1)),
                            "category_id": 17, "iscrowd": 0, "area": float(w * h),
                            "bbox": [x, y, w, h],
                            "segmentation": [[x, y, x + w, y, x + w, y + h]]})
    doc = {"images": images, "annotations": annotations,
           "categories": [{"id": 17, "name": "cat"}]}
    broken = draw(st.sampled_from([None, None, None, None, None, None, "fields", "fields",
                                   "truncated"]))
    if broken == "fields":
        for _ in range(draw(st.integers(1, 4))):           # break random places
            target = draw(st.sampled_from(["doc", "image", "annotation", "annotation",
                                           "annotation", "category"]))
            value = copy.deepcopy(draw(field_values))   # never the same object twice: no cycles
            key = draw(st.sampled_from(["id", "image_id", "category_id", "bbox", "iscrowd",
                                        "area", "segmentation", "width", "height", "file_name",
                                        "name", "images", "annotations", "categories"]))
            if target == "doc":
                doc[key] = value
            else:
                entries = doc.get({"image": "images", "annotation": "annotations",
                                   "category": "categories"}[target])
                if isinstance(entries, list) and entries:
                    index = draw(st.integers(0, len(entries) - 1))
                    if isinstance(entries[index], dict) and draw(st.booleans()):
                        entries[index][key] = value
                    else:
                        entries[index] = value
        if draw(st.integers(0, 9)) == 0:
            doc = draw(st.sampled_from([[doc], "text", None]))
    text = json.dumps(doc)
    if broken == "truncated":
        text = text[: len(text) * draw(st.integers(0, 4)) // 5]
    return text, broken


@reaches("objects checked")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(document=coco_documents(), masks=st.booleans())
def test_malformed_files_give_samples_or_data_errors(tmp_path, document, masks):
    text, broken = document
    path = tmp_path / "instances_h.json"
    path.write_text(text)
    (tmp_path / "h").mkdir(exist_ok=True)
    coco.INDEX.clear()
    spec_opts = coco.OPTIONS
    opts = tfrconv.Options({o.name: o.default for o in spec_opts} | {
        "annotations_file": str(path), "image_dir": str(tmp_path / "h"),
        "include_masks": masks})
    try:
        items = coco.list_items(opts)
        coco.classes(opts)
        try:
            coco.default_label_map(opts)
        except DataError:
            pass
    except DataError:
        branch(f"file rejected (broken: {broken})")
        return
    for item in items:
        try:
            sample = coco.read_item(item, opts)
        except DataError:
            branch("an image rejected")
            continue
        assert isinstance(sample, tfrconv.Sample)
        branch("objects checked" if sample.objects else "a sample without objects")
        for obj in sample.objects:
            assert isinstance(obj.label, str) and isinstance(obj.xmin, float)
            if masks:                      # an array, or its PNG (Sample allows both)
                mask = obj.mask
                if isinstance(mask, bytes):
                    from PIL import Image

                    mask = np.asarray(Image.open(io.BytesIO(mask)))
                assert mask.shape == (sample.height, sample.width)
                assert set(np.unique(mask)) <= {0, 1}


numbers = st.integers(-50, 50) | st.floats(allow_nan=True, allow_infinity=True) | st.integers()
odd_segmentations = (
    st.lists(st.lists(numbers, max_size=12), max_size=3)
    | st.fixed_dictionaries({"counts": st.lists(st.integers(-3, 40) | st.integers(), max_size=8)
                             | st.text(max_size=8),
                             "size": st.lists(st.integers(0, 8), max_size=3)})
    | json_values)


@st.composite
def segmentation_cases(draw):
    """(segmentation, width, height, odd): mostly valid polygons (points inside the image) or
    uncompressed RLE (counts summing to width*height); in one case in four, anything."""
    width, height = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["polygons", "polygons", "rle", "odd"]))
    if kind == "odd":
        return draw(odd_segmentations), width, height, True
    if kind == "polygons":
        point = st.tuples(st.floats(0, width), st.floats(0, height))
        polygons = draw(st.lists(st.lists(point, min_size=3, max_size=6), min_size=1,
                                 max_size=3))
        return [[v for p in polygon for v in p] for polygon in polygons], width, height, False
    counts, left = [], width * height
    while left:
        run = draw(st.integers(0, left))
        counts.append(run)
        left -= run
        if len(counts) > 6:
            counts.append(left)
            break
    return {"counts": counts, "size": [height, width]}, width, height, False


@reaches("mask checked")
@settings(max_examples=300, deadline=None)
@given(case=segmentation_cases())
def test_any_segmentation_gives_a_mask_or_a_data_error(case):
    segmentation, width, height, odd = case
    try:
        mask = coco.decode_mask(segmentation, width, height, "annotation 1", "x.json")
    except DataError:
        branch("data error (odd)" if odd else "data error (valid)")
        return
    branch("mask checked")
    assert mask.shape == (height, width) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}


def test_file_names_with_an_export_folder_prefix(tmp_path):
    images = [{"id": 1, "file_name": "images/a.jpg", "width": 16, "height": 12},
              {"id": 2, "file_name": "C:\\export\\b.jpg", "width": 16, "height": 12}]
    json_path = make_coco(tmp_path / "coco", images, [], write_images=False)
    write_image(str(tmp_path / "coco" / "val2017" / "a.jpg"), 16, 12)
    write_image(str(tmp_path / "coco" / "val2017" / "b.jpg"), 16, 12)
    convert(json_path, tmp_path / "o.record")
    records = parse_records(tmp_path / "o.record")
    assert [r["image/filename"] for r in records] == [b"images/a.jpg", b"C:\\export\\b.jpg"]


def test_absolute_file_name_outside_the_image_folder(tmp_path):
    outside = tmp_path / "elsewhere" / "x.jpg"
    write_image(str(outside), 16, 12)
    images = [{"id": 1, "file_name": str(outside), "width": 16, "height": 12}]
    json_path = make_coco(tmp_path / "coco", images, [], write_images=False)
    os.makedirs(tmp_path / "coco" / "val2017")
    with pytest.raises(DataError, match="outside the dataset folder"):
        convert(json_path, tmp_path / "o.record")
    assert convert(json_path, tmp_path / "o.record", allow_outside_paths=True).examples == 1


def polygons_one_by_one(segmentation, width, height):
    """The polygon checks written out value by value (the oracle of the numpy path): the kept
    polygons as float lists, or the error's start."""
    import math

    reach = coco.POLYGON_REACH * max(width, height) + 1024
    kept = []
    for polygon in segmentation:
        values = [float(v) for v in polygon]
        if any(not math.isfinite(v) or abs(v) > reach for v in values):
            return "a polygon must be a list of finite coordinates"
        if len(values) < 6:
            continue
        xs, ys = values[0:len(values) - 1:2], values[1::2]
        perimeter = 0
        for i in range(len(ys)):
            perimeter += max(abs(xs[i] - xs[i - 1]), abs(ys[i] - ys[i - 1]))
        if perimeter > coco.POLYGON_PERIMETER * (width + height):
            return f"a polygon is {perimeter:.0f} pixels long"
        kept.append(values)
    return kept


@reaches("compared")
@settings(max_examples=200, deadline=None)
@given(segmentation=st.lists(st.lists(st.integers(-50, 400) | st.floats(-50, 400)
                                      | st.sampled_from([float("inf"), float("nan"), 2000]),
                                      min_size=6, max_size=20), min_size=1, max_size=3),
       width=st.integers(1, 50), height=st.integers(1, 50))
def test_polygon_checks_match_the_value_by_value_rules(segmentation, width, height):
    expected = polygons_one_by_one(segmentation, width, height)
    try:
        found = coco._polygons(segmentation, width, height, "annotation 1", "x.json")
    except DataError as error:
        branch("refused")
        assert isinstance(expected, str) and expected in str(error)
    else:
        branch("kept")
        assert found == expected
    branch("compared")
