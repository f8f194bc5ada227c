"""Sharding, for every builtin format: the OD API's shard names, every example in exactly one
shard (the one docs/output.md's rule gives, computed here independently), in input order, and
the same bytes whatever the number of workers or the compression."""

from __future__ import annotations

import json
import os

import pytest
from datasets import (
    FORMATS,
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
