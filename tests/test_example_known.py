"""Sample → features → bytes → Sample with known answers: every feature a sample gives, with its
kind, written out by hand; Example bytes spelled out field by field; masks decoded by PIL.

`test_example.py` checks round trips and TensorFlow's bytes on generated samples; this module
pins what those cannot see: which kind each field gets, defaults for missing values, and what
`to_sample` fills in when a record lacks a key.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tfrconv import ImageLabel, Object, Sample
from tfrconv.example import (
    EncodedImage,
    build_features,
    decode,
    iter_examples,
    serialize,
    to_sample,
)
from tfrconv.tfrecord import write_records

JPEG = EncodedImage(b"\xff\xd8 not really a jpeg", "jpeg", 40, 20, "ab12")


def sample(**fields) -> Sample:
    return Sample("id-7", "dir/\u00e9.jpg", image_bytes=JPEG.data, **fields)


def test_a_negative_has_the_image_keys_and_empty_boxes():
    assert build_features(sample(), JPEG, [], []) == {
        "image/height": ("int", [20]),
        "image/width": ("int", [40]),
        "image/filename": ("bytes", [b"dir/\xc3\xa9.jpg"]),
        "image/source_id": ("bytes", [b"id-7"]),
        "image/key/sha256": ("bytes", [b"ab12"]),
        "image/encoded": ("bytes", [JPEG.data]),
        "image/format": ("bytes", [b"jpeg"]),
        "image/object/class/text": ("bytes", []),
        "image/object/class/label": ("int", []),
        "image/object/bbox/xmin": ("float", []),
        "image/object/bbox/ymin": ("float", []),
        "image/object/bbox/xmax": ("float", []),
        "image/object/bbox/ymax": ("float", []),
    }


def test_every_object_field_with_its_kind_and_default():
    first = Object("cat", 0, 0, 1, 1, difficult=True, truncated=1, occluded=2, pose="Left",
                   group_of=1, is_crowd=0, depiction=1, inside=1, area=12.5, weight=0.5)
    second = Object("d\u00f6g", 0, 0, 1, 1)                     # every optional field unset
    features = build_features(sample(objects=[first, second]), JPEG,
                              [(0.1, 0.2, 0.3, 0.4), (0.5, 0.6, 0.7, 0.8)], [3, 9])
    image_keys = {"image/height", "image/width", "image/filename", "image/source_id",
                  "image/key/sha256", "image/encoded", "image/format"}
    assert {k: v for k, v in features.items() if k not in image_keys} == {
        "image/object/class/text": ("bytes", [b"cat", b"d\xc3\xb6g"]),
        "image/object/class/label": ("int", [3, 9]),
        "image/object/bbox/xmin": ("float", [0.1, 0.5]),
        "image/object/bbox/ymin": ("float", [0.2, 0.6]),
        "image/object/bbox/xmax": ("float", [0.3, 0.7]),
        "image/object/bbox/ymax": ("float", [0.4, 0.8]),
        "image/object/difficult": ("int", [1, 0]),
        "image/object/truncated": ("int", [1, 0]),
        "image/object/occluded": ("int", [2, 0]),
        "image/object/view": ("bytes", [b"Left", b""]),
        "image/object/group_of": ("int", [1, 0]),
        "image/object/is_crowd": ("int", [0, 0]),
        "image/object/depiction": ("int", [1, 0]),
        "image/object/inside": ("int", [1, 0]),
        "image/object/area": ("float", [12.5, 0.0]),
        "image/object/weight": ("float", [0.5, 1.0]),          # an unset weight counts fully
    }
    difficult = features["image/object/difficult"][1]
    assert [type(v) for v in difficult] == [int, int]            # True written as 1, an int
    area = features["image/object/area"][1]
    assert [type(v) for v in area] == [float, float]


def test_int_fields_given_as_floats_stay_int_kind_except_truncated():
    objects = [Object("a", 0, 0, 1, 1, occluded=1.0, truncated=0.5),
               Object("a", 0, 0, 1, 1, occluded=0, truncated=1)]
    features = build_features(sample(objects=objects), JPEG, [(0, 0, 1, 1)] * 2, [1, 1])
    assert features["image/object/occluded"] == ("int", [1, 0])
    assert features["image/object/truncated"] == ("float", [0.5, 1.0])
    assert [type(v) for v in features["image/object/truncated"][1]] == [float, float]


def test_extra_features_take_the_kind_of_their_values():
    objects = [Object("a", 0, 0, 1, 1, extra={"o/int": True, "o/float": 1,
                                              "o/text": "x", "o/raw": b"\x00"}),
               Object("a", 0, 0, 1, 1, extra={"o/int": 5, "o/float": 2.5,
                                              "o/text": "\u00e9", "o/raw": b"\x01"})]
    features = build_features(
        sample(objects=objects, extra={"i/int": 4, "i/floats": [1, 0.5], "i/text": ["p", "q"],
                                       "i/none": [], "i/bool": False}),
        JPEG, [(0, 0, 1, 1)] * 2, [1, 1])
    extra = {k: v for k, v in features.items() if not k.startswith("image/")}
    assert extra == {
        "o/int": ("int", [1, 5]),
        "o/float": ("float", [1.0, 2.5]),
        "o/text": ("bytes", [b"x", b"\xc3\xa9"]),
        "o/raw": ("bytes", [b"\x00", b"\x01"]),
        "i/int": ("int", [4]),
        "i/floats": ("float", [1.0, 0.5]),
        "i/text": ("bytes", [b"p", b"q"]),
        "i/none": ("bytes", []),                       # no values: an empty bytes list
        "i/bool": ("int", [0]),
    }
    assert [type(v) for v in extra["o/int"][1]] == [int, int]
    assert [type(v) for v in extra["o/float"][1]] == [float, float]


def test_list_valued_object_extras_are_flattened_with_their_values_kind():
    # (the kind used to be taken from the objects' lists, not their values: numbers crashed)
    objects = [Object("a", 0, 0, 1, 1, extra={"o/ints": [1, 2], "o/floats": [0.5],
                                              "o/texts": ["x"], "o/empty": []}),
               Object("a", 0, 0, 1, 1, extra={"o/ints": [3], "o/floats": [1, 2],
                                              "o/texts": ["y", "z"], "o/empty": []})]
    features = build_features(sample(objects=objects), JPEG, [(0, 0, 1, 1)] * 2, [1, 1])
    assert {k: v for k, v in features.items() if k.startswith("o/")} == {
        "o/ints": ("int", [1, 2, 3]),
        "o/floats": ("float", [0.5, 1.0, 2.0]),
        "o/texts": ("bytes", [b"x", b"y", b"z"]),
        "o/empty": ("bytes", []),
    }


def test_an_extra_feature_on_some_objects_only_is_an_error():
    objects = [Object("a", 0, 0, 1, 1, extra={"o/x": 1}), Object("a", 0, 0, 1, 1)]
    with pytest.raises(ValueError, match="^extra feature 'o/x' is set on some objects but "
                                         "not all$"):
        build_features(sample(objects=objects), JPEG, [(0, 0, 1, 1)] * 2, [1, 1])


def test_image_labels_and_verified_negatives():
    labels = [ImageLabel("cat", 1.0), ImageLabel("dog", 0.0), ImageLabel("owl", 1)]
    features = build_features(sample(image_labels=labels), JPEG, [], [],
                              image_label_ids=[1, 2, 5])
    assert features["image/class/text"] == ("bytes", [b"cat", b"dog", b"owl"])
    assert features["image/class/label"] == ("int", [1, 2, 5])
    assert features["image/class/confidence"] == ("float", [1.0, 0.0, 1.0])
    assert [type(v) for v in features["image/class/confidence"][1]] == [float] * 3
    assert features["image/neg_category_ids"] == ("int", [2])


def test_no_verified_negatives_means_no_negatives_key():
    features = build_features(sample(image_labels=[ImageLabel("cat")]), JPEG, [], [],
                              image_label_ids=[1])
    assert features["image/class/confidence"] == ("float", [1.0])
    assert "image/neg_category_ids" not in features
    assert "image/class/text" not in build_features(sample(), JPEG, [], [])


def png_pixels(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "L"
    return np.asarray(image)


def test_png_masks_are_encoded_and_bytes_kept():
    array = np.zeros((3, 4), dtype=np.uint8)
    array[1, 1:3] = 1
    given = b"\x89PNG already encoded"
    objects = [Object("a", 0, 0, 1, 1, mask=array), Object("a", 0, 0, 1, 1, mask=given)]
    kind, masks = build_features(sample(objects=objects), JPEG, [(0, 0, 1, 1)] * 2,
                                 [1, 1])["image/object/mask"]
    assert kind == "bytes" and masks[1] is given
    assert np.array_equal(png_pixels(masks[0]), array)


def test_numerical_masks_are_one_flat_float_list():
    objects = [Object("a", 0, 0, 1, 1, mask=np.array([[0, 1], [1, 0]], dtype=np.uint8)),
               Object("a", 0, 0, 1, 1, mask=[[1, 1], [0, 0]])]
    features = build_features(sample(objects=objects, mask_type="numerical"), JPEG,
                              [(0, 0, 1, 1)] * 2, [1, 1])
    assert features["image/object/mask"] == ("float", [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    assert [type(v) for v in features["image/object/mask"][1]] == [float] * 8


def test_masks_on_some_objects_only_are_an_error():
    objects = [Object("a", 0, 0, 1, 1, mask=b"png"), Object("a", 0, 0, 1, 1)]
    with pytest.raises(ValueError, match="^some objects have masks and others do not$"):
        build_features(sample(objects=objects), JPEG, [(0, 0, 1, 1)] * 2, [1, 1])


def test_no_masks_no_mask_key():
    features = build_features(sample(objects=[Object("a", 0, 0, 1, 1)]), JPEG,
                              [(0, 0, 1, 1)], [1])
    assert "image/object/mask" not in features


# Example{features{feature{key: "k", value: Feature{int64_list{value: [1]}}}}}, by hand.
ONE_INT = b"\x0a\x0c\x0a\x0a\x0a\x01k\x12\x05\x1a\x03\x0a\x01\x01"


def test_serialize_writes_the_example_bytes():
    assert serialize({"k": ("int", [1])}) == ONE_INT
    assert serialize({}) == b""
    # A large value is a piece of its own in the encoding; serialize joins the pieces.
    # BytesList 0a 80 20 + 4096 bytes = 4099; Feature 0a 83 20 (4102); entry 3 + 3 + 4102 =
    # 4108 (0a 8c 20); Features 4111 (0a 8f 20).
    big = b"\x07" * 4096
    assert serialize({"k": ("bytes", [big])}) == (
        b"\x0a\x8f\x20" b"\x0a\x8c\x20" b"\x0a\x01k" b"\x12\x86\x20" b"\x0a\x83\x20"
        b"\x0a\x80\x20" + big)


def test_decode_reads_each_kind_and_a_feature_without_one():
    # feature "b": bytes_list [b"x"]; "f": float_list [1.0]; "e": a Feature with no kind set.
    entry_b = b"\x0a\x01b\x12\x05\x0a\x03\x0a\x01x"
    entry_f = b"\x0a\x01f\x12\x08\x12\x06\x0a\x04\x00\x00\x80\x3f"
    entry_e = b"\x0a\x01e\x12\x00"
    entries = b"".join(b"\x0a" + bytes([len(e)]) + e for e in (entry_b, entry_f, entry_e))
    payload = b"\x0a" + bytes([len(entries)]) + entries
    assert decode(payload) == {"b": [b"x"], "f": [1.0], "e": []}
    assert decode(ONE_INT) == {"k": [1]}
    assert decode(b"") == {}


def test_iter_examples_reads_records_in_order(tmp_path):
    path = tmp_path / "r.record"
    write_records(str(path), [ONE_INT, b""])
    assert list(iter_examples(str(path))) == [{"k": [1]}, {}]
    assert list(iter_examples([str(path)])) == [{"k": [1]}, {}]


def test_to_sample_fills_in_what_a_record_lacks():
    back = to_sample({"image/object/bbox/xmin": [0.1], "image/object/bbox/ymin": [0.2],
                      "image/object/bbox/xmax": [0.3], "image/object/bbox/ymax": [0.4],
                      "image/class/text": [b"cat", b"dog"]})
    assert (back.source_id, back.filename, back.image_bytes) == ("", "", None)
    assert (back.width, back.height) == (None, None)
    assert back.normalized is True
    assert back.objects == [Object("", 0.1, 0.2, 0.3, 0.4)]
    assert back.image_labels == [ImageLabel("cat", 1.0), ImageLabel("dog", 1.0)]


def test_to_sample_reads_every_field_back():
    features = {
        "image/source_id": [b"s\xc3\xa9"], "image/filename": [b"f.png"],
        "image/encoded": [b"PNGDATA"], "image/width": [64], "image/height": [48],
        "image/object/bbox/xmin": [0.1, 0.5], "image/object/bbox/ymin": [0.2, 0.6],
        "image/object/bbox/xmax": [0.3, 0.7], "image/object/bbox/ymax": [0.4, 0.8],
        "image/object/class/text": [b"cat", b"d\xc3\xb6g"],
        "image/object/difficult": [1, 0], "image/object/view": [b"Left", b""],
        "image/object/truncated": [0.25, 1.0], "image/object/weight": [0.5, 1.0],
        "image/object/mask": [b"m1", b"m2"],
        "image/class/text": [b"cat"], "image/class/confidence": [0.0],
    }
    back = to_sample(features)
    assert (back.source_id, back.filename, back.image_bytes) == ("s\u00e9", "f.png", b"PNGDATA")
    assert (back.width, back.height, back.normalized) == (64, 48, True)
    assert back.objects == [
        Object("cat", 0.1, 0.2, 0.3, 0.4, difficult=1, pose="Left", truncated=0.25,
               weight=0.5, mask=b"m1"),
        Object("d\u00f6g", 0.5, 0.6, 0.7, 0.8, difficult=0, pose="", truncated=1.0,
               weight=1.0, mask=b"m2"),
    ]
    assert back.image_labels == [ImageLabel("cat", 0.0)]


def test_to_sample_leaves_numerical_masks_out():
    back = to_sample({"image/object/bbox/xmin": [0.1], "image/object/bbox/ymin": [0.2],
                      "image/object/bbox/xmax": [0.3], "image/object/bbox/ymax": [0.4],
                      "image/object/mask": [0.0, 1.0, 1.0, 0.0]})
    assert back.objects[0].mask is None
