"""COCO read as a stream (tfrconv.jsonstream and the streamed index of plugins/coco.py): the same
values as `json.loads`, spans that parse back to each element, and records byte for byte those
of the whole-file path (the oracle: the same conversion with streaming turned off)."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from reach import branch, reaches
from tfrconv_plugins import coco

import tfrconv
from tfrconv import DataError, jsonstream
from tfrconv.tfrecord import read_records

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) |
                      st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)


def streamed(path, names=("images", "annotations"), parse_float=None):
    """What `members` gives, lists read out, with every element's span."""
    found = {}
    for key, value in jsonstream.members(str(path), frozenset(names), parse_float):
        found[key] = list(value) if hasattr(value, "__next__") else value
    return found


@reaches("a list streamed", share=0.3)
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(st.sampled_from(["images", "annotations", "info", "x\u00e9"]),
                           st.lists(VALUES, max_size=6) | VALUES, max_size=4),
       indent=st.sampled_from([None, 1]), bom=st.booleans(), chunk=st.sampled_from([3, 64, 4096]),
       parse_float=st.sampled_from([None, str.encode]))
def test_members_give_what_json_loads_gives(tmp_path, monkeypatch, doc, indent, bom, chunk,
                                            parse_float):
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)      # many window refills
    data = json.dumps(doc, indent=indent, ensure_ascii=False).encode()
    path = tmp_path / "d.json"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    raw = path.read_bytes()
    found = streamed(path, parse_float=parse_float)
    assert list(found) == list(doc)
    for key, value in found.items():
        if key in ("images", "annotations") and isinstance(doc[key], list):
            branch("a list streamed")
            if parse_float is not None:       # the elements as json.loads with the same hook
                assert [element for element, _, _ in value] == [
                    json.loads(json.dumps(element), parse_float=parse_float)
                    for element in doc[key]]
                continue
            assert [element for element, _, _ in value] == doc[key]
            for element, start, end in value:
                assert json.loads(raw[start:end]) == element
                assert jsonstream.SpanReader(str(path)).read(start, end) == element
        else:
            assert value == doc[key]


@pytest.mark.parametrize("text", [
    b'{"images": [1, 2}', b'{"images": [1]} x', b'[1, 2]', b'', b'{"a": 1', b'{"a" 1}',
    b'{"images": [], "images": []}', b'{"a": "\xff"}', b'{"a": [1, 2] "b": 3}', b'{1: 2}',
    b'{"images": [1 2]}', b'{"a": 12'])
