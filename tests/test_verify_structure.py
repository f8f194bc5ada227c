"""`tfrconv verify --no-decode`: every check but the pixels, without TensorFlow.

The broken records of tests/test_verify.py are reported by the structure checks too (one
override where the words differ: an image whose header is cut short); an image whose header is
intact but whose compressed data is garbage passes them and fails the full verify, which
decodes with TensorFlow. Known answers are written out here; the full verify (TensorFlow's
decoder) is the oracle for what decoding catches.
"""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import pytest
from recordmaker import LABEL_MAP, good_features, image_bytes, mask_png, write
from test_verify import BROKEN, LM, _replace_image, kinds, messages

from tfrconv.cli import main
from tfrconv.verify import Verifier, verify_records


def check(path, label_map=LM, **kwargs):
    return verify_records(str(path), label_map=label_map, label_map_origin="test",
                          decode=False, **kwargs)


def garbage_scan_jpeg() -> bytes:
    """A JPEG whose header (size, tables, start of scan) is intact and whose compressed data is
    noise: nothing short of decoding can tell."""
    jpeg = image_bytes(64, 48)
    scan = jpeg.index(b"\xff\xda")
    header_end = scan + 2 + int.from_bytes(jpeg[scan + 2:scan + 4], "big")
    noise = random.Random(7).randbytes(600)
    return jpeg[:header_end] + noise + b"\xff\xd9"


# Where the structure checks word a problem differently from decoding.
WORDS = {"undecodable image": "has no end marker or a damaged header"}


@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """Structure checks never import TensorFlow (an import of it fails here)."""
    monkeypatch.setitem(sys.modules, "tensorflow", None)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_record_is_reported_without_decoding(tmp_path, name):
    change, kind, words = BROKEN[name]
    broken = good_features("bad.jpg")
    change(broken)
    path = write(tmp_path / "x.record", [good_features("good.jpg"), broken])
    result = check(path)
    assert not result["ok"] and result["images_decoded"] is False
    assert kind in kinds(result), (name, result["problems"])
    problem = next(p for p in result["problems"] if p["kind"] == kind)
    assert problem["record"] == 1 and problem["file"] == path
    assert WORDS.get(name, words) in messages(result), (name, messages(result))
    assert all(p["record"] != 0 for p in result["problems"] if p["severity"] == "error")


def test_clean_records_are_ok(tmp_path):
    path = write(tmp_path / "ok.record", [good_features("a.jpg"), good_features("b.jpg")])
    result = check(path)
    assert result["ok"] and result["errors"] == result["warnings"] == 0, result["problems"]
    assert (result["examples"], result["objects"]) == (2, 4)


def test_garbage_pixels_pass_the_structure_checks(tmp_path):
    good = good_features("a.jpg")
    _replace_image(garbage_scan_jpeg())(good)          # its sha256 is the garbage's own
    path = write(tmp_path / "x.record", [good])
    result = check(path)
    assert result["ok"] and result["errors"] == 0, result["problems"]


def test_garbage_pixels_fail_the_full_verify(tmp_path, monkeypatch):
    pytest.importorskip("numpy")
    monkeypatch.delitem(sys.modules, "tensorflow")      # the real one, for this test only
    tf = pytest.importorskip("tensorflow")
    assert tf is not None
    good = good_features("a.jpg")
    _replace_image(garbage_scan_jpeg())(good)
    path = write(tmp_path / "x.record", [good])
    result = verify_records(path, label_map=LM, decode=True)
    assert not result["ok"] and kinds(result) == {"image"}
    assert "does not decode" in messages(result)


