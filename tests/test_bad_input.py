"""Bad input, faults and hostile data: one-line errors, explicit policies, nothing half-written."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fake_plugins import slow_format_site
from hangs import interruptible
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odapi import parse_records
from reach import branch, reaches

import tfrconv
from tfrconv import DataError
from tfrconv.images import sniff

LABEL_MAP = "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n"


def jpeg(size=(32, 24), mode="RGB", exif_orientation=None, fmt="JPEG") -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "CMYK": 4}[mode]
    pixels = rng.integers(0, 255, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels,
                            "CMYK" if mode == "CMYK" else mode)
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def annotation(filename, objects=(("cat", (1, 1, 10, 10)),), size=(32, 24)):
    objs = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for name, b in objects)
    dims = f"<size><width>{size[0]}</width><height>{size[1]}</height></size>" if size else ""
    return f"<annotation><filename>{filename}</filename>{dims}{objs}</annotation>"


@pytest.fixture
def dataset(tmp_path):
    """A plain VOC folder factory: dataset({name: (xml text, image bytes or None)})."""
    def make(entries):
        root = tmp_path / "data"
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "JPEGImages").mkdir(exist_ok=True)
        (root / "label_map.pbtxt").write_text(LABEL_MAP)
        for stem, (xml, image) in entries.items():
            (root / "Annotations" / f"{stem}.xml").write_text(xml)
            if image is not None:
                name = "".join(xml.split("<filename>")[1].split("</filename>")[0])
                (root / "JPEGImages" / name).write_bytes(image)
        return root
    return make


def convert(root, tmp_path, **options):
    return tfrconv.convert("voc", data_dir=str(root), output=str(tmp_path / "out" / "o.record"),
                           workers=1, **options)


def leftovers(tmp_path):
    out = tmp_path / "out"
    return sorted(os.listdir(out)) if out.exists() else []


# -- boxes ---------------------------------------------------------------------------------
def test_box_policies_and_tolerance(tmp_path, dataset):
    root = dataset({"a": (annotation("a.jpg", [("cat", (0, 0, 32.00002, 24)),    # float noise
                                               ("cat", (5, 5, 40, 20)),          # outside
                                               ("dog", (9, 9, 9, 20))]),         # zero width
                          jpeg())})
    with pytest.raises(DataError, match=r"a\.xml: object 1 .* lies outside the 32x24 image"):
        convert(root, tmp_path)
    assert leftovers(tmp_path) == []
    with pytest.raises(DataError, match="empty or inverted box"):
        convert(root, tmp_path, on_bad_box="clip")
    summary = convert(root, tmp_path, on_bad_box="clip", on_degenerate_box="skip")
    assert summary.objects == 2 and summary.clipped_boxes == 1
    assert summary.problems["bad_box"]["first"][0]["action"] == "clipped"
    (record,) = parse_records(str(tmp_path / "out" / "o.record"))
    assert record["image/object/bbox/xmax"].tolist() == [1.0, 1.0]
    summary = convert(root, tmp_path, on_bad_box="skip", on_degenerate_box="skip")
    assert summary.objects == 1 and summary.skipped_objects == 2


# -- images --------------------------------------------------------------------------------
def test_missing_and_unreadable_images(tmp_path, dataset):
    root = dataset({"a": (annotation("a.jpg"), jpeg()), "b": (annotation("b.jpg"), None),
                    "c": (annotation("c.jpg"), b"this is not an image")})
    with pytest.raises(DataError, match="no such image file"):
        convert(root, tmp_path)
    report = tmp_path / "problems.jsonl"
    summary = convert(root, tmp_path, on_missing_image="skip", on_bad_image="skip",
                      report=str(report))
    assert summary.examples == 1 and summary.skipped_images == 2
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert {line["kind"] for line in lines} == {"missing_image", "bad_image"}
    assert any("not an image file" in line["message"] for line in lines)


def test_size_mismatch_policy(tmp_path, dataset):
    root = dataset({"a": (annotation("a.jpg", size=(64, 48)), jpeg((32, 24)))})
    with pytest.raises(DataError, match="annotation says 64x48 but the image is 32x24"):
        convert(root, tmp_path)
    summary = convert(root, tmp_path, on_size_mismatch="warn")
    assert summary.examples == 1 and summary.problems["size_mismatch"]["count"] == 1
    (record,) = parse_records(str(tmp_path / "out" / "o.record"))
    assert (record["image/width"], record["image/height"]) == (32, 24)   # the real pixels


def test_truncated_and_corrupt_images(tmp_path, dataset):
    data = jpeg((64, 48))
    root = dataset({"a": (annotation("a.jpg", size=(64, 48)), data[: len(data) // 2])})
    with pytest.raises(DataError, match="truncated or corrupt jpeg"):
        convert(root, tmp_path)
    png = jpeg(fmt="PNG")
    root = dataset({"a": (annotation("a.png"), png[:-20])})
    with pytest.raises(DataError, match="truncated or corrupt png"):
        convert(root, tmp_path)
    # intact header and end, broken middle: only a full decode notices
    broken = bytearray(png)
    broken[60:80] = b"\x00" * 20
    root = dataset({"a": (annotation("a.png"), bytes(broken))})
    assert convert(root, tmp_path).examples == 1
    with pytest.raises(DataError, match="cannot decode the png image"):
        convert(root, tmp_path, verify_images=True)


def test_gray_and_rgba_decode_to_three_channels(tmp_path, dataset):
    root = dataset({"g": (annotation("g.jpg"), jpeg(mode="L")),
                    "r": (annotation("r.png"), jpeg(mode="RGBA", fmt="PNG"))})
    convert(root, tmp_path)
    for record in parse_records(str(tmp_path / "out" / "o.record")):
        assert record["decoded_shape"] == (24, 32, 3)


@pytest.mark.parametrize("fmt,mode", [("BMP", "RGB"), ("GIF", "L"), ("WEBP", "RGB"),
                                      ("TIFF", "RGB"), ("JPEG", "CMYK")])
def test_other_formats_are_rejected_or_reencoded(tmp_path, dataset, fmt, mode):
    root = dataset({"a": (annotation("a.img"), jpeg(mode=mode, fmt=fmt))})
    with pytest.raises(DataError, match="records need JPEG or PNG.*--reencode converts it"):
        convert(root, tmp_path)
    assert convert(root, tmp_path, reencode=True).examples == 1
    (record,) = parse_records(str(tmp_path / "out" / "o.record"))
    assert record["image/format"] == b"jpeg" and record["decoded_shape"] == (24, 32, 3)


def test_exif_rotation_is_reported_or_applied(tmp_path, dataset):
    rotated = jpeg((32, 24), exif_orientation=6)        # displayed as 24x32
    assert sniff(rotated).orientation == 6
    root = dataset({"a": (annotation("a.jpg", size=(24, 32)), rotated)})
    # as stored the image is 32x24, but the annotation tool showed it rotated: size differs
    with pytest.raises(DataError, match="annotation says 24x32 but the image is 32x24"):
        convert(root, tmp_path)
    summary = convert(root, tmp_path, reencode=True)
    assert summary.examples == 1
    (record,) = parse_records(str(tmp_path / "out" / "o.record"))
    assert record["decoded_shape"] == (32, 24, 3)
    root = dataset({"a": (annotation("a.jpg", size=(32, 24)), rotated)})
    summary = convert(root, tmp_path)
    assert summary.problems["exif_rotated"]["first"][0]["action"] == "kept"
    with pytest.raises(DataError, match="EXIF orientation 6"):
        convert(root, tmp_path, on_exif_rotated="error")


# -- hostile input -------------------------------------------------------------------------
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE annotation [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>a.jpg</filename><object><name>&lol9;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>
"""