def test_anything_not_plainly_one_object_is_not_streamable(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_bytes(text)
    with pytest.raises(jsonstream.NotStreamable):
        streamed(path)


# -- the COCO index -------------------------------------------------------------------------
def write_jpeg(path, width, height, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=80)


def dataset(root, *, annotations_first=False, extra_images=(), extra_annotations=()):
    """Six images with unsorted annotations (polygons, a crowd RLE, a non-ASCII file name),
    an image without annotations, and categories last, as in COCO's own files."""
    images, annotations = [], []
    for index in range(6):
        name = f"{index:04d}{'é' if index == 3 else ''}.jpg"
        write_jpeg(os.path.join(root, "val2017", name), 32 + index, 24, index)
        images.append({"id": 100 + index, "file_name": name, "width": 32 + index, "height": 24})
    for number in range(14):
        image = 100 + (number * 3) % 5          # images 100-104; 105 stays empty
        x = 1 + number % 7
        segmentation = [[x, 2, x + 9, 2, x + 9, 11.5, x, 11]]
        if number == 4:
            segmentation = {"counts": [0, 24 * (32 + image - 100)], "size": [24, 32 + image - 100]}
        annotations.append({"id": 9000 - number, "image_id": image, "category_id": 1 + number % 3,
                            "iscrowd": int(number == 4), "area": 80.0 + number,
                            "bbox": [x, 2, 9, 9.5], "segmentation": segmentation})
    doc = {"info": {"year": 2017}, "images": images + list(extra_images),
           "annotations": annotations + list(extra_annotations),
           "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"},
                          {"id": 3, "name": "zebra"}]}
    if annotations_first:
        doc = {key: doc[key] for key in ("categories", "annotations", "info", "images")}
    path = os.path.join(root, "annotations", "instances_val2017.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fileobj:
        json.dump(doc, fileobj, ensure_ascii=False, indent=1)
    return path


def convert_both(path, out, monkeypatch, **options):
    """Records of the streamed path and of the whole-file path (stream_index turned off)."""
    results = []
    for streaming in (True, False):
        coco.INDEX.clear()
        with monkeypatch.context() as patch:
            if not streaming:
                patch.setattr(coco, "stream_index", lambda path, **_: None)
            target = os.path.join(out, f"streamed-{streaming}", "c.record")
            tfrconv.convert("coco", annotations_file=path, output=target, workers=1, **options)
            results.append(list(read_records(target)))
    coco.INDEX.clear()
    return results


@pytest.mark.parametrize("masks", [False, True])
@pytest.mark.parametrize("annotations_first", [False, True])
def test_streamed_records_equal_whole_file_records(tmp_path, monkeypatch, masks,
                                                   annotations_first):
    path = dataset(str(tmp_path / "coco"), annotations_first=annotations_first)
    streamed_records, whole_records = convert_both(path, str(tmp_path), monkeypatch,
                                                   include_masks=masks)
    assert len(streamed_records) == 6
    assert streamed_records == whole_records


def test_streamed_index_keeps_spans_not_parsed_annotations(tmp_path):
    path = dataset(str(tmp_path / "coco"))
    index = coco.stream_index(path)
    assert isinstance(index.items, coco.StreamedItems)
    items = list(index.items)
    assert all(isinstance(item, coco.CocoRef) for item in items)
    with open(path, "rb") as fileobj:
        raw = fileobj.read()
    first = json.loads(raw[slice(*items[0].annotation_spans[0])])
    assert first["image_id"] == 100 and "segmentation" in first
    # File order kept within an image: ids fall as the annotations go on.
    ids = [json.loads(raw[start:end])["id"] for start, end in items[1].annotation_spans]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 2
    assert items[5].annotation_spans == ()


def lost_annotation(number, image_id):
    return {"id": number, "image_id": image_id, "category_id": 1, "bbox": [1, 1, 2, 2]}


@pytest.mark.parametrize("lost, shown", [
    ([lost_annotation(1, 999), lost_annotation(2, None), [1, 2], lost_annotation(3, 998),
      lost_annotation(4, 999)], "annotation 2 has no usable image_id (None); annotations[16] "
     "is a list; annotation 1 has image_id 999"),
    # Grouped by image_id in first-seen order, as a dict of lists gives them.
    ([lost_annotation(1, 999), lost_annotation(3, 998), lost_annotation(4, 999),
      lost_annotation(5, 997)], "annotation 1 has image_id 999, which is not in images[]; "
     "annotation 4 has image_id 999, which is not in images[]; annotation 3 has image_id 998"),
])
def test_skip_empty_and_unmatched_report_as_before(tmp_path, monkeypatch, lost, shown):
    path = dataset(str(tmp_path / "coco"), extra_annotations=lost)
    opts = tfrconv.Options({o.name: o.default for o in coco.OPTIONS} | {
        "annotations_file": path, "skip_empty": True})
    answers = []
    for streaming in (True, False):
        coco.INDEX.clear()
        with monkeypatch.context() as patch:
            if not streaming:
                patch.setattr(coco, "stream_index", lambda path, **_: None)
            items = coco.list_items(opts)
            listed = list(items)
            assert len(items) == len(listed) == 5 + 1          # the empty image left out
            with pytest.raises(DataError) as error:
                coco.read_item(listed[-1], opts)
            answers.append((str(error.value), [coco.read_item(i, opts) for i in listed[:-1]]))
    assert answers[0] == answers[1]
    assert f"{len(lost)} annotations belong to no image of images[]: {shown}" in answers[0][0]


def test_a_broken_file_is_still_located(tmp_path):
    path = dataset(str(tmp_path / "coco"))
    with open(path, "rb+") as fileobj:
        fileobj.truncate(os.path.getsize(path) - 40)
    coco.INDEX.clear()
    with pytest.raises(DataError, match=r"not valid JSON.*truncated"):
        tfrconv.convert("coco", annotations_file=path, output=str(tmp_path / "x.record"))


# -- boxes without parsing polygons ------------------------------------------------------------
@pytest.mark.parametrize("text, cut", [
    (b'{"segmentation": [[1, 2.5, -3e-2, 4E+1, 5, 6]], "bbox": [1, 2, 3, 4]}', True),
    (b'{"id": 1,"segmentation":[[1,2,3,4,5,6],[7,8,9,10,11,12]]}', True),
    (b'{"segmentation" :\n [ [1, 2, 3, 4, 5, 6] ] , "area": 2}', True),
    (b'{"segmentation": [], "area": 2}', True),
    # Not a list of number lists: left whole.
    (b'{"segmentation": [[1, 2], [null]], "area": 2}', False),
    (b'{"segmentation": [[1, 2], "x"], "area": 2}', False),
    (b'{"segmentation": {"counts": [1, 2], "size": [1, 3]}}', False),
    (b'{"segmentation": "[[1]]"}', False),
    # Said twice: left whole. (Inside a string its quotes are escaped: not said again.)
    (b'{"segmentation": [[1, 2, 3]], "x": {"segmentation": [[4]]}}', False),
    (b'{"segmentation": [[1, 2, 3]], "note": "\\"segmentation\\": [[4]]"}', True),
])
def test_polygons_cut_only_when_sure(text, cut):
    result = coco.without_polygons(text)
    if not cut:
        assert result is text
        return
    expected = json.loads(text)
    expected["segmentation"] = []
    assert json.loads(result) == expected


def test_a_nested_segmentation_key_is_parsed_whole(tmp_path):
    """Cut, but not the annotation's own: read_item parses the original text instead."""
    path = dataset(str(tmp_path / "coco"), extra_images=[
        {"id": 200, "file_name": "0000.jpg", "width": 32, "height": 24}], extra_annotations=[
        {"id": 1, "image_id": 200, "category_id": 1, "bbox": [1, 1, 5, 5],
         "attributes": {"segmentation": [[1, 2, 3, 4, 5, 6]]}}])
    index = coco.stream_index(path)
    item = list(index.items)[-1]
    resolved = coco.resolve(item, path, with_masks=False)
    assert resolved.annotations[0]["attributes"] == {"segmentation": [[1, 2, 3, 4, 5, 6]]}
    assert resolved.annotations == coco.resolve(item, path, with_masks=True).annotations


@reaches("parsed")
@settings(max_examples=150, deadline=None)
@given(segmentation=VALUES | st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False)
                                                | st.integers(-10**6, 10**6), max_size=8),
                                       max_size=3),
       rest=st.dictionaries(st.sampled_from(["id", "bbox", "area", "note"]), VALUES, max_size=3),
       indent=st.sampled_from([None, 1]))
