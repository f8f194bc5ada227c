"""`tfrconv detect-format` and `tfrconv convert` without a format name.

Builtin formats are tried on their fixtures; ambiguity and third-party participation use
throwaway formats registered in-process with `temporary_plugin`.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from tfrconv import Detection, FormatSpec, Object, Option, Sample, hookimpl
from tfrconv.cli import main
from tfrconv.detect import choose_format, detect_formats
from tfrconv.errors import UsageError
from tfrconv.plugins import temporary_plugin

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- a throwaway format: "toy" lists images and boxes in a text file ---------------------------
def _toy_detect(path: str) -> Detection:
    listing = os.path.join(path, "toy.txt")
    if not os.path.isfile(listing):
        return Detection(0.0, f"no toy.txt in {path}")
    return Detection(0.9, "toy.txt lists images and boxes")


def _toy_items(opts):
    with open(os.path.join(opts.data_dir, opts.list_name), encoding="utf-8") as fileobj:
        return [line.split() for line in fileobj if line.strip()]


def _toy_read(item, opts) -> Sample:
    name, label, *box = item
    return Sample(source_id=name, filename=name, image_path=os.path.join(opts.data_dir, name),
                  objects=[Object(label, *map(float, box))], image_root=opts.data_dir)


def toy_spec(name="toy", detect=_toy_detect, with_data_dir=True) -> FormatSpec:
    options = (Option("list_name", "the list file", default="toy.txt"),)
    if with_data_dir:
        options = (Option("data_dir", "the folder", "path", required=True),) + options
    return FormatSpec(name=name, help=f"{name} test format", options=options,
                      list_items=_toy_items, read_item=_toy_read, detect=detect)


class Formats:
    """A plugin object registering the given specs."""

    def __init__(self, *specs: FormatSpec) -> None:
        self.specs = specs

    @hookimpl
    def register_formats(self, register):
        for spec in self.specs:
            register(spec)


def make_toy(folder, list_name="toy.txt"):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    Image.new("RGB", (40, 30), (10, 200, 10)).save(os.path.join(folder, "a.png"))
    Image.new("RGB", (40, 30), (200, 10, 10)).save(os.path.join(folder, "b.png"))
    with open(os.path.join(folder, list_name), "w", encoding="utf-8") as fileobj:
        fileobj.write("a.png leaf 4 3 20 15\nb.png berry 10 10 30 25\n")
    return str(folder)


# -- detect-format ---------------------------------------------------------------------------
def test_voc_fixtures_are_detected(shapes_voc, capsys):
    for folder in (shapes_voc, shapes_voc / "VOC2012", os.path.join(REPO, "samples",
                                                                      "VOCdevkit")):
        report = detect_formats(folder)
        assert report.verdict == "unique", report.lines()
        assert report.matches[0].format == "voc" and report.matches[0].confidence > 0.5
    assert main(["detect-format", str(shapes_voc)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{shapes_voc} looks like voc"
    assert re.search(r"\n  voc +1\.00  ", out)


def test_empty_folder_matches_nothing_and_says_why(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    report = detect_formats(empty)
    assert report.verdict == "none" and not report.matches
    voc = next(r for r in report.results if r.format == "voc")
    assert voc.status == "no match" and "Annotations" in voc.reason
    assert main(["detect-format", str(empty)]) == 1
    out = capsys.readouterr().out
    assert "does not look like any registered format" in out
    assert "not matching:" in out and "voc" in out
    assert main(["detect-format", str(empty), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "none" and data["detected"] == []
    assert any(r["format"] == "voc" and r["reason"] for r in data["rejected"])


def test_ambiguous_folder_lists_both_formats(tmp_path, capsys):
    folder = make_toy(tmp_path / "data")
    plugin = Formats(toy_spec("toy"), toy_spec("toy2", detect=lambda p: Detection(
        0.5, "also has a toy.txt") if os.path.isfile(os.path.join(p, "toy.txt"))
        else Detection(0, "no toy.txt")))
    with temporary_plugin(plugin, "throwaway"):
        report = detect_formats(folder)
        assert report.verdict == "ambiguous"
        assert [r.format for r in report.matches] == ["toy", "toy2"]     # best first
        assert main(["detect-format", folder]) == 1
        out = capsys.readouterr().out
        assert "matches 2 formats: toy, toy2" in out and "0.90" in out and "0.50" in out
        assert main(["detect-format", folder, "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["detected"] == ["toy", "toy2"]
        # convert refuses to guess, and says how to choose
        assert main(["convert", "--data-dir", folder, "--output",
                     str(tmp_path / "x.record")]) == 2
        err = capsys.readouterr().err
        assert "matches 2 formats" in err and "--format toy" in err
        assert not os.path.exists(tmp_path / "x.record")


def test_formats_without_detection_and_broken_detectors(shapes_voc, capsys):
    def raises(path):
        raise RuntimeError("boom")

    plugin = Formats(toy_spec("silent", detect=None), toy_spec("crashy", detect=raises),
                     toy_spec("odd", detect=lambda path: (1.0, "a tuple")),
                     toy_spec("picky", detect=lambda path: Detection(float("nan"), "?")))
    with temporary_plugin(plugin, "throwaway"):
        report = detect_formats(shapes_voc)
        status = {r.format: r.status for r in report.results}
        assert status["voc"] == "match" and status["silent"] == "no detection"
        assert status["crashy"] == status["odd"] == status["picky"] == "detect failed"
        assert report.verdict == "unique"
        assert main(["detect-format", str(shapes_voc)]) == 0
        out = capsys.readouterr().out
        assert "RuntimeError: boom" in out and "not a tfrconv.Detection" in out
        assert "no detection" in out and "silent" in out


def test_a_third_party_format_takes_part(tmp_path):
    folder = make_toy(tmp_path / "data")
    with temporary_plugin(Formats(toy_spec()), "throwaway"):
        spec, report = choose_format(folder)
        assert spec.name == "toy"
        voc = next(r for r in report.results if r.format == "voc")
        assert voc.status == "no match"


def test_descends_into_an_only_subfolder(shapes_voc, tmp_path):
    wrapper = tmp_path / "download"
    shutil.copytree(shapes_voc, wrapper / "unpacked" / "VOCdevkit")
    report = detect_formats(wrapper)
    assert report.verdict == "unique"
    assert report.searched == str(wrapper / "unpacked" / "VOCdevkit")
    assert "the only folder inside" in report.lines()[0]


def test_missing_folder_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(UsageError):
        detect_formats(tmp_path / "nope")
    assert main(["detect-format", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


# -- convert without a format ----------------------------------------------------------------
def test_convert_detects_voc_and_takes_its_options(shapes_voc, tmp_path, capsys):
    import tfrconv

    auto = tmp_path / "auto" / "val.record"
    named = tmp_path / "named" / "val.record"
    assert main(["convert", "--data-dir", str(shapes_voc), "--set", "val", "--output",
                 str(auto), "--workers", "1", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "looks like voc" in captured.err and "wrote" in captured.out
    assert main(["voc", "--data-dir", str(shapes_voc), "--set", "val", "--output",
                 str(named), "--workers", "1", "--no-progress"]) == 0
    assert auto.read_bytes() == named.read_bytes()
    assert len(list(tfrconv.read_examples(str(auto)))) > 0


def test_convert_takes_the_folder_as_first_argument(shapes_voc, tmp_path, capsys):
    out = tmp_path / "x.record"
    assert main(["convert", str(shapes_voc), "--set", "val", "--output", str(out),
                 "--workers", "1", "--no-progress"]) == 0
    assert out.exists() and "looks like voc" in capsys.readouterr().err


def test_convert_help_shows_the_detected_formats_options(shapes_voc, capsys):
    assert main(["convert", "--data-dir", str(shapes_voc), "--help"]) == 0
    out = capsys.readouterr().out
    assert "looks like voc" in out and "--year" in out and "--output" in out
    assert main(["convert", "--help"]) == 0
    assert "--data-dir DIR" in capsys.readouterr().out


def test_convert_without_a_folder_or_with_an_empty_one(tmp_path, capsys):
    assert main(["convert", "--output", str(tmp_path / "x.record")]) == 2
    assert "--data-dir" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["convert", "--data-dir", str(tmp_path / "empty"), "--output",
                 str(tmp_path / "x.record")]) == 2
    err = capsys.readouterr().err
    assert "does not look like any registered format" in err and "voc:" in err
    assert "--format" in err


def test_convert_a_third_party_format_with_its_own_options(tmp_path, capsys):
    from odapi import parse_records

    folder = make_toy(tmp_path / "data", list_name="mine.txt")
    (tmp_path / "data" / "toy.txt").write_text("")        # what detection looks for
    out = tmp_path / "toy.record"
    with temporary_plugin(Formats(toy_spec()), "throwaway"):
        assert main(["convert", "--data-dir", folder, "--list-name", "mine.txt", "--output",
                     str(out), "--num-shards", "1", "--workers", "1", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["format"] == "toy" and summary["examples"] == 2
        texts = sorted(r["image/object/class/text"][0] for r in parse_records(str(out)))
        assert texts == [b"berry", b"leaf"]
        # an option no format has is refused before anything is written
        with pytest.raises(SystemExit) as exit_info:
            main(["convert", "--data-dir", folder, "--output", str(tmp_path / "y.record"),
                  "--colour", "red"])
        assert exit_info.value.code == 2
        assert "unrecognized arguments: --colour" in capsys.readouterr().err
        assert not (tmp_path / "y.record").exists()


def test_convert_with_a_named_format(tmp_path, shapes_voc, capsys):
    out = tmp_path / "x.record"
    assert main(["convert", "--format", "voc", "--data-dir", str(shapes_voc), "--output",
                 str(out), "--workers", "1", "--no-progress"]) == 0
    assert out.exists() and "(--format)" in capsys.readouterr().err
    assert main(["convert", "--format", "nosuch", "--data-dir", str(shapes_voc)]) == 2
    assert "unknown format 'nosuch'" in capsys.readouterr().err


def _listed_items(opts):
    with open(opts.list_file, encoding="utf-8") as fileobj:
        return [line.split() for line in fileobj if line.strip()]


def _listed_read(item, opts) -> Sample:
    folder = os.path.dirname(opts.list_file)
    name, label, *box = item
    return Sample(source_id=name, filename=name, image_path=os.path.join(folder, name),
                  objects=[Object(label, *map(float, box))], image_root=folder)


def listed_spec(suggest: bool) -> FormatSpec:
    """A format read from a list file (no --data-dir), whose detection may name that file."""
    def detect(path):
        listing = os.path.join(path, "toy.txt")
        if not os.path.isfile(listing):
            return Detection(0.0, "no toy.txt")
        return Detection(0.8, "toy.txt found", {"list_file": listing} if suggest else {})

    return FormatSpec(name="listed", help="list-file format",
                      options=(Option("list_file", "the list", "path", required=True),),
                      list_items=_listed_items, read_item=_listed_read, detect=detect)


def test_detection_names_the_options_of_a_format_without_data_dir(tmp_path, capsys):
    folder = make_toy(tmp_path / "data")
    out = tmp_path / "x.record"
    with temporary_plugin(Formats(listed_spec(suggest=True)), "throwaway"):
        assert main(["detect-format", folder]) == 0
        assert f"convert with: --list-file {folder}/toy.txt" in capsys.readouterr().out
        assert main(["convert", "--data-dir", folder, "--output", str(out), "--workers", "1",
                     "--no-progress"]) == 0
        err = capsys.readouterr().err
        assert "looks like listed" in err and "using --list-file" in err
        assert len(list(__import__("tfrconv").read_examples(str(out)))) == 2
        # the user's own value wins over detection's
        other = make_toy(tmp_path / "other", list_name="one.txt")
        with open(os.path.join(other, "one.txt"), "w", encoding="utf-8") as fileobj:
            fileobj.write("a.png leaf 4 3 20 15\n")
        out.unlink()
        assert main(["convert", "--data-dir", folder, "--list-file", f"{other}/one.txt",
                     "--output", str(out), "--workers", "1", "--no-progress"]) == 0
        assert len(list(__import__("tfrconv").read_examples(str(out)))) == 1


def test_detected_format_without_data_dir_or_options_explains(tmp_path, capsys):
    folder = make_toy(tmp_path / "data")
    with temporary_plugin(Formats(listed_spec(suggest=False)), "throwaway"):
        assert main(["convert", "--data-dir", folder, "--output",
                     str(tmp_path / "x.record")]) == 2
        err = capsys.readouterr().err
        assert "looks like listed" in err and "does not read a --data-dir" in err
        assert "--list-file" in err
        # naming the format's own option is enough
        assert main(["convert", "--data-dir", folder, "--list-file", f"{folder}/toy.txt",
                     "--output", str(tmp_path / "x.record"), "--workers", "1",
                     "--no-progress"]) == 0


def test_detector_suggesting_unknown_options_is_reported(tmp_path):
    folder = make_toy(tmp_path / "data")
    spec = toy_spec("bad", detect=lambda p: Detection(0.9, "yes", {"colour": "red"}))
    with temporary_plugin(Formats(spec), "throwaway"):
        result = next(r for r in detect_formats(folder).results if r.format == "bad")
        assert result.status == "detect failed" and "colour" in result.reason


def test_other_commands_still_reject_unknown_arguments(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["formats", "--bogus"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


# -- every registered format (builtin ones included, whoever wrote them) -----------------------
def _registered_detectors():
    from tfrconv.plugins import get_registry

    return sorted(s.name for s in get_registry().formats.values() if s.detect is not None)


@pytest.mark.parametrize("name", _registered_detectors())
def test_every_detector_rejects_an_empty_folder_with_a_reason(tmp_path, name):
    from tfrconv.detect import NO_MATCH, ask
    from tfrconv.plugins import get_registry

    result = ask(get_registry().format(name), str(tmp_path))
    assert result.status == NO_MATCH and result.reason and result.reason != "(no reason given)"


def test_only_voc_claims_a_voc_folder(shapes_voc):
    """Another format claiming VOC folders would make `convert` ambiguous on them."""
    report = detect_formats(shapes_voc)
    assert [r.format for r in report.matches] == ["voc"], report.lines()


@pytest.mark.parametrize("fmt", ["coco", "csv"])
def test_convert_formats_read_from_a_file_option(tmp_path, capsys, fmt):
    """COCO and CSV are read from a file, not a folder: detection names it for convert."""
    import tfrconv

    root = tmp_path / fmt
    if fmt == "coco":
        from test_coco import standard_dataset

        standard_dataset(str(root))
    else:
        from test_csv import make_csv

        make_csv(root)
    out = tmp_path / "auto.record"
    assert main(["convert", str(root), "--output", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    assert f"looks like {fmt}" in capsys.readouterr().err
    assert len(list(tfrconv.read_examples(str(out)))) >= 3


def test_convert_explains_several_coco_splits(tmp_path, capsys):
    from test_coco import standard_dataset

    root = tmp_path / "coco"
    standard_dataset(str(root))
    annotations = root / "annotations"
    (annotations / "instances_train2017.json").write_text(
        (annotations / "instances_val2017.json").read_text())
    assert main(["convert", str(root), "--output", str(tmp_path / "x.record")]) != 0
    captured = capsys.readouterr()
    assert "2 COCO annotation files" in captured.out + captured.err
    assert "--annotations-file" in captured.out + captured.err
