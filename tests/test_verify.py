"""`tfrconv verify`: one deliberately broken record per class of problem, plus clean files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from recordmaker import LABEL_MAP, good_features, image_bytes, mask_png, write

from tfrconv.cli import main
from tfrconv.labelmap import parse_label_map
from tfrconv.verify import verify_records

LM = parse_label_map(LABEL_MAP, source="test.pbtxt")


def verify(path, label_map=LM, **kwargs):
    return verify_records(str(path), label_map=label_map, label_map_origin="test", **kwargs)


def kinds(result, severity="error"):
    return {p["kind"] for p in result["problems"] if p["severity"] == severity}


def messages(result):
    return " | ".join(p["message"] for p in result["problems"])


def test_clean_record_is_ok(tmp_path, capsys):
    path = write(tmp_path / "ok.record", [good_features("a.jpg"), good_features("b.jpg")])
    result = verify(path)
    assert result["ok"] and result["errors"] == 0 and result["warnings"] == 0, result
    assert result["examples"] == 2 and result["objects"] == 4
    (tmp_path / "lm.pbtxt").write_text(LABEL_MAP)
    assert main(["verify", path, "--label-map", str(tmp_path / "lm.pbtxt")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("OK: ")


def _set(key, kind, values):
    def change(features):
        features[key] = (kind, values)
    return change


def _drop(*keys):
    def change(features):
        for key in keys:
            features.pop(key, None)
    return change


def _replace_image(data):
    def change(features):
        features["image/encoded"] = ("bytes", [data])
        features["image/key/sha256"] = ("bytes", [hashlib.sha256(data).hexdigest().encode()])
    return change


BROKEN = {
    # name: (change, problem kind, words the message must contain)
    "height stored as float": (_set("image/height", "float", [48.0]), "type",
                               "Data types don't match"),
    "label stored as float": (_set("image/object/class/label", "float", [1.0, 2.0]), "type",
                              "decoder parses int64"),
    "format stored as int": (_set("image/format", "int", [1]), "type", "image/format"),
    "two source ids": (_set("image/source_id", "bytes", [b"a", b"b"]), "type",
                       "exactly one"),
    "undecodable image": (_replace_image(b"\xff\xd8\xff\xe0" + b"\x00" * 40), "image",
                          "does not decode"),
    "no image": (_drop("image/encoded"), "image", "no image/encoded"),
    "raw format on a jpeg": (_set("image/format", "bytes", [b"raw"]), "image", "raw"),
    "stored size differs": (_set("image/width", "int", [100]), "size", "48 x 100"),
    "sha256 of other bytes": (_set("image/key/sha256", "bytes", [b"0" * 64]), "sha256",
                              "hash to"),
    "box outside 0..1": (_set("image/object/bbox/xmax", "float", [1.25, 0.9]), "box",
                         "outside [0, 1]"),
    "box in pixels": (_set("image/object/bbox/ymax", "float", [30.0, 40.0]), "box",
                      "ymax=30"),
    "box not ordered": (_set("image/object/bbox/xmin", "float", [0.5, 0.5]), "box",
                        "xmin 0.5 >= xmax 0.4"),
    "box with NaN": (_set("image/object/bbox/ymin", "float", [float("nan"), 0.25]), "box",
                     "NaN"),
    "box lists differ": (_set("image/object/bbox/ymin", "float", [0.2]), "lengths",
                         "differ in length"),
    "labels shorter than boxes": (_set("image/object/class/label", "int", [1]), "lengths",
                                  "image/object/class/label has 1 values for 2 boxes"),
    "difficult shorter than boxes": (_set("image/object/difficult", "int", [0, 0, 0]),
                                     "lengths", "difficult has 3 values"),
    "class text not in label map": (_set("image/object/class/text", "bytes",
                                         [b"circle", b"Square"]), "class",
                                    "'Square' is not in the label map"),
    "text and label disagree": (_set("image/object/class/label", "int", [2, 2]), "class",
                                "'circle' is id 1 in the label map, but its label says 2"),
    "empty class text": (_set("image/object/class/text", "bytes", [b"", b"square"]), "class",
                         "empty"),
    "label outside label map": (lambda f: (f.pop("image/object/class/text"),
                                           f.update({"image/object/class/label":
                                                     ("int", [1, 7])})),
                                "class", "label 7 is not in the label map"),
    "label 0": (lambda f: (f.pop("image/object/class/text"),
                           f.update({"image/object/class/label": ("int", [0, 1])})),
                "class", "below 1"),
    "boxes without class": (_drop("image/object/class/text", "image/object/class/label"),
                            "class", "neither"),
    "keypoints x and y differ": (lambda f: f.update({
        "image/object/keypoint/x": ("float", [0.1, 0.2, 0.3, 0.4]),
        "image/object/keypoint/y": ("float", [0.1, 0.2, 0.3])}), "lengths", "4 x and 3 y"),
    "png mask of the wrong size": (_set("image/object/mask", "bytes",
                                        [mask_png(64, 48), mask_png(32, 32)]), "mask",
                                   "#1 is 32 x 32"),
    "one png mask for two boxes": (_set("image/object/mask", "bytes", [mask_png(64, 48)]),
                                   "mask", "1 PNG mask for 2 boxes"),
    "numerical masks of the wrong size": (_set("image/object/mask", "float", [1.0] * 100),
                                          "mask", "need 6144"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_record_is_reported(tmp_path, name):
    change, kind, words = BROKEN[name]
    broken = good_features("bad.jpg")
    change(broken)
    path = write(tmp_path / "x.record", [good_features("good.jpg"), broken])
    result = verify(path)
    assert not result["ok"]
    assert kind in kinds(result), (name, result["problems"])
    problem = next(p for p in result["problems"] if p["kind"] == kind)
    assert problem["record"] == 1 and problem["file"] == path
    assert problem["source_id"] == ("bad.jpg" if name != "two source ids" else "a")
    assert words in messages(result), (name, messages(result))
    # the clean record before it is not blamed
    assert all(p["record"] != 0 for p in result["problems"] if p["severity"] == "error")


def test_bit_flip_is_reported_and_reading_goes_on(tmp_path):
    bad_box = good_features("third.jpg")
    bad_box["image/object/bbox/xmax"] = ("float", [1.5, 0.9])
    path = write(tmp_path / "x.record", [good_features("a.jpg"), good_features("b.jpg"), bad_box])
    data = bytearray(Path(path).read_bytes())
    first_len = int.from_bytes(data[:8], "little")
    data[16 + first_len + 12 + 100] ^= 0x04            # a bit inside record 1's payload
    Path(path).write_bytes(bytes(data))
    result = verify(path)
    crc = [p for p in result["problems"] if p["kind"] == "crc"]
    assert len(crc) == 1 and crc[0]["record"] == 1 and "CRC" in crc[0]["message"]
    # record 2 is still read and its own problem found
    assert any(p["kind"] == "box" and p["record"] == 2 for p in result["problems"])


def test_truncated_file_is_reported_and_the_next_file_checked(tmp_path, capsys):
    first = write(tmp_path / "a.record-00000-of-00002", [good_features("a.jpg"),
                                                         good_features("b.jpg")])
    write(tmp_path / "a.record-00001-of-00002", [good_features("c.jpg")])
    Path(first).write_bytes(Path(first).read_bytes()[:-30])
    result = verify(tmp_path / "a.record-*")
    assert result["examples"] == 2                    # a.jpg, then c.jpg from the next file
    crc = [p for p in result["problems"] if p["kind"] == "crc"]
    assert len(crc) == 1 and crc[0]["record"] == 1 and "truncated" in crc[0]["message"]
    assert len(result["files"]) == 2 and result["files"][1]["records"] == 1
    # on the command line: a report, exit 1, no traceback
    assert main(["verify", str(tmp_path / "a.record-*")]) == 1
    captured = capsys.readouterr()
    assert "truncated" in captured.out and "Traceback" not in captured.err
    assert captured.out.strip().splitlines()[-1].startswith("FAILED")


def test_not_a_record_file(tmp_path):
    path = tmp_path / "notes.record"
    path.write_text("this is not a TFRecord file at all, just text\n")
    result = verify(path)
    assert kinds(result) == {"crc"} and "not a TFRecord file" in messages(result)


def test_payload_that_is_not_an_example(tmp_path):
    path = write(tmp_path / "x.record", [b"\xff\xff\xff\xff garbage", good_features()])
    result = verify(path)
    assert "parse" in kinds(result) and result["examples"] == 2


def test_warnings_do_not_fail_unless_strict(tmp_path, capsys):
    rotated = good_features("r.jpg", image=image_bytes(exif_orientation=6))
    no_sha = good_features("r.jpg")                  # also a duplicate source id
    del no_sha["image/key/sha256"]
    path = write(tmp_path / "x.record", [rotated, no_sha])
    result = verify(path)
    assert result["ok"] and result["errors"] == 0
    assert kinds(result, "warning") == {"exif", "source_id", "missing_field"}
    lm = tmp_path / "lm.pbtxt"
    lm.write_text(LABEL_MAP)
    assert main(["verify", path, "--label-map", str(lm)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("OK")
    assert main(["verify", path, "--label-map", str(lm), "--strict"]) == 1


def test_too_many_boxes_warns(tmp_path):
    many = good_features()
    n = 5
    for key, value in (("xmin", 0.1), ("ymin", 0.1), ("xmax", 0.2), ("ymax", 0.2)):
        many[f"image/object/bbox/{key}"] = ("float", [value] * n)
    many["image/object/class/text"] = ("bytes", [b"circle"] * n)
    many["image/object/class/label"] = ("int", [1] * n)
    many["image/object/difficult"] = ("int", [0] * n)
    result = verify(write(tmp_path / "x.record", [many]), max_boxes=3)
    assert kinds(result, "warning") == {"max_boxes"} and result["ok"]


def test_json_report(tmp_path, capsys):
    broken = good_features("bad.jpg")
    broken["image/object/bbox/xmax"] = ("float", [1.5, 0.9])
    path = write(tmp_path / "x.record", [broken])
    lm = tmp_path / "lm.pbtxt"
    lm.write_text(LABEL_MAP)
    assert main(["verify", path, "--label-map", str(lm), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["counts"] == {"box": 1}
    problem = report["problems"][0]
    assert (problem["file"], problem["record"], problem["source_id"]) == (path, 0, "bad.jpg")


def test_label_map_beside_records_is_used(tmp_path, voc_copy, capsys):
    out = tmp_path / "out" / "val.record"
    assert main(["voc", "--data-dir", str(voc_copy), "--set", "val", "--output", str(out),
                 "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("OK") and "val.label_map.pbtxt" in line
    # a label map that lacks a class of the records: every such box is reported
    (tmp_path / "small.pbtxt").write_text("item { id: 1 name: 'circle' }\n")
    assert main(["verify", str(out), "--label-map", str(tmp_path / "small.pbtxt")]) == 1
    assert "not in the label map" in capsys.readouterr().out


def test_a_label_map_the_odapi_refuses_is_an_error(tmp_path, capsys):
    path = write(tmp_path / "x.record", [good_features()])
    lm = tmp_path / "bad.pbtxt"
    lm.write_text("item { id: 0 name: 'circle' }\nitem { id: 2 name: 'square' }\n")
    assert main(["verify", path, "--label-map", str(lm)]) == 1
    out = capsys.readouterr().out
    assert "refuse" in out and "id 0" in out


def test_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nothing-*.record")]) == 2
    assert "no record files match" in capsys.readouterr().err


def test_tensorflow_confirms_what_verify_accepts(tmp_path):
    """A record verify calls clean parses and decodes with the OD API decoder's spec."""
    from odapi import parse_records

    path = write(tmp_path / "ok.record", [good_features()])
    assert verify(path)["ok"]
    parsed = parse_records(path)
    assert parsed[0]["image/object/class/text"].tolist() == [b"circle", b"square"]