def test_a_cut_annotation_parses_as_the_whole_one_without_its_polygons(segmentation, rest,
                                                                       indent):
    annotation = {"segmentation": segmentation, **rest}
    text = json.dumps(annotation, indent=indent).encode()
    result = coco.without_polygons(text)
    expected = dict(annotation)
    if result is not text:
        branch("cut")
        expected["segmentation"] = []
    assert json.loads(result) == expected
    branch("parsed")


# -- boxes from the index's own parse (CocoBoxes) ----------------------------------------------
# Values a field may be broken to: not plain (bool, str, null, a list, an int beyond floats) or
# plain but odd (0, negative, huge, a float id).
ODD_VALUES = st.sampled_from([None, True, False, "1", "", " ", "a\x00b", [], [1, 2, 3],
                              [1, 2, 3, "4"], [1, 2, 3, True], [1, 2, 3, 10**400], 0, 1, 2, -1,
                              1.0, 2.5, 10**400, 17, 18, {"a": 1}])
NOT_PLAIN = st.sampled_from([None, True, [], {"a": 1}])      # in any field


@st.composite
def box_documents(draw):
    """A COCO document of plain images and annotations, with a field removed or changed to a
    value that is not plain in one image or annotation, and to an odd value in about a quarter
    of the others."""
    images, annotations = [], []
    for number in range(draw(st.integers(3, 6))):
        images.append({"id": number + 1, "file_name": f"{number}.jpg", "width": 40,
                       "height": 30})
    for number in range(draw(st.integers(0, 10))):
        annotations.append({
            "id": 500 + number, "image_id": draw(st.integers(1, len(images))),
            "category_id": draw(st.sampled_from([17, 18])),
            "iscrowd": draw(st.sampled_from([0, 1])),
            "area": draw(st.floats(0, 1200, allow_nan=False) | st.integers(0, 1200)),
            "bbox": [draw(st.floats(-5, 45, allow_nan=False) | st.integers(-5, 45))
                     for _ in range(4)],
            "segmentation": [[1, 1, 9, 1, 9, 9]]})
    entries = [(image, ["id", "file_name", "width", "height"]) for image in images] + \
        [(annotation, ["category_id", "iscrowd", "area", "bbox", "image_id", "id"])
         for annotation in annotations]
    first = draw(st.integers(0, len(entries) - 1))
    for number, (entry, keys) in enumerate(entries):
        if number == first or draw(st.integers(0, 3)) == 0:
            key = draw(st.sampled_from(keys))
            if draw(st.integers(0, 3)) == 0:
                entry.pop(key)
            else:
                entry[key] = copy.deepcopy(draw(NOT_PLAIN if number == first else ODD_VALUES))
    if annotations and draw(st.integers(0, 9)) == 0:         # not an object at all
        annotations[draw(st.integers(0, len(annotations) - 1))] = draw(ODD_VALUES)
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}]}


