"""`tfrconv.features` on known answers: a serialized Example written out byte by byte (the
protobuf wire format, by hand) decodes to each feature's kind and values, a feature with no list
set keeps its key with no kind, and the small accessors give what inspect and verify show.
(Found missing by mutation testing: docs/testing.md.)"""

from __future__ import annotations

import pytest

from tfrconv import keys as K
from tfrconv.features import decode_typed, expected_kinds, first, text, values


def entry(key: bytes, feature: bytes) -> bytes:
    """One Features.feature map entry (field 1 of Features), key and value as written by hand."""
    body = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(feature)]) + feature
    return b"\x0a" + bytes([len(body)]) + body


# Int64List [1, 2] packed (field 3), BytesList [b"x"] (field 1), FloatList [1.5] packed
# (field 2, 1.5 = 0x3fc00000 little-endian) and a Feature with no list set.
FEATURES = (entry(b"a", b"\x1a\x04\x0a\x02\x01\x02")
            + entry(b"b", b"\x0a\x03\x0a\x01x")
            + entry(b"c", b"\x12\x06\x0a\x04\x00\x00\xc0\x3f")
            + entry(b"d", b""))
EXAMPLE = b"\x0a" + bytes([len(FEATURES)]) + FEATURES


def test_decode_gives_each_feature_s_kind_and_values():
    assert decode_typed(EXAMPLE) == {"a": ("int", [1, 2]), "b": ("bytes", [b"x"]),
                                     "c": ("float", [1.5]), "d": (None, [])}


def test_an_empty_payload_is_an_example_with_no_features():
    assert decode_typed(b"") == {}


def test_bytes_that_are_not_an_example_are_a_value_error():
    with pytest.raises(ValueError, match=r"^not a tf\.train\.Example \("):
        decode_typed(b"\x0a\x05\x0a")             # a length past the end


def test_accessors():
    features = decode_typed(EXAMPLE)
    assert values(features, "a") == [1, 2]
    assert values(features, "missing") == []
    assert first(features, "a") == 1
    assert first(features, "d", "none") == "none"     # present, no values
    assert first(features, "missing") is None
    assert first(features, "missing", 7) == 7


def test_text_shows_bytes_as_text_with_escapes_for_invalid_utf8():
    assert text(b"caf\xc3\xa9") == "café"
    assert text(b"a\xffb") == "a\\xffb"
    assert text(3) == "3"


def test_expected_kinds_of_decoder_keys():
    assert expected_kinds(K.HEIGHT) == ("int",)
    assert expected_kinds(K.OBJECT_MASK) == ("float", "bytes")
    assert expected_kinds(K.OBJECT_TRUNCATED) is None     # written, never read by the decoder
