"""`tfrconv.records.peek`: the few features it reads straight from the wire are exactly what
protobuf decodes (protobuf is the oracle), or it declines (None) and protobuf is used."""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches
from recordmaker import good_features, write

from tfrconv.features import decode_typed
from tfrconv.proto import example_class
from tfrconv.records.peek import peek
from tfrconv.records.reshard import reshard_records
from tfrconv.tfrecord import iter_records

KEYS = ["image/source_id", "image/object/class/text", "image/object/class/label",
        "image/object/bbox/xmin", "image/encoded", "k" * 130, "é/ünïcode"]

values = {
    "bytes": st.lists(st.binary(max_size=300), max_size=4),
    "float": st.lists(st.floats(width=32, allow_nan=False), max_size=4),
    "int": st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), max_size=4),
}
feature = st.sampled_from(sorted(values)).flatmap(
    lambda kind: st.tuples(st.just(kind), values[kind]))


def protobuf_bytes(features: dict) -> bytes:
    """Serialize with protobuf itself (not tfrconv's writer)."""
    example = example_class()()
    for key, (kind, vals) in features.items():
        target = example.features.feature[key]
        getattr(target, {"bytes": "bytes_list", "float": "float_list",
                         "int": "int64_list"}[kind]).value.extend(vals)
    return example.SerializeToString()


@reaches("compared with protobuf")
@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS + ["other", "image/height"]), feature, max_size=6),
       st.sets(st.sampled_from(KEYS), min_size=1, max_size=4))
def test_peek_agrees_with_protobuf(features, wanted):
    payload = protobuf_bytes(features)
    got = peek(payload, wanted)
    full = decode_typed(payload)
    if not features:
        branch("empty Example")
        assert got is None              # b"": nothing to walk, protobuf decodes it
        return
    branch("compared with protobuf")
    assert got == {key: full[key] for key in wanted if key in full}


def test_peek_declines_what_it_does_not_read():
    assert peek(b"", {"image/source_id"}) is None                 # empty Example
    assert peek(b"\x0a\x05abc", {"image/source_id"}) is None      # truncated
    payload = protobuf_bytes({"image/source_id": ("bytes", [b"x"])})
    assert peek(payload + payload, {"image/source_id"}) is None   # Features twice: merged


def test_reshard_of_gzip_in_and_out(tmp_path):
    plain = write(tmp_path / "in.record", [good_features(f"{i}.jpg") for i in range(5)])
    zipped = tmp_path / "in.gz.record"
    original = (tmp_path / "in.record").read_bytes()
    zipped.write_bytes(gzip.compress(original))
    reshard_records(str(zipped), str(tmp_path / "a.record"), num_shards=1)
    assert (tmp_path / "a.record").read_bytes() == original
    reshard_records(plain, str(tmp_path / "z.record"), num_shards=1, compression="gzip")
    assert gzip.decompress((tmp_path / "z.record").read_bytes()) == original
    assert list(iter_records(str(tmp_path / "z.record"))) == list(iter_records(plain))
