"""`records reshard` / `records merge` with `--runner beam` (Beam's DirectRunner) write what the
local runner writes: the same shards, label map and manifest, byte for byte, the same skipped
records and the same one-line errors; a failed run leaves nothing behind.

Oracle: the local runner's output of the same command (its own tests check it against known
answers), compared as bytes, file by file.
"""

from __future__ import annotations

import gzip
import importlib.util
import os

import pytest
import recordmaker

import tfrconv
from tfrconv import DataError, UsageError
from tfrconv.cli import main as cli_main
from tfrconv.records.merge import merge_records
from tfrconv.records.reshard import reshard_records

pytestmark = pytest.mark.skipif(importlib.util.find_spec("apache_beam") is None,
                                reason="apache-beam is not installed")
MULTI_PROCESS = "--direct_running_mode=multi_processing --direct_num_workers=2"


def example(source_id, names, ids=None, *, text=True, seed=0):
    features = recordmaker.good_features(
        source_id, image=recordmaker.image_bytes(16, 12, colour=(seed % 256, 40, 90)))
    count = len(names)
    for key in ("xmin", "ymin"):
        features[f"image/object/bbox/{key}"] = ("float", [0.1] * count)
    for key in ("xmax", "ymax"):
        features[f"image/object/bbox/{key}"] = ("float", [0.5] * count)
    features["image/object/difficult"] = ("int", [0] * count)
    features["image/object/class/text"] = ("bytes", [n.encode() for n in names])
    features["image/object/class/label"] = ("int", list(ids or range(1, count + 1)))
    if not text:
        del features["image/object/class/text"]
    return features


def record_set(folder, name, examples, label_map=None, *, compress=False):
    folder.mkdir(parents=True, exist_ok=True)
    if label_map is not None:
        (folder / "label_map.pbtxt").write_text(label_map)
    path = recordmaker.write(folder / name, examples)
    if compress:
        with open(path, "rb") as raw, gzip.open(path + ".gz", "wb") as packed:
            packed.write(raw.read())
        os.remove(path)
        path += ".gz"
    return path


@pytest.fixture
def sets(tmp_path):
    """Two sets whose maps disagree (ids rewritten in a merge), a class no map has, records
    naming classes by id only, and one image in both sets."""
    a = [example(f"a{i}", ["cat", "dog"][: i % 3], [1, 2][: i % 3], seed=i) for i in range(14)]
    a.append(example("a-new", ["cat", "zebra"], [1, 9], seed=99))
    a.append(example("a-ids", ["", "", ""], [2, 1, 2], text=False, seed=98))
    b = [example(f"b{i}", ["dog", "bird", "cat"][: 1 + i % 3], [1, 2, 3][: 1 + i % 3],
                 seed=50 + i) for i in range(12)]
    b.append(example("a3", ["dog"], [1], seed=3))           # a3's image again
    first = record_set(tmp_path / "A", "a.record", a,
                       "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    second = record_set(tmp_path / "B", "b.record", b,
                        "item { id: 1 name: 'dog' }\nitem { id: 2 name: 'bird' }\n"
                        "item { id: 3 name: 'cat' }\n")
    return first, second