def read_all(path, skip_empty, streaming, monkeypatch):
    """read_item's answer (a Sample or the DataError's text) for each listed item."""
    opts = tfrconv.Options({o.name: o.default for o in coco.OPTIONS} | {
        "annotations_file": str(path), "skip_empty": skip_empty})
    coco.INDEX.clear()
    answers, kinds = [], set()
    with monkeypatch.context() as patch:
        if not streaming:
            patch.setattr(coco, "stream_index", lambda path, **_: None)
        for item in coco.list_items(opts):
            kinds.add(type(item).__name__)
            try:
                answers.append(coco.read_item(item, opts))
            except DataError as error:
                answers.append(str(error))
    coco.INDEX.clear()
    return answers, kinds


@reaches("boxes and references side by side")
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=box_documents(), skip_empty=st.booleans())
def test_boxes_from_the_index_read_as_the_whole_file_reads_them(tmp_path, monkeypatch, doc,
                                                               skip_empty):
    """Oracle: the whole-file path (json.loads of all of it, read_item's checks on each
    annotation), which never builds CocoBoxes."""
    path = tmp_path / "annotations" / "instances_val2017.json"
    path.parent.mkdir(exist_ok=True)
    (tmp_path / "val2017").mkdir(exist_ok=True)
    path.write_text(json.dumps(doc))
    streamed_answers, kinds = read_all(path, skip_empty, True, monkeypatch)
    whole_answers, _ = read_all(path, skip_empty, False, monkeypatch)
    assert streamed_answers == whole_answers
    if {"CocoBoxes", "CocoRef"} <= kinds:
        branch("boxes and references side by side")
    if any(isinstance(answer, str) for answer in streamed_answers):
        branch("an image rejected")


def test_masks_runs_never_take_boxes_from_the_index(tmp_path):
    path = dataset(str(tmp_path / "coco"))
    kinds = []
    for masks in (False, True):
        opts = tfrconv.Options({o.name: o.default for o in coco.OPTIONS} | {
            "annotations_file": path, "include_masks": masks})
        coco.INDEX.clear()
        kinds.append({type(item) for item in coco.list_items(opts)})
    assert coco.INDEX.load(path, include_masks=True).items.plain is None   # no columns kept
    coco.INDEX.clear()
    assert kinds == [{coco.CocoBoxes}, {coco.CocoRef}]
