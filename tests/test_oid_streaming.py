"""Open Images streamed: the CSVs in ImageID order are read as they stream, out of order they
are sorted (in memory, or spilled to temporary files), and every way gives the records the
in-memory index gave before (their sha256, written out below)."""

from __future__ import annotations

import glob
import hashlib
import os

import pytest
from oid_orders import BOXES, LABELS, interleaved, write_set

import tfrconv

# sha256 of shards 0..2 as tfrconv wrote them with its in-memory index (pandas, one columnar
# index of every row), for the set in oid_orders.py, in both row orders.
BEFORE = {
    False: ["964ea71cf9fae5b9419ada77ba1251aaf21ca52822d9e220afdae76eafd8d3d1",
            "2428aa5911e430bb90a1e8de9b869701e7e27f854a8dcff9314873727e8378e3",
            "0420207bed744aca13c0ce92a427decb98c7f27fb4975948b68de612879be65e"],
    True: ["964ea71cf9fae5b9419ada77ba1251aaf21ca52822d9e220afdae76eafd8d3d1",        # only
           "2428aa5911e430bb90a1e8de9b869701e7e27f854a8dcff9314873727e8378e3",        # the
           "f1dccf44893de138849f536732f5e892fdce76af4bb9379546277676a13a05ea"],       # annotated
}
COUNTS = {False: (9, 10, 2), True: (8, 10, 2)}        # examples, objects, skipped images

ORDERS = {"sorted": (BOXES, LABELS), "interleaved": (interleaved(BOXES), interleaved(LABELS))}


def shard_hashes(output: str) -> list[str]:
    return [hashlib.sha256(open(path, "rb").read()).hexdigest()
            for path in sorted(glob.glob(output + "-*-of-*"))]


def reader_options(options: dict, annotated_only: bool):
    """The plugin's Options for write_set's files (no class descriptions)."""
    from tfrconv.formats import Options

    return Options({"annotations_csv": options["annotations_csv"],
                    "images_dir": options["images_dir"],
                    "image_labels_csv": options["image_labels_csv"],
                    "class_descriptions": None, "annotated_only": annotated_only,
                    "unknown_attributes": "keep"})


@pytest.fixture(params=["sorted", "interleaved"])
def oid_set(request, tmp_path):
    boxes, labels = ORDERS[request.param]
    return request.param, write_set(tmp_path, boxes, labels), tmp_path


@pytest.mark.parametrize("annotated_only", [False, True])
@pytest.mark.parametrize("limit", ["default", 2])
def test_every_row_order_and_spill_gives_the_records_of_before(oid_set, limit, annotated_only,
                                                                monkeypatch):
    from tfrconv_plugins import oid

    order, options, root = oid_set
    if limit != "default":
        monkeypatch.setattr(oid, "SPILL_LIMIT", limit)
    output = str(root / "out" / "oid.record")
    summary = tfrconv.convert("oid", output=output, annotated_only=annotated_only, **options)
    assert (summary.examples, summary.objects, summary.skipped_images) == \
        COUNTS[annotated_only]
    assert shard_hashes(output) == BEFORE[annotated_only]
    index = oid._cache["index"]
    # In order: streamed from the file, nothing sorted; else sorted, past 2 rows on disk.
    for source in index.sources:
        if order == "sorted":
            assert source.sorted is None
        else:
            assert source.sorted.spilled == (limit == 2)
    if not annotated_only:
        assert index.files.spilled == (limit == 2)            # 11 image files


def test_spilled_rows_feed_forked_workers(tmp_path, monkeypatch):
    """Workers fork from the process that holds the run files; one exiting removes none."""
    from tfrconv_plugins import oid

    monkeypatch.setattr(oid, "SPILL_LIMIT", 3)
    options = write_set(tmp_path, interleaved(BOXES), interleaved(LABELS))
    output = str(tmp_path / "out" / "oid.record")
    tfrconv.convert("oid", output=output, **{**options, "workers": 2})
    assert shard_hashes(output) == BEFORE[False]
    folder = os.path.dirname(oid._cache["index"].sources[0].sorted._runs[0])
    assert os.path.isdir(folder)                 # the workers have exited: still there
    again = str(tmp_path / "again" / "oid.record")
    tfrconv.convert("oid", output=again, **options)               # the cached index, reread
    assert shard_hashes(again) == BEFORE[False]


def test_items_count_every_image_once(tmp_path, monkeypatch):
    from tfrconv_plugins import oid

    monkeypatch.setattr(oid, "SPILL_LIMIT", 2)
    monkeypatch.setattr(oid._ImageCount, "BATCH", 3)        # counted in folded batches too
    options = write_set(tmp_path, interleaved(BOXES), interleaved(LABELS))
    opts = reader_options(options, annotated_only=False)
    items = oid.list_items(opts)
    ids = [item[0] for item in items]
    # 11 files (00cd twice) and dead0000beef0000, which has rows and no file
    assert ids == sorted({"000002b66c9c498e", "0a1b2c3d4e5f6789", "ffee0011aabbccdd",
                          "00000000000000ab", "img_7", "00cd", "b0b0", "c0ffee00c0ffee00",
                          "Zed", "abc", "dead0000beef0000"})
    assert len(items) == len(ids)
    assert [item[0] for item in items] == ids                 # iterable again, same order


def test_classes_count_rows_and_name_the_first_line(tmp_path):
    from tfrconv_plugins import oid

    options = write_set(tmp_path, interleaved(BOXES), interleaved(LABELS))
    opts = reader_options(options, annotated_only=True)
    boxes = options["annotations_csv"]
    # interleaved boxes, from line 2: img_7 (person), dead0000beef0000 (car), b0b0 (car), Zed
    # (cat), 0a1b2c3d4e5f6789 (dog), ...; rows: boxes and image-level labels together
    assert list(oid.classes(opts).items()) == [
        ("/m/01g317", f"6 rows, first {boxes}:2"),
        ("/m/0k4j", f"7 rows, first {boxes}:3"),
        ("/m/01yrx", f"4 rows, first {boxes}:5"),
        ("/m/0bt9lr", f"3 rows, first {boxes}:6"),
    ]
