"""What docs/problems.md and docs/output.md promise, each with a known answer: the box tolerance,
`size_mismatch warn`, clipping to nothing, `--max-errors` counting clips, `exif_rotated skip`,
`--reencode` keeping transparency, image bytes kept as they are, deeply nested and malformed JSON,
`TFRCONV_DEBUG=1`, the text summary's layout and duplicate display names in `labelmap lint`.

Records are read back with TensorFlow's own parser, not tfrconv's reader."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tfrconv
from tfrconv import DataError

HANG_SECONDS = 120                   # a bound on waiting for a subprocess, never a timing
LABEL_MAP = "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n"


# -- helpers -------------------------------------------------------------------------------
def image_bytes(size=(32, 24), mode="RGB", fmt="JPEG", exif_orientation=None, **save) -> bytes:
    """Noise pixels of `mode` (alpha, where there is one, a left-to-right ramp) as `fmt`."""
    from PIL import Image

    bands = len(mode)
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], bands), np.uint8)
    if mode.endswith("A"):
        pixels[..., -1] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    image = Image.fromarray(pixels[..., 0] if bands == 1 else pixels, mode)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        save["exif"] = exif
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def annotation(filename: str, boxes=((1, 1, 10, 10),), size=(32, 24)) -> str:
    objects = "".join(
        f"<object><name>cat</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for b in boxes)
    return (f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width>"
            f"<height>{size[1]}</height></size>{objects}</annotation>")


def voc_folder(root, entries: dict[str, tuple[str, bytes | None]]):
    """A plain VOC folder: {stem: (annotation XML, image bytes or None for a missing image)}."""
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "label_map.pbtxt").write_text(LABEL_MAP)
    for stem, (xml, image) in entries.items():
        (root / "Annotations" / f"{stem}.xml").write_text(xml)
        if image is not None:
            name = xml.split("<filename>")[1].split("</filename>")[0]
            (root / "JPEGImages" / name).write_bytes(image)
    return root


def convert(root, out, **options):
    return tfrconv.convert("voc", data_dir=str(root), output=str(out), workers=1, **options)


def records(path) -> list[dict[str, list]]:
    """Every record of a file as {key: list of values}, parsed by TensorFlow."""
    import tensorflow as tf

    parsed = []
    for raw in tf.data.TFRecordDataset(str(path)):
        features = tf.train.Example.FromString(raw.numpy()).features.feature
        parsed.append({key: list(getattr(feature, feature.WhichOneof("kind")).value)
                       for key, feature in features.items() if feature.WhichOneof("kind")})
    return parsed


def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "tfrconv", *map(str, args)],
                              capture_output=True, text=True, timeout=HANG_SECONDS,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hung: tfrconv {args[0]} still running after {HANG_SECONDS} s") \
            from None


# -- boxes ---------------------------------------------------------------------------------
# A 100x100 image: the default tolerance, 0.001 of the image size, is 0.1 px.
@pytest.mark.parametrize(("xmax", "tolerance", "quietly_clipped"), [
    (100.05, None, True),            # 0.0005 outside: within the default 0.001
    (100.2, None, False),            # 0.002 outside: a bad_box
    (100.2, 0.005, True),            # ... within a wider tolerance
    (100.05, 0.0, False),            # no tolerance: anything outside is a bad_box
])
def test_box_tolerance_is_a_fraction_of_the_image(tmp_path, xmax, tolerance, quietly_clipped):
    root = voc_folder(tmp_path / "data", {"a": (annotation("a.jpg", [(10, 10, xmax, 50)],
                                                           size=(100, 100)),
                                                image_bytes((100, 100)))})
    options = {} if tolerance is None else {"box_tolerance": tolerance}
    if not quietly_clipped:
        with pytest.raises(DataError, match="lies outside the 100x100 image"):
            convert(root, tmp_path / "o.record", **options)
        return
    summary = convert(root, tmp_path / "o.record", **options)
    assert (summary.clipped_boxes, summary.problems) == (1, {})
    (record,) = records(tmp_path / "o.record")
    assert record["image/object/bbox/xmax"] == [1.0]


def test_size_mismatch_warn_keeps_real_size_and_normalizes_by_the_annotation(tmp_path):
    """The annotation says 64x48, the pixels are 32x24: width and height are the real ones,
    boxes are divided by the annotated size (the tool drew them on that)."""
    root = voc_folder(tmp_path / "data", {"a": (annotation("a.jpg", [(8, 6, 32, 24)],
                                                           size=(64, 48)),
                                                image_bytes((32, 24)))})
    summary = convert(root, tmp_path / "o.record", on_size_mismatch="warn")
    assert summary.problems["size_mismatch"]["first"][0]["action"] == "kept"
    (record,) = records(tmp_path / "o.record")
    assert (record["image/width"], record["image/height"]) == ([32], [24])
    assert [record[f"image/object/bbox/{k}"][0] for k in ("xmin", "ymin", "xmax", "ymax")] == \
           [0.125, 0.125, 0.5, 0.5]


def test_a_box_clipped_to_nothing_is_a_degenerate_box(tmp_path):
    root = voc_folder(tmp_path / "data", {"a": (annotation("a.jpg", [(1, 1, 9, 9),
                                                                     (40, 5, 50, 20)]),
                                                image_bytes())})
    with pytest.raises(DataError, match=r"object 1 .*box is empty after clipping"):
        convert(root, tmp_path / "o.record", on_bad_box="clip")
    summary = convert(root, tmp_path / "o.record", on_bad_box="clip",
                      on_degenerate_box="skip")
    assert (summary.objects, summary.skipped_objects) == (1, 1)
    assert summary.problems["bad_box"]["first"][0]["action"] == "clipped"
    assert summary.problems["degenerate_box"]["first"][0]["action"] == "skipped"


def test_max_errors_counts_clipped_boxes_but_not_tolerance_clips(tmp_path):
    outside = {f"i{n}": (annotation(f"i{n}.jpg", [(1, 1, 40, 9)]), image_bytes())
               for n in range(3)}
    root = voc_folder(tmp_path / "outside", outside)
    with pytest.raises(DataError, match=r"more than 2 problems were skipped \(--max-errors 2\)"):
        convert(root, tmp_path / "o.record", on_bad_box="clip", max_errors=2)
    assert convert(root, tmp_path / "o.record", on_bad_box="clip", max_errors=3).examples == 3
    noise = {f"i{n}": (annotation(f"i{n}.jpg", [(1, 1, 32.00001, 9)]), image_bytes())
             for n in range(3)}
    summary = convert(voc_folder(tmp_path / "noise", noise), tmp_path / "n.record",
                      max_errors=0)
    assert (summary.examples, summary.clipped_boxes) == (3, 3)


# -- images --------------------------------------------------------------------------------
def test_exif_rotated_skip_leaves_the_image_out(tmp_path):
    root = voc_folder(tmp_path / "data", {
        "a": (annotation("a.jpg"), image_bytes(exif_orientation=6)),
        "b": (annotation("b.jpg"), image_bytes())})
    summary = convert(root, tmp_path / "o.record", on_exif_rotated="skip")
    assert (summary.examples, summary.skipped_images) == (1, 1)
    assert summary.problems["exif_rotated"]["first"][0]["action"] == "skipped"
    assert [r["image/filename"] for r in records(tmp_path / "o.record")] == [[b"b.jpg"]]


@pytest.mark.parametrize(("mode", "fmt", "save", "written"), [
    ("RGBA", "WEBP", {"lossless": True}, b"png"),
    ("LA", "TIFF", {}, b"png"),
    ("RGB", "WEBP", {"lossless": True}, b"jpeg"),
])
def test_reencode_keeps_transparency_as_png(tmp_path, mode, fmt, save, written):
    from PIL import Image

    source = image_bytes(mode=mode, fmt=fmt, **save)
    root = voc_folder(tmp_path / "data", {"a": (annotation("a.img"), source)})
    convert(root, tmp_path / "o.record", reencode=True)
    (record,) = records(tmp_path / "o.record")
    assert record["image/format"] == [written]
    encoded = Image.open(io.BytesIO(record["image/encoded"][0]))
    assert encoded.format == written.decode().upper()
    if written == b"png":                       # the alpha channel survives, value for value
        original = Image.open(io.BytesIO(source))
        assert np.array_equal(np.asarray(encoded.getchannel("A")),
                              np.asarray(original.getchannel("A")))


@pytest.mark.parametrize(("mode", "fmt", "name"), [
    ("L", "JPEG", "g.jpg"), ("L", "PNG", "g.png"), ("LA", "PNG", "ga.png"),
    ("RGBA", "PNG", "r.png")])
def test_grayscale_and_alpha_images_are_written_byte_for_byte(tmp_path, mode, fmt, name):
    source = image_bytes(mode=mode, fmt=fmt)
    root = voc_folder(tmp_path / "data", {"a": (annotation(name), source)})
    convert(root, tmp_path / "o.record")
    (record,) = records(tmp_path / "o.record")
    assert record["image/encoded"] == [source]
    assert record["image/format"] == [fmt.lower().encode()]


# -- JSON ----------------------------------------------------------------------------------
def coco_run(tmp_path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "instances.json"
    path.write_text(text)
    (tmp_path / "images").mkdir(exist_ok=True)
    return run_cli("coco", "--annotations-file", path, "--image-dir", tmp_path / "images",
                   "--output", tmp_path / "o.record")


@pytest.mark.parametrize("text", [
    "[" * 200_000 + "]" * 200_000,
    '{"images": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
])
def test_deeply_nested_json_is_a_one_line_error(tmp_path, text):
    done = coco_run(tmp_path, text)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert done.stderr.startswith(f"tfrconv: error: {tmp_path / 'instances.json'}: ")
    assert "nested too deeply" in done.stderr and "Traceback" not in done.stderr


def test_malformed_json_names_line_and_column(tmp_path):
    done = coco_run(tmp_path, '{\n  "images": [,]\n}\n')
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    #                                          column 14 of line 2 is the comma
    assert done.stderr.startswith(f"tfrconv: error: {tmp_path / 'instances.json'}:2:14: "
                                  "not valid JSON: Expecting value"), done.stderr


# -- the command line ----------------------------------------------------------------------
def test_tfrconv_debug_shows_the_traceback(tmp_path):
    root = voc_folder(tmp_path / "data", {"a": (annotation("a.jpg", [(0, 0, 99, 9)]),
                                                image_bytes())})
    args = ("voc", "--data-dir", root, "--output", tmp_path / "o.record")
    plain = run_cli(*args)
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1, plain.stderr
    debug = run_cli(*args, env={"TFRCONV_DEBUG": "1"})
    assert "Traceback (most recent call last)" in debug.stderr
    assert "tfrconv.errors.DataError" in debug.stderr and "lies outside" in debug.stderr
    assert run_cli(*args, env={"TFRCONV_DEBUG": "0"}).stderr == plain.stderr    # 0 is off


def test_text_summary_layout(tmp_path):
    """docs/output.md, "The summary": the run's line, then `problems:` with a line per kind and
    an indented line per first offender, then where the report went."""
    root = voc_folder(tmp_path / "data", {"a": (annotation("a.jpg", [(1, 1, 9, 9),
                                                                     (2, 2, 40, 9)]),
                                                image_bytes()),
                                          "b": (annotation("b.jpg"), None)})
    out, report = tmp_path / "out" / "o.record", tmp_path / "problems.jsonl"
    done = run_cli("voc", "--data-dir", root, "--output", out, "--no-progress",
                   "--on-missing-image", "skip", "--on-bad-box", "clip", "--report", report)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(rf"voc: wrote 1 examples \(2 objects\) to {re.escape(str(out))} in "
                        r"\d+\.\d\d s; skipped 1 images and 0 objects", lines[0]), lines[0]
    assert lines[1] == "problems:"
    assert lines[2] == "  bad_box: 1"
    assert re.fullmatch(rf"    {re.escape(str(root / 'Annotations' / 'a.xml'))}: object 1 "
                        r"\('cat'\): box .* lies outside the 32x24 image \[clipped\]", lines[3])
    assert lines[4] == "  missing_image: 1"
    assert lines[5].startswith("    ") and lines[5].endswith("[skipped]")
    assert "b.jpg" in lines[5] and "no such image file" in lines[5]
    assert lines[6:] == [f"report: {report}"]


def test_lint_reports_a_duplicate_display_name(tmp_path):
    path = tmp_path / "map.pbtxt"
    path.write_text("item {\n  id: 1\n  name: 'a'\n  display_name: 'Cat'\n}\n"
                    "item {\n  id: 2\n  name: 'b'\n  display_name: 'Cat'\n}\n")
    done = run_cli("labelmap", "lint", path)
    assert done.returncode == 1
    assert f"{path}:6: error: duplicate display_name 'Cat' (first at line 1)" in \
           done.stdout.splitlines()