# Bounds on waiting, never timings: a run that needs longer than this is hung, not slow.
HANG_SECONDS = 120


def run_cli(args, **kwargs) -> subprocess.CompletedProcess:
    """`tfrconv ARGS` in a subprocess; one that does not end in HANG_SECONDS fails the test."""
    try:
        return subprocess.run([sys.executable, "-m", "tfrconv", *map(str, args)],
                              capture_output=True, text=True, timeout=HANG_SECONDS, **kwargs)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hung: tfrconv {' '.join(map(str, args))} was still running "
                             f"after {HANG_SECONDS} s") from None


def wait_until(condition, what: str) -> None:
    """Poll `condition` until it holds; still false after HANG_SECONDS, the test fails."""
    deadline = time.monotonic() + HANG_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"hung: {what} did not happen within {HANG_SECONDS} s")
        time.sleep(0.05)


def test_entity_expansion_bomb_is_inert(tmp_path, dataset):
    """Expanded, the bomb would take ~3 GB and minutes: in a subprocess, a hang fails the test
    instead of stalling the suite."""
    root = dataset({"a": (BILLION_LAUGHS, jpeg())})
    done = run_cli(["voc", "--data-dir", root, "--output", tmp_path / "out" / "o.record",
                    "--workers", "1"])
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("tfrconv: error: ") and "a.xml" in done.stderr
    assert leftovers(tmp_path) == []


def test_external_entities_are_never_resolved(tmp_path, dataset):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file://{secret}">'
           '<!ENTITY net SYSTEM "http://127.0.0.1:9/x">]>'
           "<annotation><filename>a.jpg</filename><object><name>cat&xxe;&net;</name><bndbox>"
           "<xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>"
           "</annotation>")
    root = dataset({"a": (xxe, jpeg())})
    convert(root, tmp_path)
    (record,) = parse_records(str(tmp_path / "out" / "o.record"))
    assert b"TOP-SECRET" not in record["image/object/class/text"].tobytes()
    assert record["image/object/class/text"].tolist() == [b"cat"]


