"""`records diff` / `tfrconv.records.diff.diff_records`: hand-made record sets whose differences
are known, the exit status, and the JSON."""

from __future__ import annotations

import json

from recordmaker import good_features, image_bytes, write

from tfrconv.cli import main
from tfrconv.records.diff import diff_records, iou, pair_boxes


def features(source_id: str, colour=(1, 2, 3)) -> dict:
    return good_features(source_id, image=image_bytes(64, 48, colour))


def test_equal_sets_in_another_order_and_sharding(tmp_path, capsys):
    examples = [features(f"{i}.jpg", (i, 0, 0)) for i in range(5)]
    a = write(tmp_path / "a.record", examples)
    write(tmp_path / "b.record-00000-of-00002", examples[3:])
    write(tmp_path / "b.record-00001-of-00002", examples[:3])
    result = diff_records(a, str(tmp_path / "b.record-*"))
    assert result.equal and result.unchanged == 5
    assert main(["records", "diff", a, str(tmp_path / "b.record-*")]) == 0
    assert capsys.readouterr().out.strip() == (
        "equal: A has 5 examples, B 5; 5 unchanged, 0 changed, 0 added, 0 removed "
        "(matched by sha256)")


def test_added_removed_and_changed_with_how(tmp_path, capsys):
    kept, gone, new = features("kept.jpg", (1, 1, 1)), features("gone.jpg", (2, 2, 2)), \
        features("new.jpg", (3, 3, 3))
    moved = dict(kept)
    # The circle moves right by 0.1 of 64 px (6.4 px) and becomes a square; the square stays.
    moved["image/object/bbox/xmin"] = ("float", [0.2, 0.5])
    moved["image/object/bbox/xmax"] = ("float", [0.5, 0.9])
    moved["image/object/class/text"] = ("bytes", [b"square", b"square"])
    moved["image/object/class/label"] = ("int", [2, 2])
    moved["image/filename"] = ("bytes", [b"renamed.jpg"])
    a = write(tmp_path / "a.record", [kept, gone])
    b = write(tmp_path / "b.record", [new, moved])

    result = diff_records(a, b)

    assert not result.equal
    assert [e["source_id"] for e in result.removed] == ["gone.jpg"]
    assert [e["source_id"] for e in result.added] == ["new.jpg"]
    (change,) = result.changed
    assert change.source_id == "kept.jpg"
    assert change.features == ["image/filename", "image/object/bbox/xmax",
                               "image/object/bbox/xmin", "image/object/class/label",
                               "image/object/class/text"]
    assert abs(change.boxes_moved - 6.4) < 1e-4 and change.moved_unit == "px"
    assert change.classes == {"circle→square": 1}
    assert (change.boxes_added, change.boxes_removed) == (0, 0)

    assert main(["records", "diff", a, b, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"examples_a": 2, "examples_b": 2, "unchanged": 0,
                                 "changed": 1, "added": 1, "removed": 1,
                                 "duplicate_keys_a": 0, "duplicate_keys_b": 0}
    assert report["changed"][0]["classes"] == {"circle→square": 1}


def test_matching_by_source_id_sees_a_new_image(tmp_path):
    a = write(tmp_path / "a.record", [features("x.jpg", (1, 1, 1))])
    b = write(tmp_path / "b.record", [features("x.jpg", (9, 9, 9))])
    by_image = diff_records(a, b)
    assert (len(by_image.added), len(by_image.removed)) == (1, 1)
    (change,) = diff_records(a, b, match="source-id").changed
    assert change.features == ["image/encoded", "image/key/sha256"]


def test_boxes_added_and_removed():
    a = [(0.0, 0.0, 0.5, 0.5), (0.6, 0.6, 0.9, 0.9)]
    b = [(0.0, 0.0, 0.5, 0.4)]
    assert pair_boxes(a, b) == [(0, 0)]
    assert abs(iou(a[0], b[0]) - 0.8) < 1e-9
    assert iou(a[1], b[0]) == 0.0
