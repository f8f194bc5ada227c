"""The hand-written Example encoder against protobuf's serializer, value kinds at their edges."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv import wire
from tfrconv.proto import example_class

INT64 = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [1e39, -1e39, 3.4028235e38, 1e-46, -0.0])
BYTES = st.binary(max_size=40) | st.binary(min_size=wire.LARGE, max_size=wire.LARGE + 300)
FEATURES = st.dictionaries(
    st.text(min_size=1, max_size=30),
    st.one_of(st.tuples(st.just("int"), st.lists(INT64, max_size=10)),
              st.tuples(st.just("float"), st.lists(FLOATS, max_size=10)),
              st.tuples(st.just("bytes"), st.lists(BYTES, max_size=4))),
    max_size=12)


def protobuf_bytes(features) -> bytes:
    example = example_class()()
    for key, (kind, values) in features.items():
        feature = example.features.feature[key]
        target = {"int": feature.int64_list, "float": feature.float_list,
                  "bytes": feature.bytes_list}[kind]
        target.SetInParent()             # an empty list is still a list of that kind
        target.value.extend(values)
    return example.SerializeToString(deterministic=True)


@reaches("compared with protobuf")
@given(FEATURES)
@settings(max_examples=300, deadline=None)
def test_encoding_equals_protobuf(features):
    pieces = wire.encode(features)
    branch("compared with protobuf")
    assert b"".join(pieces) == protobuf_bytes(features)
    # Large values are pieces of their own, the very objects given (never copied).
    large = [v for kind, values in features.values() if kind == "bytes" for v in values
             if len(v) >= wire.LARGE]
    assert all(any(piece is value for piece in pieces) for value in large)
    if large:
        branch("with large values")


def test_repeated_encodings_agree_with_the_entry_cache():
    features = {"image/format": ("bytes", [b"jpeg"]), "image/height": ("int", [375]),
                "image/object/class/label": ("int", [12, 300, -1])}
    first = b"".join(wire.encode(features))
    assert b"".join(wire.encode(dict(features))) == first == protobuf_bytes(features)


def test_floats_beyond_float32_become_infinities_as_in_protobuf():
    features = {"f": ("float", [1e39, -1e39, math.nan])}
    assert b"".join(wire.encode(features)) == protobuf_bytes(features)
