"""The copier process of `records reshard` and `merge` (tfrconv/records/copier.py): the bytes
it copies, its failures as one error, and a command stopped midway leaving nothing behind."""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

import pytest
from recordmaker import framed_records, good_features, write

import tfrconv.records.copier as copier_module
import tfrconv.records.output as output
from tfrconv.errors import DataError
from tfrconv.example import serialize
from tfrconv.records.copier import CopierProcess
from tfrconv.records.merge import merge_records
from tfrconv.records.reshard import reshard_records
from tfrconv.tfrecord import frame

pytestmark = pytest.mark.skipif(not hasattr(os, "copy_file_range"),
                                reason="copies are made by copy_file_range (Linux)")


def test_copies_byte_ranges_between_files(tmp_path):
    source = tmp_path / "in"
    source.write_bytes(bytes(range(256)) * 4)
    target = tmp_path / "out"
    target.write_bytes(b"")
    copier = CopierProcess()
    copier.copy(str(source), str(target), 10, 5, 0)
    copier.copy(str(source), str(target), 300, 3, 5)           # (300 % 256 = 44)
    copier.copy(str(source), str(target), 0, 2, 8)
    copier.finish()
    assert target.read_bytes() == bytes([10, 11, 12, 13, 14, 44, 45, 46, 0, 1])


def test_copies_start_before_the_end_once_enough_is_asked(tmp_path, monkeypatch):
    # Held in the pipe's buffer until `finish`, every copy would wait for the whole reading.
    monkeypatch.setattr(copier_module, "PUSH_AFTER", 4)
    source = tmp_path / "in"
    source.write_bytes(b"abcdefgh")
    target = tmp_path / "out"
    target.write_bytes(b"")
    copier = CopierProcess()
    copier.copy(str(source), str(target), 2, 4, 0)
    deadline = time.monotonic() + 60                 # a liveness bound, not a speed figure
    while target.read_bytes() != b"cdef" and time.monotonic() < deadline:
        time.sleep(0.01)
    copied_before_finish = target.read_bytes()
    copier.finish()
    assert copied_before_finish == b"cdef"


def test_forgetting_a_file_leaves_its_bytes_and_never_fails(tmp_path):
    kept = tmp_path / "old.record"
    kept.write_bytes(bytes(range(256)) * 64)
    os.sync()                                          # clean: its pages may be dropped
    dirty = tmp_path / "new.record"
    dirty.write_bytes(b"x" * 5000)                    # dirty: left as it is
    copier = CopierProcess()
    for path in (kept, dirty, tmp_path / "missing", tmp_path):
        copier.forget(str(path))
    copier.finish()
    assert kept.read_bytes() == bytes(range(256)) * 64
    assert dirty.read_bytes() == b"x" * 5000


def test_a_failed_copy_is_one_oserror_with_the_reason(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"")
    copier = CopierProcess()
    copier.copy(str(tmp_path / "missing"), str(target), 0, 5, 0)
    with pytest.raises(OSError, match="No such file"):
        copier.finish()


def test_copying_past_the_end_of_the_input_fails(tmp_path):
    (tmp_path / "in").write_bytes(b"abc")
    (tmp_path / "out").write_bytes(b"")
    copier = CopierProcess()
    copier.copy(str(tmp_path / "in"), str(tmp_path / "out"), 0, 10, 0)
    with pytest.raises(OSError, match="input file ended"):
        copier.finish()


@pytest.fixture
def copier_from_the_start(monkeypatch):
    """Every copy through the copier process, in runs of at most one record."""
    monkeypatch.setattr(output, "_PROCESS_AFTER", 0)
    monkeypatch.setattr(output, "_RUN", 1)


