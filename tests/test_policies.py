"""Problem policies, for every builtin format: a box outside the image (error, clip, skip), a
class missing from the label map (error, skip), a missing image file (error, skip), and
--max-errors. Errors are one line naming the file (or the class) on the command line and leave
no output; skips and clips are counted, and the records hold exactly what is left."""

from __future__ import annotations

import os

import pytest
from datasets import (
    BAD_BOX_PICTURES,
    FORMATS,
    command_line,
    make,
    shard_files,
    snapshot,
    standard_pictures,
    with_bad_box,
    with_missing_image,
    with_unknown_class,
)
from datasets import convert as run_in_process

import tfrconv
from tfrconv.cli import main as cli_main

CASES = {
    # case: (the broken pictures, problem kind, option, what the error names)
    "bad_box": (with_bad_box, "bad_box", "on_bad_box", "annotation"),
    "unknown_class": (with_unknown_class, "unknown_class", "on_unknown_class", "class"),
    "missing_image": (with_missing_image, "missing_image", "on_missing_image", "annotation"),
}
BROKEN_PICTURE = {"bad_box": BAD_BOX_PICTURES[0], "unknown_class": 3, "missing_image": 1}


def run(layout, options, out, **extra):
    return run_in_process(layout, options, out, num_shards=1, **extra)


def records(layout, out) -> dict[str, dict]:
    """source id → features, over every output (one shard each)."""
    found = {}
    for record in layout.outputs(str(out)).values():
        for path in shard_files(record, 1):
            for features in tfrconv.read_examples(path):
                found[features["image/source_id"][0].decode()] = features
    return found


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", FORMATS)
def test_error_policy_is_one_line_naming_the_file(tmp_path, capsys, name, case):
    breaking, _kind, _option, named = CASES[case]
    root = tmp_path / "data"
    layout, options = make(name, root, breaking(standard_pictures()))
    out = tmp_path / "out"
    assert cli_main(command_line(layout, options, out, workers=1)) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("tfrconv: ") and "Traceback" not in error
    if named == "annotation":
        assert layout.annotation_file(str(root), BROKEN_PICTURE[case]) in error
    else:
        assert repr(layout.names["unknown"]) in error
    assert snapshot(out) == {}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", FORMATS)
def test_skip_policy_drops_and_counts(tmp_path, name, case):
    breaking, kind, option, _named = CASES[case]
    pictures = breaking(standard_pictures())
    root = tmp_path / "data"
    layout, options = make(name, root, pictures)
    out = tmp_path / "out"
    summary = run(layout, options, out, **{option: "skip"})
    boxes = sum(len(p.boxes) for p in pictures)
    broken = BROKEN_PICTURE[case]
    written = records(layout, out)
    (offender,) = summary.problems[kind]["first"]
    assert summary.problems[kind]["count"] == 1 and offender["action"] == "skipped"
    if case == "missing_image":      # an image's problem names the image file itself
        assert offender["file"] != layout.annotation_file(str(root), broken)
        assert offender["file"].startswith(str(root)) and not os.path.exists(offender["file"])
    else:
        assert layout.annotation_file(str(root), broken) in offender["file"]
    if case == "missing_image":                     # the whole image goes
        assert (summary.examples, summary.skipped_images) == (len(pictures) - 1, 1)
        assert summary.objects == boxes - len(pictures[broken].boxes)
        assert layout.source_id(broken) not in written
    else:                                           # one object goes, its image stays
        assert (summary.examples, summary.skipped_images) == (len(pictures), 0)
        assert (summary.objects, summary.skipped_objects) == (boxes - 1, 1)
        kept = written[layout.source_id(broken)]["image/object/bbox/xmax"]
        assert len(kept) == len(pictures[broken].boxes) - 1
    assert len(written) == summary.examples
    assert sum(len(f["image/object/bbox/xmin"]) for f in written.values()) == summary.objects


@pytest.mark.parametrize("name", FORMATS)
def test_clip_policy_moves_the_box_inside(tmp_path, name):
    pictures = with_bad_box(standard_pictures())
    layout, options = make(name, tmp_path / "data", pictures)
    out = tmp_path / "out"
    summary = run(layout, options, out, on_bad_box="clip")
    broken = pictures[BAD_BOX_PICTURES[0]]
    # (clipped_boxes counts the quiet clips within --box-tolerance: docs/problems.md)
    assert summary.problems["bad_box"]["count"] == 1
    assert summary.problems["bad_box"]["first"][0]["action"] == "clipped"
    assert summary.objects == sum(len(p.boxes) for p in pictures)
    features = records(layout, out)[layout.source_id(BAD_BOX_PICTURES[0])]
    box = broken.boxes[0]
    assert features["image/object/bbox/xmax"][0] == 1.0
    assert features["image/object/bbox/xmin"][0] == pytest.approx(box.xmin / broken.width)
    assert features["image/object/bbox/ymax"][0] == pytest.approx(box.ymax / broken.height)


@pytest.mark.parametrize("name", FORMATS)
def test_max_errors_stops_a_run_with_more_skipped_problems(tmp_path, name):
    pictures = with_bad_box(standard_pictures(), which=BAD_BOX_PICTURES)      # two problems
    layout, options = make(name, tmp_path / "data", pictures)
    with pytest.raises(tfrconv.DataError, match=r"more than 1 problems were skipped"):
        run(layout, options, tmp_path / "strict", on_bad_box="skip", max_errors=1)
    assert snapshot(tmp_path / "strict") == {}
    summary = run(layout, options, tmp_path / "lenient", on_bad_box="skip", max_errors=2)
    assert summary.skipped_objects == 2 and summary.problems["bad_box"]["count"] == 2
