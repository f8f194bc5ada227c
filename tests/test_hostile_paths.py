"""Hostile files in a dataset: never a hang, never a read outside the dataset, never a silent
fallback, never a decompression bomb in the records (docs/problems.md, "Hostile input").

A named pipe under a dataset file's name would block a plain open() forever; these tests run
under an alarm, so a regression fails with `Hang` instead of hanging the suite.
"""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from hangs import fails_after

import tfrconv
from tests import datasets
from tfrconv.detect import detect_formats

SECONDS = 20


@pytest.fixture
def no_hang():
    """Fail (Hang) instead of blocking forever in an open() or read()."""
    with fails_after(SECONDS, "the test"):
        yield


def image_of(root, width: int, height: int) -> str:
    """The dataset's image file of that size (every standard picture has its own size)."""
    from PIL import Image

    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".jpg"):
                with Image.open(path) as image:
                    if image.size == (width, height):
                        return path
    raise AssertionError(f"no {width}x{height} image under {root}")


def make_fifo(path: str) -> None:
    os.unlink(path)
    os.mkfifo(path)


def problem_counts(summary) -> dict[str, int]:
    return {kind: entry["count"] for kind, entry in summary.problems.items()}


# -- named pipes and devices: a problem with its policy, never a hang ---------------------------
@pytest.mark.parametrize("fmt", datasets.FORMATS)
def test_an_image_that_is_a_named_pipe_is_a_problem_not_a_hang(fmt, tmp_path, no_hang):
    pictures = datasets.standard_pictures()
    layout, options = datasets.make(fmt, tmp_path / "data", pictures)
    make_fifo(image_of(tmp_path / "data", pictures[1].width, pictures[1].height))

    with pytest.raises(tfrconv.DataError) as caught:     # Pets skips bad images by default
        datasets.convert(layout, options, tmp_path / "out1", on_bad_image="error",
                         on_missing_image="error")
    assert "\n" not in str(caught.value)

    summary = datasets.convert(layout, options, tmp_path / "out2", on_bad_image="skip",
                               on_missing_image="skip")
    assert summary.examples == len(pictures) - 1
    # Formats that list the image folder never list a pipe: its boxes name a missing image.
    assert sum(problem_counts(summary).get(k, 0) for k in ("bad_image", "missing_image")) == 1


def test_a_named_pipe_image_is_bad_image_naming_the_file(tmp_path, no_hang):
    pictures = datasets.standard_pictures()
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    pipe = image_of(tmp_path / "data", pictures[1].width, pictures[1].height)
    make_fifo(pipe)
    with pytest.raises(tfrconv.DataError, match="named pipe") as caught:
        datasets.convert(layout, options, tmp_path / "out")
    # From the library, the hint names the keyword (the CLI says --on-bad-image).
    assert pipe in str(caught.value) and "on_bad_image='skip'" in str(caught.value)


@pytest.mark.parametrize("fmt", ["voc", "pets", "kitti"])
def test_an_annotation_that_is_a_named_pipe_is_bad_annotation(fmt, tmp_path, no_hang):
    pictures = datasets.standard_pictures()
    layout, options = datasets.make(fmt, tmp_path / "data", pictures)
    make_fifo(layout.annotation_file(str(tmp_path / "data"), 2))
    with pytest.raises(tfrconv.DataError):
        datasets.convert(layout, options, tmp_path / "out1", on_error="error")
    summary = datasets.convert(layout, options, tmp_path / "out2", on_error="skip")
    assert summary.examples == len(pictures) - 1
    assert problem_counts(summary) == {"bad_annotation": 1}


def test_an_image_list_that_is_a_named_pipe_is_an_error_not_a_hang(tmp_path, no_hang):
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    listing = tmp_path / "data" / "ImageSets" / "Main" / "cats_train.txt"
    listing.parent.mkdir(parents=True)
    os.mkfifo(listing)
    with pytest.raises(tfrconv.DataError, match="named pipe") as caught:
        datasets.convert(layout, options, tmp_path / "out")
    assert str(listing) in str(caught.value)


@pytest.mark.parametrize("where", [
    "Annotations/x.xml", "annotations/instances_val.json", "labels.csv",
    "training/label_2/000000.txt", "annotations/xmls/a_1.xml"])
def test_detect_format_does_not_hang_on_a_named_pipe(where, tmp_path, no_hang):
    pipe = tmp_path / where
    pipe.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "training" / "image_2").mkdir(parents=True, exist_ok=True)
    (tmp_path / "images").mkdir(exist_ok=True)
    os.mkfifo(pipe)
    report = detect_formats(tmp_path)
    assert report.verdict == "none"
    assert not report.others("detect failed")