def test_bad_crc_bad_box_and_unknown_class_in_one_file(tmp_path):
    bad_box = good_features("box.jpg")
    bad_box["image/object/bbox/xmax"] = ("float", [1.5, 0.9])
    unknown = good_features("class.jpg")
    unknown["image/object/class/text"] = ("bytes", [b"circle", b"hexagon"])
    path = write(tmp_path / "x.record", [good_features("a.jpg"), good_features("b.jpg"),
                                         bad_box, unknown])
    data = bytearray(Path(path).read_bytes())
    first_len = int.from_bytes(data[:8], "little")
    data[16 + first_len + 12 + 100] ^= 0x04            # a bit inside record 1's payload
    Path(path).write_bytes(bytes(data))
    result = check(path)
    assert [(p["record"], p["kind"]) for p in result["problems"]] == [
        (1, "crc"), (2, "box"), (3, "class")]
    assert "'hexagon' is not in the label map" in messages(result)
    assert "xmax=1.5" in messages(result)


@pytest.mark.parametrize(("image", "words"), [
    (b"II*\x00" + b"\x00" * 60, "a TIFF"),
    (b"just some bytes, no image", "no image format the decoder knows"),
    (image_bytes(64, 48)[:-2], "JPEG has no end marker"),
    (image_bytes(64, 48, fmt="PNG")[:-12], "PNG has no end marker"),
])
def test_images_the_decoder_cannot_read_by_their_header(tmp_path, image, words):
    broken = good_features("a.jpg")
    _replace_image(image)(broken)
    result = check(write(tmp_path / "x.record", [broken]))
    assert kinds(result) == {"image"} and words in messages(result)


def test_sizes_come_from_the_header(tmp_path):
    """A PNG stored with the JPEG's size: the header's 32 x 20 is what is compared."""
    broken = good_features("a.jpg")
    _replace_image(image_bytes(32, 20, fmt="PNG"))(broken)
    result = check(write(tmp_path / "x.record", [broken]))
    assert kinds(result) == {"size"}
    assert "say 48 x 64, but the image is 20 x 32 pixels" in messages(result)


def test_a_mask_that_is_not_a_png(tmp_path):
    broken = good_features("a.jpg")
    broken["image/object/mask"] = ("bytes", [mask_png(64, 48), b"not a png"])
    result = check(write(tmp_path / "x.record", [broken]))
    assert kinds(result) == {"mask"} and "#1 is not a PNG" in messages(result)


def test_exif_rotation_warns_as_in_the_full_verify(tmp_path):
    rotated = good_features("r.jpg", image=image_bytes(exif_orientation=6))
    result = check(write(tmp_path / "x.record", [rotated]))
    assert result["ok"] and kinds(result, "warning") == {"exif"}


