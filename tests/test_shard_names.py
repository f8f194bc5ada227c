"""`tfrconv.sharding` on known answers: the OD API's shard names and glob for one and for several
shards, the one-line error for a shard count below one, the shard of an id (one shard, a
format's own shard key), a worker's reserved room, and the error when finishing fails.
(Found missing by mutation testing: docs/testing.md.)"""

from __future__ import annotations

import os

import pytest

from tfrconv.errors import DataError, UsageError
from tfrconv.sharding import ShardedWriter, shard_glob, shard_index, shard_paths, stable_hash


def test_one_shard_is_the_output_itself():
    assert shard_paths("out/train.record", 1) == ["out/train.record"]
    assert shard_glob("out/train.record", 1) == "out/train.record"


def test_several_shards_are_numbered_from_zero_of_n():
    assert shard_paths("out/train.record", 2) == ["out/train.record-00000-of-00002",
                                                  "out/train.record-00001-of-00002"]
    assert shard_glob("out/train.record", 2) == "out/train.record-?????-of-00002"
    assert shard_glob("t", 12) == "t-?????-of-00012"


@pytest.mark.parametrize("count", [0, -3])
def test_fewer_than_one_shard_is_a_usage_error(count):
    with pytest.raises(UsageError) as info:
        shard_paths("out", count)
    assert str(info.value) == f"--num-shards must be at least 1, got {count}"


def test_shard_index_by_the_documented_rule_or_the_format_s_key():
    # BLAKE2b-64 of "a", big-endian: 0x40f89e395b66422f, computed once (docs/output.md's rule).
    assert stable_hash("a") == 0x40F89E395B66422F
    assert shard_index("a", 1) == 0
    assert shard_index("a", 2) == 0x40F89E395B66422F % 2 == 1
    assert shard_index("a", 1, shard_key=7) == 0             # one shard: always the first
    assert shard_index("a", 4, shard_key=7) == 3             # the key, not the hash
    assert shard_index("a", 4, shard_key=0) == 0             # a key of 0 is still a key


def test_a_writer_without_a_shard_count_writes_the_output_itself(tmp_path):
    output = str(tmp_path / "one.record")
    with ShardedWriter(output) as writer:
        writer.write(0, [b"abc"])
        stats = writer.commit()
        assert writer.closed
    assert [s.path for s in stats] == [output]
    assert os.listdir(tmp_path) == ["one.record"]
    assert stats[0].examples == 1
    assert stats[0].bytes == os.path.getsize(output) == 3 + 16    # payload + TFRecord framing


def test_reserved_room_follows_the_records_before_it(tmp_path):
    with ShardedWriter(str(tmp_path / "r.record"), 2) as writer:
        first = writer.reserve(1, 10)
        second = writer.reserve(1, 25)
        assert first == (writer.temp_paths[1], 0)
        assert second == (writer.temp_paths[1], 10)
        assert (writer.stats[1].examples, writer.stats[1].bytes) == (2, 35)
        assert (writer.stats[0].examples, writer.stats[0].bytes) == (0, 0)
        writer.abort()
        assert writer.closed
    assert os.listdir(tmp_path) == []


class FailingClose:
    """A shard file whose close fails as a full disk's does."""

    def __init__(self, fileobj):
        self.fileobj = fileobj

    def close(self):
        self.fileobj.close()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.fileobj, name)


def test_a_failed_finish_names_the_output_and_leaves_nothing(tmp_path):
    output = str(tmp_path / "full.record")
    writer = ShardedWriter(output, 2)
    writer.write(0, [b"x"])
    writer._files[0] = FailingClose(writer._files[0])      # noqa: SLF001 - fault injection
    with pytest.raises(DataError) as info:
        writer.finish()
    assert str(info.value) == (f"{output}: finishing the output failed: No space left on device "
                               "(no output was left behind)")
    assert writer.closed
    assert os.listdir(tmp_path) == []


def test_temporary_files_are_hidden_beside_the_output_and_unique_per_run(tmp_path):
    """Beside the output: the final rename stays on one file system (atomic). Unique: two runs
    writing the same output never share a temporary file."""
    output = str(tmp_path / "sub" / "x.record")
    with ShardedWriter(output, 2) as one, ShardedWriter(output, 2) as two:
        for writer in (one, two):
            for temp, final in zip(writer.temp_paths, writer.paths):
                assert os.path.dirname(temp) == str(tmp_path / "sub")
                assert os.path.basename(temp).startswith(f".{os.path.basename(final)}.tmp-")
        assert set(one.temp_paths).isdisjoint(two.temp_paths)
        one.abort()
        two.abort()


def test_an_output_folder_that_cannot_be_made_is_one_error_naming_it(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DataError) as info:
        ShardedWriter(str(tmp_path / "file" / "sub" / "x.record"))
    assert str(info.value) == f"{tmp_path / 'file' / 'sub'}: cannot create the output folder: " \
                              "Not a directory"


def test_leaving_the_block_with_an_exception_deletes_the_temporary_files(tmp_path):
    with pytest.raises(RuntimeError), ShardedWriter(str(tmp_path / "x.record"), 2) as writer:
        writer.write(1, [b"x"])
        raise RuntimeError("a failed run")
    assert writer.closed
    assert os.listdir(tmp_path) == []
