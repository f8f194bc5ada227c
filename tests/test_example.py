"""Sample → tf.train.Example: TensorFlow's bytes, the OD API's keys, and lossless round trips."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import parse_records, tf_example
from reach import branch, reaches

from tfrconv import FormatSpec, ImageLabel, LabelMap, Object, Options, Sample
from tfrconv.build import Builder
from tfrconv.example import build_features, decode, serialize, to_sample
from tfrconv.settings import Settings
from tfrconv.tfrecord import write_records

CLASSES = ["cat", "dog", "traffic light", "ünïcode"]
LABEL_MAP = LabelMap.from_names(CLASSES)


def _image(width: int, height: int, fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format=fmt)
    return out.getvalue()


IMAGES = {(w, h, f): _image(w, h, f) for w in (17, 64) for h in (9, 40) for f in ("JPEG", "PNG")}


def _builder(**common) -> Builder:
    spec = FormatSpec("test", "test", list_items=lambda o: [], read_item=lambda i, o: None)
    return Builder(spec, Options({}), LABEL_MAP, Settings.resolve(spec, {"output": "x",
                                                                         **common}))


@st.composite
def samples(draw):
    width, height, fmt = draw(st.sampled_from(sorted(IMAGES)))
    objects = []
    for _ in range(draw(st.integers(0, 6))):
        x0 = draw(st.floats(0, width - 1, allow_nan=False))
        y0 = draw(st.floats(0, height - 1, allow_nan=False))
        x1 = draw(st.floats(x0 + 0.5, width, allow_nan=False))
        y1 = draw(st.floats(y0 + 0.5, height, allow_nan=False))
        objects.append(Object(
            draw(st.sampled_from(CLASSES)), x0, y0, x1, y1,
            difficult=draw(st.booleans()), truncated=draw(st.integers(0, 1)),
            pose=draw(st.sampled_from(["Unspecified", "Left", "Frontal", ""])),
            is_crowd=draw(st.integers(0, 1)), area=draw(st.floats(0, 1e4, allow_nan=False))))
    image_labels = [ImageLabel(c, draw(st.sampled_from([0.0, 1.0])))
                    for c in draw(st.lists(st.sampled_from(CLASSES), max_size=3, unique=True))]
    source_id = draw(st.text(min_size=1, max_size=20))
    return Sample(source_id=source_id, filename=draw(st.text(max_size=20)) or "f.jpg",
                  image_bytes=IMAGES[(width, height, fmt)], width=width, height=height,
                  objects=objects, image_labels=image_labels)


@reaches("round trip compared")
@given(samples())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_valid_sample_survives_encode_decode(sample):
    result = _builder().build_sample(sample)
    assert result.fatal is None and not result.problems
    branch("round trip compared")
    branch("with objects" if sample.objects else "a negative")
    features = decode(b"".join(result.payload))
    back = to_sample(features)
    assert back.source_id == sample.source_id
    assert back.filename == sample.filename
    assert back.image_bytes == sample.image_bytes
    assert (back.width, back.height) == (sample.width, sample.height)
    assert features["image/key/sha256"] == [hashlib.sha256(sample.image_bytes).hexdigest()
                                            .encode()]
    assert features["image/format"] == [b"jpeg" if sample.image_bytes[:2] == b"\xff\xd8"
                                        else b"png"]
    assert len(back.objects) == len(sample.objects)
    for original, decoded in zip(sample.objects, back.objects):
        expected = np.float32([original.xmin / sample.width, original.ymin / sample.height,
                               original.xmax / sample.width, original.ymax / sample.height])
        got = np.float32([decoded.xmin, decoded.ymin, decoded.xmax, decoded.ymax])
        assert np.array_equal(expected, got)
        assert decoded.label == original.label
        assert decoded.difficult == int(original.difficult)
        assert decoded.truncated == original.truncated
        assert decoded.pose == original.pose
        assert decoded.is_crowd == original.is_crowd
        assert np.float32(decoded.area) == np.float32(original.area)
    assert features["image/object/class/label"] == [LABEL_MAP.resolve(o.label)
                                                    for o in sample.objects]
    assert [(lb.label, lb.confidence) for lb in back.image_labels] == \
        [(lb.label, lb.confidence) for lb in sample.image_labels]


@reaches("compared with TensorFlow")
@given(samples())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_serialization_is_byte_identical_to_tensorflow(sample):
    import tensorflow as tf

    payload = b"".join(_builder().build_sample(sample).payload)
    branch("compared with TensorFlow")
    theirs = tf.train.Example.FromString(payload)
    assert theirs.SerializeToString(deterministic=True) == payload


def test_records_parse_with_the_odapi_decoder_spec(tmp_path):
    sample = Sample("id-1", "a.png", image_bytes=IMAGES[(64, 40, "PNG")], width=64, height=40,
                    objects=[Object("dog", 1, 2, 30, 39, difficult=True, truncated=0,
                                    pose="Left")])
    negative = Sample("id-2", "b.jpg", image_bytes=IMAGES[(17, 9, "JPEG")])
    builder = _builder()
    payloads = [b"".join(builder.build_sample(s).payload) for s in (sample, negative)]
    path = tmp_path / "r.record"
    write_records(str(path), payloads)
    first, second = parse_records(str(path))
    assert first["image/object/class/text"].tolist() == [b"dog"]
    assert first["image/object/class/label"].tolist() == [2]
    assert first["image/object/difficult"].tolist() == [1]
    assert first["image/format"] == b"png"
    assert first["decoded_shape"] == (40, 64, 3)
    np.testing.assert_array_equal(first["image/object/bbox/ymax"], np.float32([39 / 40]))
    assert second["image/object/bbox/xmin"].size == 0        # negatives are valid examples
    assert second["image/source_id"] == b"id-2"
    assert tf_example(payloads[1]).features.feature["image/format"].bytes_list.value == [b"jpeg"]


def test_declared_fields_are_written_on_negatives_too():
    image = IMAGES[(17, 9, "JPEG")]
    from tfrconv.example import EncodedImage

    encoded = EncodedImage(image, "jpeg", 17, 9, "00")
    features = build_features(Sample("n", "n.jpg", image_bytes=image), encoded, [], [],
                              object_fields={"difficult", "truncated", "pose"})
    assert features["image/object/difficult"] == ("int", [])
    assert features["image/object/view"] == ("bytes", [])
    assert all(features[f"image/object/bbox/{edge}"] == ("float", [])
               for edge in ("xmin", "ymin", "xmax", "ymax"))
    assert "image/object/is_crowd" not in features


def test_float_truncated_is_written_as_a_float_list():
    image = IMAGES[(17, 9, "JPEG")]
    from tfrconv.example import EncodedImage

    sample = Sample("k", "k.jpg", image_bytes=image,
                    objects=[Object("car", 0, 0, 5, 5, truncated=0.25),
                             Object("car", 1, 1, 4, 4, truncated=0)])
    features = build_features(sample, EncodedImage(image, "jpeg", 17, 9, "00"),
                              [(0, 0, 0.3, 0.5)] * 2, [1, 1])
    assert features["image/object/truncated"] == ("float", [0.25, 0.0])


def test_serialize_is_deterministic_across_key_order():
    a = serialize({"b": ("int", [1]), "a": ("bytes", [b"x"])})
    b = serialize({"a": ("bytes", [b"x"]), "b": ("int", [1])})
    assert a == b


@pytest.mark.parametrize("label,expected", [("cat", 1), ("dog", 2), ("bird", None)])
def test_unknown_classes_are_problems_not_crashes(label, expected):
    sample = Sample("s", "s.jpg", image_bytes=IMAGES[(64, 40, "JPEG")],
                    objects=[Object(label, 1, 1, 10, 10)])
    result = _builder(on_unknown_class="skip").build_sample(sample)
    if expected is None:
        assert result.skipped_objects == 1 and result.problems[0].kind == "unknown_class"
        assert decode(b"".join(result.payload))["image/object/class/label"] == []
    else:
        assert decode(b"".join(result.payload))["image/object/class/label"] == [expected]
