"""`tfrconv.features.decode_typed`'s plain-Python reading of Examples against protobuf's parser.

The oracle is protobuf itself (the Example class of tfrconv.proto, which parses and serializes
in upb's C code): for any Example protobuf writes, the Python reader must take the fast path and
give exactly what protobuf reads; for the same bytes damaged anywhere, `decode_typed` must give
what protobuf gives (the values, or a ValueError where protobuf refuses the bytes). Layouts that
only a hand-written encoder produces take protobuf's path (known answers below).
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv.features import decode_by_protobuf, decode_canonical, decode_typed
from tfrconv.proto import example_class

EXAMPLE = example_class()
KEYS = st.text(min_size=0, max_size=12)
INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
FLOAT32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
FEATURE = st.one_of(
    st.tuples(st.just("bytes"), st.lists(st.binary(max_size=20) | st.binary(min_size=128,
                                                                         max_size=400),
                                         max_size=4)),
    st.tuples(st.just("float"), st.lists(FLOAT32, max_size=6)),
    st.tuples(st.just("int"), st.lists(st.one_of(st.integers(0, 127), INT64), max_size=6)),
    st.tuples(st.none(), st.just([])),
)


def serialized(features: dict) -> bytes:
    """The Example as protobuf writes it."""
    example = EXAMPLE()
    for key, (kind, values) in features.items():
        feature = example.features.feature[key]
        if kind == "bytes":
            feature.bytes_list.value.extend(values)
        elif kind == "float":
            feature.float_list.value.extend(values)
        elif kind == "int":
            feature.int64_list.value.extend(values)
    return example.SerializeToString()


def same(a, b) -> bool:
    """Equal, NaN equal to NaN (floats come back as the same float32 bits)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        (kind_a, values_a), (kind_b, values_b) = a[key], b[key]
        if kind_a != kind_b or len(values_a) != len(values_b):
            return False
        for x, y in zip(values_a, values_b):
            if not (x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))):
                return False
    return True


def protobuf_reads(payload: bytes):
    try:
        return decode_by_protobuf(payload)
    except ValueError:
        return ValueError


@reaches("fast path")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, FEATURE, max_size=8))
def test_protobuf_written_examples_take_the_fast_path_and_read_the_same(features):
    payload = serialized(features)
    fast = decode_canonical(payload)
    if payload:                                  # b"" (no features) is protobuf's to read
        assert fast is not None
        branch("fast path")
        assert same(fast, decode_by_protobuf(payload))
    assert same(decode_typed(payload), decode_by_protobuf(payload))


@reaches("compared")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, FEATURE, min_size=1, max_size=5), st.data())
def test_damaged_bytes_read_as_protobuf_reads_them(features, data):
    payload = bytearray(serialized(features))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(payload) - 1))
        action = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if action == "set":
            payload[where] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del payload[where:where + data.draw(st.integers(1, 4))]
        else:
            payload[where:where] = data.draw(st.binary(min_size=1, max_size=3))
        if not payload:
            break
    payload = bytes(payload)
    expected = protobuf_reads(payload)
    try:
        got = decode_typed(payload)
    except ValueError:
        got = ValueError
    if expected is ValueError or got is ValueError:
        assert got is expected
    else:
        assert same(got, expected)
    branch("compared")


def entry(key: bytes, feature: bytes) -> bytes:
    body = b"\x0a" + bytes([len(key)]) + key + b"\x12" + bytes([len(feature)]) + feature
    return b"\x0a" + bytes([len(body)]) + body


def example(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return b"\x0a" + bytes([len(body)]) + body


@pytest.mark.parametrize(("payload", "expected"), [
    # floats not packed: two fields of tag 0x0d (field 1, fixed32) inside the FloatList
    (example(entry(b"f", b"\x12\x0a\x0d" + struct.pack("<f", 1.5) + b"\x0d"
                   + struct.pack("<f", -2.0))), {"f": ("float", [1.5, -2.0])}),
    # ints not packed: two varint fields of tag 0x08
    (example(entry(b"i", b"\x1a\x04\x08\x05\x08\x07")), {"i": ("int", [5, 7])}),
    # the same key twice: protobuf's map keeps the last
    (example(entry(b"k", b"\x1a\x03\x0a\x01\x01"), entry(b"k", b"\x1a\x03\x0a\x01\x02")),
     {"k": ("int", [2])}),
    # a field protobuf does not know, after the features: skipped
    (example(entry(b"b", b"\x0a\x03\x0a\x01x")) + b"\x18\x01", {"b": ("bytes", [b"x"])}),
])
def test_other_layouts_are_read_by_protobuf(payload, expected):
    assert decode_canonical(payload) is None
    assert decode_typed(payload) == expected


def test_known_answers_on_the_fast_path():
    payload = example(
        entry(b"n", b"\x1a\x0c\x0a\x0a" + b"\xff" * 9 + b"\x01"),     # -1 as int64
        entry(b"big", b"\x1a\x04\x0a\x02\xac\x02"),                    # 300
        entry(b"f", b"\x12\x06\x0a\x04" + struct.pack("<f", 0.25)),
        entry(b"e", b""),                                               # no list set
        entry(b"s", b"\x0a\x07\x0a\x02hi\x0a\x01\xff"))
    assert decode_canonical(payload) == {"n": ("int", [-1]), "big": ("int", [300]),
                                         "f": ("float", [0.25]), "e": (None, []),
                                         "s": ("bytes", [b"hi", b"\xff"])}
    image = bytes(range(256)) * 2                                      # lengths of 2 bytes
    # Example 527 bytes, entry 524, key "k", Feature 518, BytesList 515, the value 512
    payload = (b"\x0a\x8f\x04\x0a\x8c\x04\x0a\x01k\x12\x86\x04\x0a\x83\x04\x0a\x80\x04"
               + image)
    assert decode_canonical(payload) == {"k": ("bytes", [image])}


def test_a_key_that_is_not_utf8_is_protobuf_s_error():
    with pytest.raises(ValueError, match="not a tf.train.Example"):
        decode_typed(example(entry(b"\xff", b"")))


def test_a_packed_varint_running_past_its_list_is_protobuf_s_error():
    payload = example(entry(b"i", b"\x1a\x03\x0a\x01\x80"), entry(b"b", b"\x0a\x03\x0a\x01x"))
    assert decode_canonical(payload) is None
    with pytest.raises(ValueError, match="not a tf.train.Example"):
        decode_typed(payload)


def test_a_varint_past_64_bits_reads_as_protobuf_reads_it():
    payload = example(entry(b"i", b"\x1a\x0c\x0a\x0a" + b"\xff" * 9 + b"\x7f"))
    with pytest.raises(ValueError):
        decode_canonical(payload)
    assert decode_typed(payload) == protobuf_reads(payload)       # (protobuf keeps 64 bits)