def test_reshard_through_the_copier_copies_every_record_unchanged(tmp_path,
                                                                  copier_from_the_start):
    examples = [good_features(f"{i}.jpg") for i in range(12)]
    src = write(tmp_path / "in.record", examples)
    manifest = reshard_records(src, str(tmp_path / "o" / "x.record"), num_shards=3)
    shards = sorted(glob.glob(str(tmp_path / "o" / "x.record-*")))
    got = [record for shard in shards for record in framed_records(shard)]
    expected = [frame(serialize(e)) for e in examples]
    assert sorted(got) == sorted(expected)
    assert framed_records(src) == expected
    assert [s["examples"] for s in manifest["shards"]] == [len(framed_records(s)) for s in shards]
    assert not [p for p in os.listdir(tmp_path / "o") if p.startswith(".")]


def test_a_damaged_record_after_copies_began_leaves_nothing(tmp_path, copier_from_the_start):
    a = write(tmp_path / "a.record", [good_features(f"a{i}.jpg") for i in range(4)])
    b = write(tmp_path / "b.record", [good_features(f"b{i}.jpg") for i in range(4)])
    data = bytearray(Path(b).read_bytes())
    data[len(framed_records(b)[0]) + 40] ^= 0xFF               # record 1's payload
    Path(b).write_bytes(bytes(data))
    out = tmp_path / "m"
    with pytest.raises(DataError, match=r"record 1 .*CRC"):
        merge_records([a, b], str(out / "all.record"))
    assert not out.exists() or os.listdir(out) == []


def test_without_a_copier_process_the_command_copies_by_itself(tmp_path, monkeypatch,
                                                                 copier_from_the_start):
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-such-python"))
    examples = [good_features(f"{i}.jpg") for i in range(5)]
    src = write(tmp_path / "in.record", examples)
    reshard_records(src, str(tmp_path / "o.record"), num_shards=1)
    assert framed_records(str(tmp_path / "o.record")) == framed_records(src)


def test_records_from_a_url_are_written_from_their_payloads(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    examples = [good_features(f"{i}.jpg") for i in range(3)]
    src = write(tmp_path / "in.record", examples)
    with fsspec.open("memory://copier-test/in.record", "wb") as fileobj:
        fileobj.write(Path(src).read_bytes())
    reshard_records("memory://copier-test/in.record", str(tmp_path / "o.record"), num_shards=1)
    assert framed_records(str(tmp_path / "o.record")) == framed_records(src)


def test_big_inputs_start_the_copier_at_the_first_copy(tmp_path, monkeypatch):
    examples = [good_features(f"{i}.jpg") for i in range(6)]
    src = write(tmp_path / "in.record", examples)
    size = os.path.getsize(src)
    copied_here = []
    real = output.copy_range
    monkeypatch.setattr(output, "copy_range", lambda *a: copied_here.append(a) or real(*a))
    monkeypatch.setattr(output, "_RUN", 1)
    monkeypatch.setattr(output, "_PROCESS_AFTER", size // 2)     # inputs: twice that
    reshard_records(src, str(tmp_path / "o.record"), num_shards=1)
    assert copied_here == []
    assert framed_records(str(tmp_path / "o.record")) == framed_records(src)
    monkeypatch.setattr(output, "_PROCESS_AFTER", size // 2 + 1)  # not twice: copies first
    reshard_records(src, str(tmp_path / "p.record"), num_shards=1)
    assert copied_here
    assert framed_records(str(tmp_path / "p.record")) == framed_records(src)


def test_the_output_being_replaced_is_forgotten_but_not_an_input(tmp_path, monkeypatch):
    forgotten = []
    monkeypatch.setattr(CopierProcess, "forget", lambda self, path: forgotten.append(path))
    monkeypatch.setattr(output, "_PROCESS_AFTER", 0)
    src = write(tmp_path / "in.record", [good_features(f"{i}.jpg") for i in range(4)])
    expected = framed_records(src)
    out = str(tmp_path / "o.record")
    reshard_records(src, out, num_shards=1)
    assert forgotten == []                                     # nothing there before
    reshard_records(src, out, num_shards=1)
    assert forgotten == [out]
    forgotten.clear()
    reshard_records(src, src, num_shards=1)                    # in place: the input stays
    assert forgotten == [] and framed_records(src) == expected
