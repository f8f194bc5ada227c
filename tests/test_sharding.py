"""Sharding, for every builtin format: the OD API's shard names, every example in exactly one
shard (the one docs/output.md's rule gives, computed here independently), in input order, and
the same bytes whatever the number of workers or the compression."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from datasets import (
    FORMATS,
    A,
    Box,
    Picture,
    Voc,
    blake2b_shard,
    expected_files,
    make,
    shard_files,
    snapshot,
    source_ids,
    standard_pictures,
)
from datasets import convert as run

NUM_SHARDS = 4             # (not 3, 5 or 17: those divide 255, so the byte order would not matter)


@pytest.mark.parametrize("name", FORMATS)
def test_every_example_is_in_exactly_its_rule_s_shard(tmp_path, name):
    pictures = standard_pictures()
    layout, options = make(name, tmp_path / "data", pictures)
    out = tmp_path / "out"
    run(layout, options, out, num_shards=NUM_SHARDS)
    expected = layout.expected(pictures, str(out), NUM_SHARDS)
    assert sorted(os.listdir(out)) == expected_files(expected, NUM_SHARDS)
    written = []
    for split, record in expected.outputs.items():
        in_order = [i for i, s, _key in layout.order(pictures) if i in expected.split
                    and expected.split[i] == split]
        for shard, path in enumerate(shard_files(record, NUM_SHARDS)):
            wanted = [expected.source_id[i] for i in in_order if expected.shard[i] == shard]
            assert source_ids(path) == wanted, (split, shard)
            written += wanted
    assert sorted(written) == sorted(expected.source_id.values())
    assert len(written) == len(pictures)


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("name", FORMATS)
def test_worker_processes_give_the_same_files(tmp_path, name, compression):
    """Two runs, one in process and one with two workers: every file the same bytes (records,
    manifest, label map), and nothing else left behind (no spool, no temporary file)."""
    layout, options = make(name, tmp_path / "data", standard_pictures())
    files = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        run(layout, options, out, num_shards=2, workers=workers, compression=compression)
        files[workers] = snapshot(out)
    expected = layout.expected(standard_pictures(), str(tmp_path / "w1"), 2)
    assert sorted(files[1]) == expected_files(expected, 2)
    assert [comparable(files[1], n) for n in files[1]] == [comparable(files[2], n)
                                                         for n in files[2]]


def comparable(files: dict[str, bytes], name: str):
    """A file's bytes; a manifest's JSON without the output folder it records (Pets' option
    --output-dir names the folder, which differs between the two runs here)."""
    if not name.endswith(".manifest.json"):
        return name, files[name]
    manifest = json.loads(files[name])
    manifest["options"].pop("output_dir", None)
    return name, manifest


# -- known answers: the hash rule pinned, so shards cannot move between versions ---------------
# Computed once from docs/output.md's rule (BLAKE2b, 8-byte digest, big-endian, mod N) with
# hashlib outside the project, and written out: source id -> (digest, shard of 4, of 7, of 10).
# Read little-endian the same digests would give other shards for every id but "photo 7.jpg".
KNOWN_SHARDS = {
    "2008_000008.jpg": ("181f0cf4a86d58d6", 2, 0, 0),    # docs/output.md's example
    "2007_000027.jpg": ("aa428a4d77025592", 2, 0, 8),
    "2012_004331.jpg": ("d9712eec591849da", 2, 4, 6),
    "img0.jpg": ("ec8e67466429df8a", 2, 5, 8),
    "img1.jpg": ("d72fabc7662eb67c", 0, 4, 6),
    "photo 7.jpg": ("25030002a7ddc885", 1, 0, 3),
    "café.jpg": ("4c878c1422d3091d", 1, 4, 9),              # UTF-8 bytes are hashed
    "x.jpg": ("c3534cdbcfa3fb90", 0, 2, 8),
}
KNOWN_COUNTS = (4, 7, 10)


class NamedVoc(Voc):
    """The VOC layout with the known-answer ids as file names."""

    def stem(self, index: int) -> str:
        return list(KNOWN_SHARDS)[index].removesuffix(".jpg")


def test_the_independent_rule_gives_the_known_answers():
    for source_id, (digest, *shards) in KNOWN_SHARDS.items():
        assert hashlib.blake2b(source_id.encode(), digest_size=8).hexdigest() == digest
        assert [blake2b_shard(source_id, n) for n in KNOWN_COUNTS] == shards, source_id


@pytest.mark.parametrize("column, num_shards", list(enumerate(KNOWN_COUNTS, start=1)))
def test_voc_examples_land_in_their_known_shards(tmp_path, column, num_shards):
    pictures = [Picture(16, 12, (Box(A, 1, 1, 8, 8),))] * len(KNOWN_SHARDS)
    layout = NamedVoc()
    options = layout.write(str(tmp_path / "data"), pictures)
    run(layout, options, tmp_path / "out", num_shards=num_shards)
    found = {}
    for shard, path in enumerate(shard_files(str(tmp_path / "out" / "data.record"), num_shards)):
        found.update(dict.fromkeys(source_ids(path), shard))
    assert found == {source_id: row[column] for source_id, row in KNOWN_SHARDS.items()}