def test_tensorflow_parse_is_what_rejects_wrong_types():
    """The type check is TensorFlow's own parse with the decoder spec, not only ours."""
    from tfrconv.example import serialize
    from tfrconv.features import decode_typed
    from tfrconv.verify import Verifier

    broken = good_features()
    broken["image/object/class/label"] = ("float", [1.0, 2.0])
    payload = serialize(broken)
    verifier = Verifier(LM)
    message = verifier._parse_error(payload, verifier._spec(verifier._signature(
        decode_typed(payload))))
    assert message and "image/object/class/label" in message
    clean = serialize(good_features())
    assert verifier._parse_error(clean, verifier._spec(frozenset())) is None


def test_many_records_in_batches(tmp_path):
    """More records than one TensorFlow batch: every record is checked, in order."""
    from tfrconv import verify as verify_module

    examples = [good_features(f"{i}.jpg") for i in range(7)]
    examples[5]["image/object/bbox/xmax"] = ("float", [1.5, 0.9])
    examples[6]["image/height"] = ("float", [48.0])
    path = write(tmp_path / "x.record", examples)
    old = verify_module.BATCH
    verify_module.BATCH = 3
    try:
        result = verify(path)
    finally:
        verify_module.BATCH = old
    assert result["examples"] == 7
    assert [(p["record"], p["kind"]) for p in result["problems"]] == [(5, "box"), (6, "type")]


def test_a_batch_tensorflow_rejects_is_narrowed_to_the_record(tmp_path, monkeypatch):
    """Were our own type check blind, TensorFlow's parse would still catch the record."""
    from tfrconv.verify import Verifier

    monkeypatch.setattr(Verifier, "_type_problems", staticmethod(lambda features: []))
    examples = [good_features(f"{i}.jpg") for i in range(3)]
    examples[1]["image/object/class/label"] = ("float", [1.0, 2.0])
    result = verify(write(tmp_path / "x.record", examples), label_map=None)
    types = [p for p in result["problems"] if p["kind"] == "type"]
    assert [p["record"] for p in types] == [1]
    assert "TensorFlow cannot parse" in types[0]["message"]
    assert "image/object/class/label" in types[0]["message"]


def test_empty_file_warns(tmp_path):
    path = tmp_path / "empty.record"
    path.write_bytes(b"")
    result = verify(path)
    assert result["ok"] and kinds(result, "warning") == {"empty"}


def test_without_tensorflow_verify_says_how_to_get_it(monkeypatch):
    import sys

    from tfrconv.errors import UsageError
    from tfrconv.verify import Verifier

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(UsageError, match=r"tfrconv\[tf\]"):
        Verifier()