def files_of(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def both_runners(tmp_path, command, *args, **options):
    """Run `command` locally and on Beam into two folders; both folders' files."""
    outputs = {}
    for runner in ("local", "beam"):
        out = tmp_path / f"out-{runner}"
        extra = {"runner": runner} if runner == "beam" else {}
        outputs[runner] = command(*args, str(out / "r.record"), **options, **extra)
        outputs[runner] = files_of(out)
    return outputs


def test_reshard_on_beam_writes_the_local_files(tmp_path, sets):
    found = both_runners(tmp_path, reshard_records, list(sets), num_shards=3)
    assert len(found["local"]) == 5                 # 3 shards, label map, manifest
    assert found["beam"] == found["local"]
    assert b"zebra" in found["local"]["r.label_map.pbtxt"]     # learned from the records


def test_reshard_by_size_with_gzip_in_and_out(tmp_path, sets):
    packed = record_set(tmp_path / "G", "g.record",
                        [example(f"g{i}", ["cat"], [1], seed=i) for i in range(9)],
                        "item { id: 1 name: 'cat' }\n", compress=True)
    found = both_runners(tmp_path, reshard_records, [packed, sets[1]], shard_size="4KB",
                         compression="gzip")
    assert len(found["local"]) > 3
    assert found["beam"] == found["local"]


def test_merge_on_beam_writes_the_local_files(tmp_path, sets):
    found = both_runners(tmp_path, merge_records, list(sets), num_shards=2)
    assert found["beam"] == found["local"]
    manifest = found["local"]["r.manifest.json"].decode()
    assert "examples had their class ids rewritten" in manifest
    assert "repeat an image written before" in manifest
    assert "'zebra' is in no input's label map" in manifest


def test_merge_with_a_given_label_map_stops_as_locally_and_leaves_nothing(tmp_path, sets):
    given = tmp_path / "given.pbtxt"
    given.write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    errors = {}
    for runner in ("local", "beam"):
        out = tmp_path / runner
        with pytest.raises(DataError) as caught:
            merge_records(list(sets), str(out / "r.record"), label_map=str(given),
                          runner=runner)
        errors[runner] = str(caught.value)
        assert not out.exists() or os.listdir(out) == []
    assert "'zebra'" in errors["local"]
    # Local names the first such record; Beam the first a worker met (one set has it here).
    assert errors["beam"] == errors["local"]


def damage(path, record_index):
    """Flip a byte inside one record's payload (its CRC no longer matches)."""
    with open(path, "rb") as fileobj:
        data = bytearray(fileobj.read())
    offset = 0
    for _ in range(record_index):
        offset += 16 + int.from_bytes(data[offset:offset + 8], "little")
    data[offset + 40] ^= 0xFF
    with open(path, "wb") as fileobj:
        fileobj.write(bytes(data))


def test_damaged_records_stop_or_are_skipped_as_locally(tmp_path, sets, capsys):
    damage(sets[1], 4)
    for runner in ("local", "beam"):
        with pytest.raises(DataError) as caught:
            merge_records(list(sets), str(tmp_path / runner / "r.record"), runner=runner)
        assert "record 4" in str(caught.value) and "b.record" in str(caught.value)
        assert not (tmp_path / runner).exists() or os.listdir(tmp_path / runner) == []
    capsys.readouterr()
    found = both_runners(tmp_path, merge_records, list(sets), on_error="skip")
    assert found["beam"] == found["local"]
    reports = capsys.readouterr().err.splitlines()
    assert len(reports) == 2 and reports[0] == reports[1]
    assert "record 4" in reports[0]


def test_command_line_with_worker_processes(tmp_path, sets, capsys):
    for runner, options in (("local", []), ("beam", ["--beam-options", MULTI_PROCESS])):
        assert cli_main(["records", "merge", *sets, "--num-shards", "2", "-o",
                         str(tmp_path / runner / "m.record"), "--runner", runner,
                         *options]) == 0
    assert files_of(tmp_path / "beam") == files_of(tmp_path / "local")
    assert "wrote 29 examples" in capsys.readouterr().out


def test_beam_options_need_the_beam_runner(tmp_path, sets):
    with pytest.raises(UsageError, match="--beam-options needs --runner beam"):
        cli_main(["records", "reshard", *sets, "--num-shards", "2", "-o",
                  str(tmp_path / "r.record"), "--beam-options", "--direct_num_workers=2",
                  "--debug"])
    with pytest.raises(UsageError, match="unknown Beam option"):
        tfrconv.reshard_records(list(sets), str(tmp_path / "r.record"), num_shards=1,
                                runner="beam", beam_options="--direct_num_wrkers=2")
    assert not (tmp_path / "r.record").exists()
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []
