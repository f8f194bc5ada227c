"""Reading ahead (tfrconv/records/ahead.py): later input files read by a helper process give
the output, messages and skipped-record reports that reading them in the command gives.
Expected records are cut from the input files by their length fields (no tfrconv reader)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
from recordmaker import framed_records, good_features, write

import tfrconv.records.ahead as ahead
from tfrconv.errors import DataError
from tfrconv.records.merge import merge_records
from tfrconv.records.reshard import reshard_records

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper is a fork")


@pytest.fixture(params=["ahead", "alone"])
def mode(request, monkeypatch):
    """Every command twice: with a helper reading ahead whatever the size, and without."""
    monkeypatch.setattr(ahead, "AHEAD_AFTER", 0 if request.param == "ahead" else 1 << 62)
    if request.param == "ahead":
        # The command forks only with one thread; earlier tests of a whole run may leave
        # threads behind (servers, TensorFlow's pools), which these files never meet.
        monkeypatch.setattr(ahead.threading, "active_count", lambda: 1)
    forks = []
    real = ahead.ReadAhead

    def counted(*args, **kwargs):
        forks.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(ahead, "ReadAhead", counted)
    return request.param, forks


def record_files(tmp_path, names="abc", count=4) -> list[str]:
    return [write(tmp_path / f"{name}.record", [good_features(f"{name}{i}.jpg")
                                                for i in range(count)]) for name in names]


def damage(path: str, index: int) -> None:
    """Flip a byte inside record `index`'s payload (its data CRC then fails)."""
    data = bytearray(Path(path).read_bytes())
    data[sum(map(len, framed_records(path)[:index])) + 40] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def test_reshard_copies_every_record_once(tmp_path, mode):
    files = record_files(tmp_path)
    manifest = reshard_records(files, str(tmp_path / "o" / "x.record"), num_shards=3)
    shards = sorted(glob.glob(str(tmp_path / "o" / "x.record-*")))
    got = [record for shard in shards for record in framed_records(shard)]
    expected = [record for path in files for record in framed_records(path)]
    assert sorted(got) == sorted(expected)
    for shard in shards:                     # in input order inside each shard
        order = [expected.index(record) for record in framed_records(shard)]
        assert order == sorted(order)
    assert manifest["examples"] == 12
    assert mode[1] == ([files[2:]] if mode[0] == "ahead" else [])


def test_merge_copies_the_sets_in_order(tmp_path, mode):
    files = record_files(tmp_path, "ab", 3)
    merge_records(files, str(tmp_path / "m.record"))
    assert framed_records(str(tmp_path / "m.record")) == \
        framed_records(files[0]) + framed_records(files[1])
    assert mode[1] == ([files[1:]] if mode[0] == "ahead" else [])


def test_a_damaged_record_read_ahead_is_reported_where_it_is(tmp_path, mode):
    files = record_files(tmp_path)
    damage(files[2], 1)
    with pytest.raises(DataError, match=r"c\.record.*record 1 \(offset \d+\): data CRC"):
        reshard_records(files, str(tmp_path / "o" / "x.record"), num_shards=2)
    assert not (tmp_path / "o").exists() or os.listdir(tmp_path / "o") == []


def test_the_first_damaged_record_is_the_one_reported(tmp_path, mode):
    files = record_files(tmp_path)
    damage(files[0], 3)                      # the command's own file, before the helper's
    damage(files[2], 0)
    with pytest.raises(DataError, match=r"a\.record.*record 3"):
        reshard_records(files, str(tmp_path / "x.record"), num_shards=1)


def test_skipped_records_are_left_out_and_reported_in_order(tmp_path, mode, capsys):
    files = record_files(tmp_path)
    damage(files[1], 2)
    damage(files[2], 0)
    with open(files[2], "ab") as fileobj:
        fileobj.write(b"\x01\x02")                             # a torn record at the end
    manifest = reshard_records(files, str(tmp_path / "x.record"), num_shards=1,
                               on_error="skip")
    kept = [r for path in files for i, r in enumerate(framed_records(path)[:4])
            if (path, i) not in {(files[1], 2), (files[2], 0)}]
    assert framed_records(str(tmp_path / "x.record")) == kept
    assert manifest["skipped_records"] == 3
    lines = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert [line.split(": record ")[1].split(" ")[0] for line in lines] == ["2", "0", "4"]
    assert "b.record" in lines[0] and "c.record" in lines[1] and "truncated" in lines[2]


def test_a_record_that_is_no_example_is_damaged_there_too(tmp_path, mode):
    files = record_files(tmp_path, "ab", 2)
    write(files[1], [good_features("b0.jpg"), b"\xff\xff not an Example"])
    with pytest.raises(DataError, match=r"b\.record.*record 1 "):
        merge_records(files, str(tmp_path / "m.record"))


def test_records_read_ahead_are_rewritten_from_their_bytes(tmp_path, mode):
    # b's map gives 'square' another id: merge rewrites b's records from their payloads.
    files = record_files(tmp_path, "a", 2)
    (tmp_path / "a.label_map.pbtxt").write_text(
        "item { id: 1 name: 'circle' }\nitem { id: 2 name: 'square' }\n")
    os.makedirs(tmp_path / "b")
    b_examples = [good_features(f"b{i}.jpg") for i in range(2)]
    for example in b_examples:
        example["image/object/class/label"] = ("int", [1, 3])
    moved = write(tmp_path / "b" / "b.record", b_examples)
    (tmp_path / "b" / "b.label_map.pbtxt").write_text(
        "item { id: 1 name: 'circle' }\nitem { id: 3 name: 'square' }\n")
    manifest = merge_records([files[0], moved], str(tmp_path / "m" / "m.record"))
    assert "2 examples had their class ids rewritten" in " ".join(manifest["notes"])
    got = framed_records(str(tmp_path / "m" / "m.record"))
    assert got[:2] == framed_records(files[0])
    assert len(got) == 4 and got[2:] != framed_records(moved)
    assert all(b"b%d.jpg" % i in record for i, record in enumerate(got[2:]))


@pytest.mark.parametrize("batches_before_failing", [0, 1])
def test_a_helper_that_fails_leaves_the_reading_to_the_command(tmp_path, monkeypatch,
                                                                batches_before_failing):
    monkeypatch.setattr(ahead, "AHEAD_AFTER", 0)
    monkeypatch.setattr(ahead, "_BATCH", 1)
    real = ahead.pickle.dumps
    made = []

    def failing(*args, **kwargs):            # runs in the helper only (a fork of this test)
        made.append(1)
        if len(made) > batches_before_failing:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(ahead.pickle, "dumps", failing)
    files = record_files(tmp_path)
    damage(files[2], 2)
    reshard_records(files, str(tmp_path / "x.record"), num_shards=1, on_error="skip")
    kept = [r for path in files for i, r in enumerate(framed_records(path))
            if (path, i) != (files[2], 2)]
    assert framed_records(str(tmp_path / "x.record")) == kept