# -- reads outside the dataset ------------------------------------------------------------------
def test_an_image_list_entry_cannot_reach_an_annotation_outside_the_dataset(tmp_path):
    pictures = datasets.standard_pictures()
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.xml").write_text(datasets.voc_xml("img0.jpg", pictures[0], layout.names))
    main = tmp_path / "data" / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("img0\n../../outside/evil\n")

    with pytest.raises(tfrconv.DataError, match="outside the annotation folder") as caught:
        datasets.convert(layout, options, tmp_path / "out1")
    assert "evil.xml" in str(caught.value)
    summary = datasets.convert(layout, options, tmp_path / "out2", on_error="skip")
    assert summary.examples == 1 and problem_counts(summary) == {"bad_annotation": 1}


def test_an_annotation_symlink_pointing_outside_is_refused(tmp_path):
    pictures = datasets.standard_pictures()
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    outside = tmp_path / "elsewhere.xml"
    annotation = layout.annotation_file(str(tmp_path / "data"), 0)
    os.replace(annotation, outside)
    os.symlink(outside, annotation)
    with pytest.raises(tfrconv.DataError, match="outside the annotation folder"):
        datasets.convert(layout, options, tmp_path / "out")


# -- the dataset's own label map: present but unusable is an error, never "absent" -------------
@pytest.mark.parametrize("target", ["missing.pbtxt", "/dev/zero"])
def test_an_unusable_dataset_label_map_is_an_error_not_the_pascal_map(target, tmp_path,
                                                                       no_hang):
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    options.pop("label_map")
    own = tmp_path / "data" / "label_map.pbtxt"
    own.unlink()
    os.symlink(target, own)
    with pytest.raises(tfrconv.DataError, match="label map") as caught:
        datasets.convert(layout, options, tmp_path / "out")
    assert str(own) in str(caught.value)
    assert not os.path.exists(tmp_path / "out" / "data.record")


def test_without_a_dataset_label_map_voc_still_uses_pascal(tmp_path):
    pictures = [datasets.Picture(32, 24, (datasets.Box(datasets.A, 2, 2, 12, 10),))]
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    options.pop("label_map")
    os.unlink(tmp_path / "data" / "label_map.pbtxt")
    summary = datasets.convert(layout, options, tmp_path / "out")
    assert "pascal" in summary.label_map


# -- decompression bombs ------------------------------------------------------------------------
def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height gray pixels, with a tiny (bogus) IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
            + chunk(b"IEND", b""))


def bomb_dataset(tmp_path, width: int, height: int):
    pictures = datasets.standard_pictures()[:2]
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    path = layout.annotation_file(str(tmp_path / "data"), 0)
    with open(path, encoding="utf-8") as fileobj:
        xml = fileobj.read()
    xml = xml.replace("<filename>img0.jpg</filename>", "<filename>img0.png</filename>")
    xml = xml.replace(f"<width>{pictures[0].width}</width>", f"<width>{width}</width>")
    xml = xml.replace(f"<height>{pictures[0].height}</height>", f"<height>{height}</height>")
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(xml)
    png = tmp_path / "data" / "JPEGImages" / "img0.png"
    png.write_bytes(bomb_png(width, height))
    return layout, options, str(png)


def test_a_decompression_bomb_is_bad_image_by_default(tmp_path):
    layout, options, png = bomb_dataset(tmp_path, 30000, 30000)
    with pytest.raises(tfrconv.DataError, match="900,000,000 pixels") as caught:
        datasets.convert(layout, options, tmp_path / "out1")
    assert png in str(caught.value) and "--max-image-pixels" in str(caught.value)
    summary = datasets.convert(layout, options, tmp_path / "out2", on_bad_image="skip")
    assert summary.examples == 1 and problem_counts(summary) == {"bad_image": 1}


def test_the_pixel_limit_is_an_option(tmp_path):
    layout, options, _png = bomb_dataset(tmp_path, 300, 300)      # 90,000 pixels
    with pytest.raises(tfrconv.DataError, match="more than the limit of 50,000"):
        datasets.convert(layout, options, tmp_path / "out1", max_image_pixels=50_000)
    summary = datasets.convert(layout, options, tmp_path / "out2", max_image_pixels=90_000)
    assert summary.examples == 2
    summary = datasets.convert(layout, options, tmp_path / "out3", max_image_pixels=0)
    assert summary.examples == 2
    with pytest.raises(tfrconv.UsageError, match="--max-image-pixels"):
        datasets.convert(layout, options, tmp_path / "out4", max_image_pixels=-1)