@pytest.mark.parametrize("filename", ["../../secret.jpg", "ABSOLUTE", "link.jpg"])
def test_image_paths_cannot_escape_the_dataset(tmp_path, dataset, filename):
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(jpeg())
    if filename == "ABSOLUTE":
        filename = str(outside)
    root = dataset({"a": (annotation(filename), None)})
    if filename == "link.jpg":
        (root / "JPEGImages" / "link.jpg").symlink_to(outside)
    with pytest.raises(DataError, match="leads outside the dataset folder"):
        convert(root, tmp_path)
    assert convert(root, tmp_path, allow_outside_paths=True).examples == 1


# -- faults --------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_disk_full_leaves_nothing_behind(tmp_path, shapes_voc, monkeypatch, workers):
    """Writing fails with ENOSPC after a few records: in process (RecordWriter.write) and in
    the worker processes that write their own records (pwritev; forked, so the patch holds)."""
    from tfrconv import tfrecord
    from tfrconv import workers as worker_module

    calls = {"n": 0}

    def failing(original):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 5:
                raise OSError(errno.ENOSPC, "No space left on device")
            return original(*args, **kwargs)
        return wrapper

    if workers == 1:
        monkeypatch.setattr(tfrecord.RecordWriter, "write", failing(tfrecord.RecordWriter.write))
    else:
        monkeypatch.setattr(worker_module.os, "pwritev", failing(os.pwritev))
    out = tmp_path / "out" / "x.record"
    with pytest.raises(DataError, match="No space left on device.*no output was left behind"):
        tfrconv.convert("voc", data_dir=str(shapes_voc), set="trainval", output=str(out),
                        num_shards=3, workers=workers)
    assert os.listdir(out.parent) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda sig: sig.name)
def test_interrupted_run_leaves_nothing_behind(tmp_path, sig):
    """Ctrl-C, SIGTERM and SIGHUP (docs/problems.md, Faults) all end the run as interrupted."""
    site = slow_format_site(tmp_path)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "tfrconv", "slow", "--output", str(out / "x.record"),
         "--num-shards", "2", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, PYTHONPATH=str(site)), preexec_fn=interruptible)
    try:
        wait_until(lambda: out.exists() and os.listdir(out), "the run's temporary files")
        time.sleep(0.3)                      # let workers get going: not a measurement
        process.send_signal(sig)
        _stdout, stderr = process.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hung: still running {HANG_SECONDS} s after {sig.name}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert os.listdir(out) == []


def test_max_errors_stops_a_clearly_wrong_run(tmp_path, dataset):
    root = dataset({f"i{n}": (annotation(f"i{n}.jpg"), None) for n in range(5)})
    with pytest.raises(DataError, match=r"more than 2 problems were skipped \(--max-errors 2\)"):
        convert(root, tmp_path, on_missing_image="skip", max_errors=2)
    assert leftovers(tmp_path) == []


def test_unreadable_annotation_policy(tmp_path, dataset):
    root = dataset({"a": (annotation("a.jpg"), jpeg()), "b": ("<annotation><oops", None)})
    with pytest.raises(DataError, match=r"b\.xml:1: not valid XML"):
        convert(root, tmp_path)
    summary = convert(root, tmp_path, on_error="skip")
    assert summary.examples == 1 and summary.problems["bad_annotation"]["count"] == 1


def test_cli_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, dataset):
    root = dataset({"a": (annotation("a.jpg", [("cat", (0, 0, 99, 9))]), jpeg())})
    args = [sys.executable, "-m", "tfrconv", "voc", "--data-dir", str(root), "--output",
            str(tmp_path / "o.record")]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("tfrconv: error: ") and result.stderr.count("\n") == 1
    assert "a.xml" in result.stderr and "--on-bad-box clip" in result.stderr
    debug = subprocess.run(args + ["--debug"], capture_output=True, text=True)
    assert "Traceback" in debug.stderr
    usage = subprocess.run(args + ["--on-bad-box", "explode"], capture_output=True, text=True)
    assert (usage.returncode, usage.stdout) == (2, "")
    assert usage.stderr == ("tfrconv voc: error: argument --on-bad-box: invalid choice: "
                            "'explode' (choose from 'error', 'clip', 'skip') "
                            "(see tfrconv voc --help)\n")


