"""Atomic publish, for every builtin format: a run that fails leaves nothing under the output's
names and no temporary file; an existing output is replaced only by a run that succeeds."""

from __future__ import annotations

import pytest
from datasets import (
    FORMATS,
    expected_files,
    make,
    shard_files,
    snapshot,
    source_ids,
    standard_pictures,
    with_missing_image,
)
from datasets import convert as run

import tfrconv


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("name", FORMATS)
def test_a_failed_run_leaves_nothing_behind(tmp_path, name, workers):
    # The image of the second picture is missing: the run fails after writing others' records.
    layout, options = make(name, tmp_path / "data", with_missing_image(standard_pictures()))
    out = tmp_path / "out"
    with pytest.raises(tfrconv.DataError):
        run(layout, options, out, num_shards=2, workers=workers)
    assert snapshot(out) == {}


@pytest.mark.parametrize("name", FORMATS)
def test_an_existing_output_is_replaced_only_on_success(tmp_path, name):
    pictures = standard_pictures()
    out = tmp_path / "out"
    layout, options = make(name, tmp_path / "good", pictures)
    run(layout, options, out, num_shards=2)
    before = snapshot(out)
    assert sorted(before) == expected_files(layout.expected(pictures, str(out), 2), 2)

    broken = with_missing_image(pictures)
    layout, options = make(name, tmp_path / "broken", broken)
    with pytest.raises(tfrconv.DataError):
        run(layout, options, out, num_shards=2)
    assert snapshot(out) == before                  # untouched, and no temporary file

    run(layout, options, out, num_shards=2, on_missing_image="skip")
    after = snapshot(out)
    assert sorted(after) == sorted(before)          # the same names, nothing else
    expected = layout.expected(broken, str(out), 2)
    written = sorted(i for record in expected.outputs.values()
                     for path in shard_files(record, 2) for i in source_ids(path))
    assert written == sorted(expected.source_id.values())
    assert len(written) == len(pictures) - 1
