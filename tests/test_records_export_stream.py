"""`records export --to coco` streams: each instances JSON is written entry by entry from files,
with the text `json.dumps(indent=1)` gives, the image ids decided from every example, and no
example kept in memory.

Oracles: the stdlib's `json.dumps` for the document text, ids and categories written out by
hand, and tracemalloc's peak against the bytes of the images exported.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tracemalloc

import recordmaker
from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

import tfrconv
from tfrconv.records.export_coco import INFO, write_document

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8)
ENTRIES = st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=4), max_size=4)


@reaches("entries")
@given(ENTRIES.filter(bool), ENTRIES, ENTRIES)
@settings(max_examples=60, deadline=None)
def test_streamed_document_is_the_text_json_dumps_gives(images, annotations, categories):
    branch("entries")                    # images has entries; the others may be empty
    out = io.StringIO()
    write_document(out, iter(images), iter(annotations), categories)
    document = {"info": INFO, "licenses": [], "images": images, "annotations": annotations,
                "categories": categories}
    assert out.getvalue() == json.dumps(document, indent=1) + "\n"


def export(tmp_path, source_ids, *, files=1):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "label_map.pbtxt").write_text(
        "item { id: 1 name: 'circle' }\nitem { id: 4 name: 'square' }\n")
    per_file = [source_ids[i::files] for i in range(files)]
    names = ["train", "val"][:files]
    paths = [recordmaker.write(folder / f"{name}.record",
                               [recordmaker.good_features(sid) for sid in ids])
             for name, ids in zip(names, per_file)]
    tfrconv.export_records(paths, "coco", tmp_path / "out")
    documents = {}
    for name in names:
        with open(tmp_path / "out" / "annotations" / f"instances_{name}.json") as fileobj:
            documents[name] = json.load(fileobj)
    return documents


def image_ids(documents):
    return {split: [image["id"] for image in doc["images"]] for split, doc in documents.items()}


def test_distinct_whole_number_source_ids_are_the_image_ids(tmp_path):
    documents = export(tmp_path, ["42", "7", " 11", "0"], files=2)
    assert image_ids(documents) == {"train": [42, 11], "val": [7, 0]}
    annotations = documents["train"]["annotations"]
    assert [(a["id"], a["image_id"], a["category_id"]) for a in annotations] == \
        [(1, 42, 1), (2, 42, 4), (3, 11, 1), (4, 11, 4)]
    assert documents["val"]["categories"] == [
        {"id": 1, "name": "circle", "supercategory": ""},
        {"id": 4, "name": "square", "supercategory": ""}]


def test_a_repeated_number_numbers_all_images_in_record_order(tmp_path):
    documents = export(tmp_path, ["5", "9", "5"], files=2)     # train.record: 5, 5; val: 9
    assert image_ids(documents) == {"train": [1, 2], "val": [3]}
    assert [a["image_id"] for a in documents["train"]["annotations"]] == [1, 1, 2, 2]


def test_one_id_that_is_no_number_numbers_all_images(tmp_path):
    for source_ids in (["5", "x.jpg"], ["5", "1_000"], [str(2**70), "-3", "a"]):
        documents = export(tmp_path, source_ids)
        assert image_ids(documents) == {"train": list(range(1, len(source_ids) + 1))}
        for path in ("in", "out"):
            shutil.rmtree(tmp_path / path)


def test_numbers_beyond_64_bits_and_negative_ones_are_ids_too(tmp_path):
    documents = export(tmp_path, [str(2**70), "-3", str(2**70 + 1)])
    assert image_ids(documents) == {"train": [2**70, -3, 2**70 + 1]}


def test_no_example_stays_in_memory(tmp_path):
    """200 images of ~200 KB (40 MB): the export's Python allocations peak far below one
    tenth of that (the exporter once kept every sample, image bytes included, to the end)."""
    noise = os.urandom(200_000)
    examples = [recordmaker.good_features(f"{i}", image=noise[i:] + noise[:i])
                for i in range(200)]
    record = recordmaker.write(tmp_path / "train.record", examples)
    del examples
    tracemalloc.start()
    try:
        tfrconv.export_records(record, "coco", tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000
    with open(tmp_path / "out" / "annotations" / "instances_train.json") as fileobj:
        assert len(json.load(fileobj)["images"]) == 200
    assert not os.path.exists(tmp_path / "out" / ".coco-parts")
