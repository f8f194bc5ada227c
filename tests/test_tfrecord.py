"""TFRecord framing: byte-identical to TensorFlow's writer, readable by tf.data, damage detected."""

from __future__ import annotations

import gzip
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv.errors import DataError
from tfrconv.tfrecord import (
    RecordWriter,
    frame,
    is_gzip,
    iter_records,
    masked_crc,
    scan_records,
    write_records,
)


def test_masked_crc_matches_known_value():
    # CRC32C("123456789") = 0xE3069283 (the standard check value); masked per TFRecord's rule.
    crc = 0xE3069283
    assert masked_crc(b"123456789") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF)
                                         + 0xA282EAD8) & 0xFFFFFFFF


def test_framing_is_byte_identical_to_tensorflow(tmp_path):
    import tensorflow as tf

    payloads = [b"", b"x", os.urandom(1000), b"\x00" * 70000]
    ours = tmp_path / "ours.record"
    write_records(str(ours), payloads)
    theirs = tmp_path / "tf.record"
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for payload in payloads:
            writer.write(payload)
    assert ours.read_bytes() == theirs.read_bytes()
    read_back = [r.numpy() for r in tf.data.TFRecordDataset(str(ours))]
    assert read_back == payloads


def test_gzip_output_is_read_by_tensorflow_and_autodetected(tmp_path):
    import tensorflow as tf

    payloads = [os.urandom(100) for _ in range(5)]
    path = tmp_path / "z.record"
    write_records(str(path), payloads, compression="GZIP")
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(path), compression_type="GZIP")] \
        == payloads
    assert list(iter_records(str(path))) == payloads


def test_gzip_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_records(str(a), [b"same"], compression="GZIP")
    write_records(str(b), [b"same"], compression="GZIP")
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()) == frame(b"same")


@reaches("read back")
@given(st.lists(st.binary(max_size=300), max_size=8))
@settings(max_examples=50, deadline=None)
def test_any_payloads_round_trip(tmp_path_factory, payloads):
    path = tmp_path_factory.mktemp("rt") / "r.record"
    with open(path, "wb") as fileobj:
        writer = RecordWriter(fileobj)
        for payload in payloads:
            writer.write(payload)
    branch("read back")
    assert list(iter_records(str(path))) == payloads


def test_truncated_file_is_reported_with_record_index(tmp_path):
    path = tmp_path / "t.record"
    write_records(str(path), [b"a" * 50, b"b" * 50])
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    records = iter_records(str(path))
    assert next(records) == b"a" * 50
    with pytest.raises(DataError, match=r"record 1 \(offset 66\).*truncated"):
        next(records)


def test_bit_flip_is_reported(tmp_path):
    path = tmp_path / "f.record"
    write_records(str(path), [b"hello world" * 10])
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="CRC mismatch"):
        list(iter_records(str(path)))


def test_not_a_record_file(tmp_path):
    path = tmp_path / "x.record"
    path.write_bytes(b"this is plain text, not a record file at all")
    with pytest.raises(DataError, match="not a TFRecord file"):
        list(iter_records(str(path)))


# -- the one reader: tolerant and strict modes over the same framing, one GZIP sniffer --------
def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_tolerant_mode_reports_a_bad_crc_record_and_goes_on(tmp_path):
    path = tmp_path / "f.record"
    write_records(str(path), [b"a" * 20, b"b" * 20, b"c" * 20])
    _flip(path, 36 + 12 + 5)                  # a payload byte of the second record (36 bytes each)
    records = list(scan_records(str(path)))
    assert [r.payload for r in records] == [b"a" * 20, None, b"c" * 20]
    assert [(r.index, r.offset) for r in records] == [(0, 0), (1, 36), (2, 72)]
    assert "CRC mismatch" in records[1].error and not records[1].fatal
    # Strict mode stops at the same record, as TensorFlow does.
    strict = iter_records(str(path))
    assert next(strict) == b"a" * 20
    with pytest.raises(DataError, match=r"record 1 \(offset 36\).*CRC mismatch"):
        next(strict)


def test_tolerant_mode_stops_at_a_damaged_length(tmp_path):
    path = tmp_path / "l.record"
    write_records(str(path), [b"a" * 20, b"b" * 20, b"c" * 20])
    _flip(path, 36)                           # the second record's length
    records = list(scan_records(str(path)))
    assert [r.payload for r in records] == [b"a" * 20, None]
    assert records[1].fatal and "length" in records[1].error


def test_a_truncated_gzip_file_ends_tolerant_reading_with_an_error(tmp_path):
    path = tmp_path / "z.record"
    write_records(str(path), [os.urandom(200) for _ in range(3)], compression="GZIP")
    path.write_bytes(path.read_bytes()[:-30])
    records = list(scan_records(str(path)))
    assert records[-1].payload is None and records[-1].fatal
    with pytest.raises(DataError):
        list(iter_records(str(path)))


@pytest.mark.parametrize("cut", [1, 3, 4, 5])
def test_a_whole_gzip_stream_of_a_cut_record_file_is_a_truncated_record(tmp_path, cut):
    """GZIP files have no size to check a length against: a record that ends inside its
    payload or its footer CRC is reported as truncated (no crash), the records before it read."""
    path = tmp_path / "g.record"
    write_records(str(path), [b"a" * 20, b"b" * 20])
    path.write_bytes(gzip.compress(path.read_bytes()[:-cut]))
    records = list(scan_records(str(path)))
    assert [r.payload for r in records] == [b"a" * 20, None]
    assert records[1].fatal and "truncated" in records[1].error and records[1].index == 1


def test_a_plain_file_that_starts_like_gzip_is_not_taken_for_gzip(tmp_path):
    # A 0x8b1f-byte payload makes the length field begin with the GZIP magic bytes.
    payload = os.urandom(0x8B1F)
    path = tmp_path / "p.record"
    write_records(str(path), [payload])
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert not is_gzip(str(path))
    assert list(iter_records(str(path))) == [payload]
    gz = tmp_path / "g.record"
    write_records(str(gz), [payload], compression="GZIP")
    assert is_gzip(str(gz))


def test_unreadable_file_is_one_error_naming_it(tmp_path):
    missing = str(tmp_path / "gone.record")
    [record] = scan_records(missing)
    assert record.fatal and "cannot read the file" in record.error
    with pytest.raises(DataError) as caught:
        list(iter_records(missing))
    assert caught.value.file == missing


def test_without_writev_the_same_bytes_are_written(tmp_path, monkeypatch):
    """Windows has no os.writev: the writer goes through the file object and writes the same
    bytes (the known framing of two records, written out)."""
    monkeypatch.delattr(os, "writev")
    path = tmp_path / "plain.record"
    write_records(str(path), [b"ab", b""])
    expected = b"".join(len(p).to_bytes(8, "little") + masked_crc(len(p).to_bytes(8, "little"))
                        .to_bytes(4, "little") + p + masked_crc(p).to_bytes(4, "little")
                        for p in (b"ab", b""))
    assert path.read_bytes() == expected
