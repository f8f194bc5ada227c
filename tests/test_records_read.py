"""`tfrconv.read_samples` and `records cat/head` on records written by a small hand-made writer
(tests/recordmaker.py): known values back, and damaged records named by file and index."""

from __future__ import annotations

import hashlib
import json
import struct

import pytest
from recordmaker import good_features, image_bytes, write

import tfrconv
from tfrconv.cli import main
from tfrconv.errors import DataError


def _f32(value: float) -> float:
    """The float32 a record stores for `value`, as a plain float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def test_samples_carry_what_the_records_hold(tmp_path):
    image = image_bytes(64, 48)
    features = good_features("a.jpg", image=image)
    features["image/object/view"] = ("bytes", [b"Left", b"Frontal"])
    features["image/object/alpha"] = ("float", [0.5, -1.0])     # per object, not mapped
    features["image/custom"] = ("int", [7])                       # image level, not mapped
    path = write(tmp_path / "a.record", [features, good_features("b.jpg")])

    samples = list(tfrconv.read_samples(path))

    assert [s.source_id for s in samples] == ["a.jpg", "b.jpg"]
    first = samples[0]
    assert first.image_bytes == image and first.filename == "a.jpg"
    assert (first.width, first.height, first.normalized) == (64, 48, True)
    assert first.origin == f"{path}:0"
    assert [o.label for o in first.objects] == ["circle", "square"]
    assert [(o.xmin, o.ymin, o.xmax, o.ymax) for o in first.objects] == [
        (_f32(0.1), _f32(0.2), _f32(0.4), _f32(0.6)), (0.5, 0.25, _f32(0.9), 0.75)]
    assert [o.difficult for o in first.objects] == [0, 0]
    assert [o.pose for o in first.objects] == ["Left", "Frontal"]
    assert [o.extra for o in first.objects] == [{"image/object/alpha": 0.5},
                                                {"image/object/alpha": -1.0}]
    assert first.extra == {"image/custom": 7, "image/format": b"jpeg",
                           "image/key/sha256": hashlib.sha256(image).hexdigest().encode()}


def test_ids_without_text_are_named_by_the_label_map_beside_the_records(tmp_path):
    features = good_features()
    del features["image/object/class/text"]
    path = write(tmp_path / "ids.record", [features])
    assert [o.label for o in next(tfrconv.read_samples(path)).objects] == ["1", "2"]
    (tmp_path / "ids.label_map.pbtxt").write_text(
        "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    assert [o.label for o in next(tfrconv.read_samples(path)).objects] == ["cat", "dog"]
    other = tmp_path / "other.pbtxt"
    other.write_text("item { id: 1 name: 'x' }\nitem { id: 2 name: 'y' }\n")
    assert [o.label for o in next(tfrconv.read_samples(path, label_map=str(other))).objects] \
        == ["x", "y"]


def _damaged(tmp_path):
    """Three records; the middle one's payload has a flipped byte (its CRC fails)."""
    path = write(tmp_path / "bad.record", [good_features(f"{i}.jpg") for i in range(3)])
    target = tmp_path / "bad.record"
    data = bytearray(target.read_bytes())
    first_length = struct.unpack("<Q", data[:8])[0]
    data[16 + first_length + 12 + 40] ^= 0xFF
    target.write_bytes(bytes(data))
    return path


def test_a_damaged_record_is_named_by_file_and_index(tmp_path):
    path = _damaged(tmp_path)
    with pytest.raises(DataError) as caught:
        list(tfrconv.read_samples(path))
    assert str(caught.value).startswith(f"{path}: record 1 (offset ")
    assert "CRC" in str(caught.value)


def test_skip_salvages_the_rest(tmp_path, capsys):
    path = _damaged(tmp_path)
    assert [s.source_id for s in tfrconv.read_samples(path, on_error="skip")] == \
        ["0.jpg", "2.jpg"]
    assert f"skipped {path}: record 1" in capsys.readouterr().err


def test_a_truncated_file_and_uneven_lists(tmp_path, capsys):
    uneven = good_features("u.jpg")
    uneven["image/object/difficult"] = ("int", [0])
    path = write(tmp_path / "t.record", [good_features("0.jpg"), uneven,
                                         good_features("2.jpg")])
    with open(path, "ab") as fileobj:
        fileobj.write(b"\x05\x00\x00")                     # a torn record header
    with pytest.raises(DataError, match=r"record 1 .*difficult has 1 values for 2 boxes"):
        list(tfrconv.read_samples(path))
    assert [s.source_id for s in tfrconv.read_samples(path, on_error="skip")] == \
        ["0.jpg", "2.jpg"]
    err = capsys.readouterr().err
    assert "record 1" in err and "record 3" in err and "truncated" in err


def test_head_and_cat_show_one_line_per_example(tmp_path, capsys):
    path = write(tmp_path / "s.record", [good_features(f"{i}.jpg") for i in range(4)])
    assert main(["records", "head", path, "-n", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:0  0.jpg  jpeg 64x48  2 objects: circle, square",
        f"{path}:1  1.jpg  jpeg 64x48  2 objects: circle, square"]
    assert main(["records", "cat", path, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source_id"] for r in rows] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert rows[3]["classes"] == {"circle": 1, "square": 1} and rows[3]["index"] == 3


def test_cli_damaged_record_is_one_line(tmp_path, capsys):
    path = _damaged(tmp_path)
    assert main(["records", "cat", path]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}: record 1" in err and "--on-error skip" in err
