"""Two examples with the same source id, for every builtin format that can express it: an error
by default (nothing written), or with --on-duplicate-id skip the later one is left out and
counted. Formats whose items can never share an id are left out (datasets.py says why)."""

from __future__ import annotations

import pytest
from datasets import convert as run
from datasets import (
    duplicate_params,
    make,
    shard_files,
    snapshot,
    source_ids,
    standard_pictures,
    with_duplicate_id,
)

import tfrconv


@pytest.mark.parametrize("name", duplicate_params())
def test_a_repeated_source_id_is_an_error(tmp_path, name):
    layout, options = make(name, tmp_path / "data", with_duplicate_id(standard_pictures()))
    with pytest.raises(tfrconv.DataError, match="appears twice") as info:
        run(layout, options, tmp_path / "out")
    assert repr(layout.source_id(4)) in str(info.value) and "\n" not in str(info.value)
    assert snapshot(tmp_path / "out") == {}


@pytest.mark.parametrize("name", duplicate_params())
def test_skip_keeps_the_first_and_counts_the_rest(tmp_path, name):
    pictures = with_duplicate_id(standard_pictures())
    layout, options = make(name, tmp_path / "data", pictures)
    out = tmp_path / "out"
    summary = run(layout, options, out, num_shards=2, on_duplicate_id="skip")
    assert (summary.examples, summary.skipped_images) == (len(pictures) - 1, 1)
    assert summary.problems["duplicate_id"]["count"] == 1
    written = [i for record in layout.outputs(str(out)).values()
               for path in shard_files(record, 2) for i in source_ids(path)]
    assert sorted(written) == sorted(layout.expected(pictures, str(out), 2).source_id.values())
    assert written.count(layout.source_id(4)) == 1
