"""The OD API's own TfExampleDecoder against our idea of it (tfrconv.api.DECODER_SPEC and the
optional keys of tfrconv.features), and the oracle tests/odapi.py builds on it: it decodes our
records with label-map resolution and PNG masks, and it rejects what training would reject."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from odapi import (
    bytes_feature,
    decoder_keys_to_features,
    float_feature,
    int64_feature,
    parse_records,
)

import tfrconv
from tfrconv.api import DECODER_SPEC
from tfrconv.features import DECODER_KEYS

# pycocotools 2.0.11 + numpy 2 warn inside mask.decode; harmless, and not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TF_DTYPES = {"bytes": "string", "int": "int64", "float": "float32"}
# TfExampleDecoder's option that makes it read each optional key (tf_example_decoder.py).
SWITCHES = {
    "load_instance_masks": {"mask_type": "NUMERICAL_MASKS"},
    "num_keypoints": {"num_keypoints": 1},
    "load_keypoint_depth_features": {"num_keypoints": 1, "load_keypoint_depth_features": True},
    "load_dense_pose": {"load_dense_pose": True},
    "load_track_id": {"load_track_id": True},
    "load_multiclass_scores": {"load_multiclass_scores": True},
    "load_context_features": {"load_context_features": True},
    "num_additional_channels": {"num_additional_channels": 1},
}


def kind_of(described: tuple) -> tuple[str, bool]:
    """A real decoder spec as DECODER_SPEC writes it: (kind, fixed-length scalar)."""
    kinds = {dtype: kind for kind, dtype in TF_DTYPES.items()}
    fixed = described[0] == "fixed" and described[2] == ()
    return kinds[described[1]], fixed


def test_decoder_spec_is_the_decoder_s_own_key_by_key():
    real = decoder_keys_to_features()
    assert sorted(DECODER_SPEC) == sorted(real)
    for key, described in real.items():
        assert DECODER_SPEC[key] == kind_of(described), key
        if described[0] == "fixed":           # FixedLen scalars only, never a fixed-size vector
            assert described[2] == (), key


def test_optional_keys_are_read_with_their_switch_and_kind():
    default = decoder_keys_to_features()
    for key, spec in DECODER_KEYS.items():
        if spec.always:
            continue
        options = dict(SWITCHES[spec.switch])
        real = decoder_keys_to_features(**options)
        assert key not in default and key in real, (key, spec.switch)
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if key == "image/object/mask":     # the kind the instance_mask_type option picks
            png = decoder_keys_to_features(mask_type="PNG_MASKS")[key]
            assert sorted(kinds) == sorted({kind_of(real[key])[0], kind_of(png)[0]})
        elif key == "image/additional_channels/encoded":   # FixedLen((channels,)): a list
            assert kind_of(real[key]) == (kinds[0], False)
        else:
            assert kind_of(real[key]) == (kinds[0], spec.fixed), key


def test_every_fixed_length_key_is_written_so_no_default_decides(shapes_voc, tmp_path):
    """The decoder fills a missing FixedLen key with its default ('jpeg', height 1, ...); ours
    never rely on one: every record carries every FixedLen key the decoder parses."""
    out = tmp_path / "o.record"
    tfrconv.convert("voc", data_dir=str(shapes_voc), year="VOC2012", set="val", output=str(out))
    fixed = [key for key, described in decoder_keys_to_features().items()
             if described[0] == "fixed"]
    for example in tfrconv.read_examples(str(out)):
        assert [key for key in fixed if len(example.get(key, [])) != 1] == []


def write_records(path, examples) -> str:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for features in examples:
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=features)).SerializeToString())
    return str(path)


def tiny_example(**override):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 20, 30)).save(buffer, format="PNG")
    features = {"image/encoded": bytes_feature([buffer.getvalue()]),
                "image/format": bytes_feature([b"png"]),
                "image/height": int64_feature([6]), "image/width": int64_feature([8]),
                "image/object/bbox/xmin": float_feature([0.25]),
                "image/object/bbox/xmax": float_feature([0.75]),
                "image/object/bbox/ymin": float_feature([0.0]),
                "image/object/bbox/ymax": float_feature([0.5]),
                "image/object/class/text": bytes_feature([b"b"]),
                "image/object/class/label": int64_feature([2])}
    features.update(override)
    return features


def test_the_oracle_decodes_a_hand_made_record(tmp_path):
    (record,) = parse_records(write_records(tmp_path / "x.record", [tiny_example()]))
    assert record["decoded_shape"] == (6, 8, 3)
    np.testing.assert_array_equal(record.decoded["groundtruth_boxes"],
                                  np.array([[0.0, 0.25, 0.5, 0.75]], np.float32))   # y, x order
    assert list(record.decoded["groundtruth_classes"]) == [2]


@pytest.mark.parametrize("key, feature", [
    ("image/object/class/label", float_feature([2.0])),      # a float where int64 is parsed
    ("image/object/bbox/xmin", int64_feature([0])),          # an int where float32 is parsed
    ("image/height", bytes_feature([b"6"])),
])
def test_the_oracle_rejects_a_wrong_kind(tmp_path, key, feature):
    path = write_records(tmp_path / "x.record", [tiny_example(**{key: feature})])
    with pytest.raises(AssertionError, match="TfExampleDecoder rejects"):
        parse_records(path)


def test_the_oracle_rejects_a_stated_size_the_image_does_not_have(tmp_path):
    path = write_records(tmp_path / "x.record", [tiny_example(**{
        "image/height": int64_feature([7])})])
    with pytest.raises(AssertionError, match=r"\(6, 8, 3\)"):
        parse_records(path)


def test_the_oracle_resolves_class_text_through_the_label_map_beside(tmp_path):
    path = write_records(tmp_path / "x.record", [tiny_example()])
    (tmp_path / "x.label_map.pbtxt").write_text(
        'item { name: "a" id: 1 }\nitem { name: "b" id: 2 }\n')
    (record,) = parse_records(path)
    assert list(record.decoded["groundtruth_classes"]) == [2]
    (tmp_path / "x.label_map.pbtxt").write_text('item { name: "b" id: 5 }\n')
    with pytest.raises(AssertionError, match="resolves through the label map"):
        parse_records(path)


def test_coco_masks_decode_as_png_masks_with_known_pixels(tmp_path):
    """A crowd region given as an uncompressed RLE of the box x 20-39, y 10-17 on a 40x30
    image: the decoder's PNG-mask branch gives exactly that rectangle."""
    from PIL import Image

    os.makedirs(tmp_path / "val2017")
    Image.new("RGB", (40, 30), (90, 90, 90)).save(tmp_path / "val2017" / "1.jpg")
    rectangle = np.zeros((30, 40), np.uint8)
    rectangle[10:18, 20:40] = 1
    flat = rectangle.flatten(order="F")         # column-major runs, starting with zeros
    changes = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    doc = {"images": [{"id": 1, "file_name": "1.jpg", "width": 40, "height": 30}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1,
                            "area": 160.0, "bbox": [20, 10, 20, 8],
                            "segmentation": {"counts": counts, "size": [30, 40]}}],
           "categories": [{"id": 1, "name": "person"}]}
    annotations = tmp_path / "instances_val2017.json"
    annotations.write_text(json.dumps(doc))
    out = tmp_path / "out" / "m.record"
    tfrconv.convert("coco", annotations_file=str(annotations), image_dir=str(tmp_path / "val2017"),
                    output=str(out), include_masks=True, workers=1)
    (record,) = parse_records(str(out))
    masks = record.decoded["groundtruth_instance_masks"]
    assert masks.shape == (1, 30, 40)
    np.testing.assert_array_equal(masks[0], rectangle.astype(np.float32))
    assert list(record.decoded["groundtruth_is_crowd"]) == [True]