@pytest.mark.parametrize(("args", "expected"), [
    (["voc", "--data-dir", "d"],
     "tfrconv voc: error: the following arguments are required: --output "
     "(see tfrconv voc --help)"),
    (["voc", "--data-dir", "d", "--output", "o", "--bogus", "1"],
     "tfrconv voc: error: unrecognized arguments: --bogus 1 (see tfrconv voc --help)"),
    (["labelmap", "lint", "a.pbtxt", "b.pbtxt"],
     "tfrconv labelmap lint: error: unrecognized arguments: b.pbtxt "
     "(see tfrconv labelmap lint --help)"),
    (["sample", "shapes", "--out", "d", "--num-images", "two"],
     "tfrconv sample shapes: error: argument --num-images: invalid int value: 'two' "
     "(see tfrconv sample shapes --help)"),
    (["no-such-command"], "tfrconv: error: argument COMMAND: invalid choice: "),
])
def test_usage_errors_are_one_line_naming_the_command(args, expected):
    """docs/problems.md: usage errors are one line, `tfrconv CMD: error: ... (see tfrconv CMD
    --help)`, exit status 2, no usage block."""
    done = run_cli(args)
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (2, "", 1), done.stderr
    assert done.stderr.startswith(expected), done.stderr


# -- fuzzing the VOC reader ----------------------------------------------------------------
XML_PIECES = st.sampled_from([
    "<annotation>", "</annotation>", "<filename>a.jpg</filename>", "<object>", "</object>",
    "<name>cat</name>", "<name></name>", "<bndbox>", "</bndbox>", "<xmin>1</xmin>",
    "<xmin>abc</xmin>", "<ymin>2</ymin>", "<xmax>9</xmax>", "<ymax>nan</ymax>", "<ymax>8</ymax>",
    "<size><width>0</width><height>x</height></size>", "<difficult>2.5</difficult>",
    "<truncated></truncated>", "<pose/>", "&amp;", "&bogus;", "<![CDATA[x]]>", "<?pi x?>",
    "<!-- c -->", "\x00", "é", "<", ">", "</", "<!DOCTYPE a [<!ENTITY e 'x'>]>",
])


@st.composite
def voc_annotation_pieces(draw):
    """A valid annotation with 1-3 boxed objects; in one example in three, one to three of its
    pieces replaced by, or with, one of XML_PIECES, or dropped."""
    pieces = ["<annotation>", "<filename>a.jpg</filename>"]
    for _ in range(draw(st.integers(1, 3))):
        x, y = draw(st.integers(0, 8)), draw(st.integers(0, 8))
        pieces += ["<object>", f"<name>{draw(st.sampled_from(['cat', 'dog']))}</name>",
                   "<bndbox>", f"<xmin>{x}</xmin>", f"<ymin>{y}</ymin>",
                   f"<xmax>{x + draw(st.integers(1, 9))}</xmax>",
                   f"<ymax>{y + draw(st.integers(1, 9))}</ymax>", "</bndbox>", "</object>"]
    pieces.append("</annotation>")
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3])) if draw(st.booleans()) else 0):
        where, kind = draw(st.integers(0, len(pieces) - 1)), draw(st.integers(0, 2))
        if kind == 0:
            pieces.insert(where, draw(XML_PIECES))
        elif kind == 1:
            pieces[where] = draw(XML_PIECES)
        else:
            del pieces[where]
    return pieces


@reaches("objects checked")
@given(voc_annotation_pieces())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
def test_voc_reader_yields_samples_or_data_errors(tmp_path, pieces):
    from tfrconv import Sample
    from tfrconv.plugins import get_registry

    spec = get_registry().format("voc")
    root = tmp_path / "fuzz"
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / "a.xml").write_bytes("".join(pieces).encode("utf-8"))
    opts = spec.resolve({"data_dir": str(root)})
    try:
        sample = spec.read_item((str(root), "a"), opts)
    except DataError as exc:
        branch("data error")
        assert exc.file and "a.xml" in exc.file
        return
    assert isinstance(sample, Sample)
    branch("objects checked" if sample.objects else "no object")
    for obj in sample.objects:
        assert obj.label and all(isinstance(v, float) for v in
                                 (obj.xmin, obj.ymin, obj.xmax, obj.ymax))


def test_label_map_missing_classes_caught_before_images_are_read(tmp_path):
    """With a cheap class list (FormatSpec.classes), nothing is read or written."""
    from tfrconv import FormatSpec, hookimpl
    from tfrconv.plugins import temporary_plugin

    reads = []

    class Plugin:
        @hookimpl
        def register_formats(self, register):
            register(FormatSpec("listed", "x", list_items=lambda o: [1],
                                read_item=lambda i, o: reads.append(i),
                                classes=lambda o: ["cat", "zebra"]))

    label_map = tmp_path / "m.pbtxt"
    label_map.write_text(LABEL_MAP)
    with temporary_plugin(Plugin(), "listed"), \
            pytest.raises(tfrconv.LabelMapError, match="'zebra'"):
        tfrconv.convert("listed", output=str(tmp_path / "x.record"), label_map=str(label_map))
    assert reads == [] and not Path(tmp_path / "x.record").exists()