def test_command_line(tmp_path, capsys):
    lm = tmp_path / "lm.pbtxt"
    lm.write_text(LABEL_MAP)
    path = write(tmp_path / "ok.record", [good_features("a.jpg")])
    assert main(["verify", path, "--label-map", str(lm), "--no-decode"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("OK: ") and "images not decoded (--no-decode" in line
    broken = good_features("bad.jpg")
    broken["image/object/bbox/ymax"] = ("float", [30.0, 40.0])
    path = write(tmp_path / "bad.record", [broken])
    assert main(["verify", path, "--label-map", str(lm), "--no-decode", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["images_decoded"] is False and report["counts"] == {"box": 1}


def test_help_names_the_mode(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    assert "--no-decode" in capsys.readouterr().out


def test_many_records_hashed_in_batches_report_in_record_order(tmp_path):
    """Images are hashed a batch ahead in a thread: each digest meets its own record, and
    problems still come in record order around a damaged record."""
    examples = [good_features(f"{i}.jpg", image=image_bytes(colour=(i, 2 * i % 256, 0)))
                for i in range(150)]
    examples[70]["image/key/sha256"] = ("bytes", [b"0" * 64])
    examples[140]["image/object/bbox/xmax"] = ("float", [1.5, 0.9])
    path = write(tmp_path / "x.record", examples)
    data = bytearray(Path(path).read_bytes())
    offset = 0
    for _ in range(100):                                 # to record 100
        offset += 16 + int.from_bytes(data[offset:offset + 8], "little")
    data[offset + 12 + 100] ^= 0x04
    Path(path).write_bytes(bytes(data))
    result = check(path)
    assert result["examples"] == 149                   # record 100 is unreadable
    assert [(p["record"], p["kind"]) for p in result["problems"]] == [
        (70, "sha256"), (100, "crc"), (140, "box")]


@pytest.mark.parametrize("decode", [False, True])
def test_a_zero_size_box_and_a_box_on_the_border(tmp_path, monkeypatch, decode):
    if decode:
        monkeypatch.delitem(sys.modules, "tensorflow")
        pytest.importorskip("tensorflow")
    edges = good_features("edge.jpg")
    edges["image/object/bbox/xmin"] = ("float", [0.0, 0.5])
    edges["image/object/bbox/xmax"] = ("float", [1.0, 0.5])         # #1: zero width
    edges["image/object/bbox/ymin"] = ("float", [0.0, 0.25])
    edges["image/object/bbox/ymax"] = ("float", [1.0, 0.75])
    result = verify_records(write(tmp_path / "x.record", [edges]), label_map=LM,
                            decode=decode)
    assert [p["kind"] for p in result["problems"]] == ["box"]
    assert "1 box not ordered min < max (#1 xmin 0.5 >= xmax 0.5)" in messages(result)


def damage_payload(path: str, record: int) -> None:
    """Flip a bit inside one record's payload: its CRC fails, the file reads on."""
    data = bytearray(Path(path).read_bytes())
    offset = 0
    for _ in range(record):
        offset += 16 + int.from_bytes(data[offset:offset + 8], "little")
    data[offset + 12 + 100] ^= 0x04
    Path(path).write_bytes(bytes(data))


def test_files_checked_in_worker_processes_give_the_report_of_one_by_one(tmp_path,
                                                                       monkeypatch):
    """Shards checked at once in worker processes: the same report, problems in the same
    order and the same streamed lines, as checking the files one after another; source ids
    repeated across files are found with the first file that had them."""
    bad_box = good_features("b.jpg")
    bad_box["image/object/bbox/xmax"] = ("float", [1.5, 0.9])
    no_sha = good_features("d.jpg")
    del no_sha["image/key/sha256"]
    wrong_type = good_features("a.jpg")                      # repeats file 1's record 0
    wrong_type["image/height"] = ("float", [48.0])
    unknown = good_features("b.jpg")                         # repeats file 1's record 1
    unknown["image/object/class/text"] = ("bytes", [b"circle", b"hexagon"])
    write(tmp_path / "s-0.record", [good_features("a.jpg"), bad_box])
    write(tmp_path / "s-1.record", [good_features("c.jpg"), wrong_type, good_features("c.jpg"),
                                    no_sha])
    damage_payload(write(tmp_path / "s-2.record", [good_features("e.jpg"), unknown]), 0)
    write(tmp_path / "s-3.record", [])

    def run(workers):
        stream = io.StringIO()
        result = check(tmp_path / "s-*.record", workers=workers, stream=stream)
        return result, stream.getvalue()

    taken = []                                           # files a worker process checked
    take = Verifier.take
    monkeypatch.setattr(Verifier, "take", lambda self, checked: (taken.append(checked),
                                                                   take(self, checked)))

    one_by_one, streamed = run(1)
    where = [(p["file"] and Path(p["file"]).name, p["record"], p["kind"])
             for p in one_by_one["problems"]]
    assert where == [("s-0.record", 1, "box"),
                     ("s-1.record", 1, "type"), ("s-1.record", 1, "source_id"),
                     ("s-1.record", 2, "source_id"),
                     ("s-2.record", 0, "crc"), ("s-2.record", 1, "source_id"),
                     ("s-2.record", 1, "class"),
                     (None, None, "missing_field")]
    assert "'b.jpg' also belongs to record 1 of " in messages(one_by_one)
    assert (one_by_one["examples"], one_by_one["examples_with_errors"]) == (7, 3)
    assert not taken
    for workers in (2, 3):
        assert run(workers) == (one_by_one, streamed), workers
        assert len(taken) == 4
        taken.clear()
    assert run(None) == (one_by_one, streamed)          # None: one per usable CPU


def test_workers_must_be_at_least_one(tmp_path, capsys):
    path = write(tmp_path / "ok.record", [good_features("a.jpg")])
    assert main(["verify", path, "--no-decode", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
