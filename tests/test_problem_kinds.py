"""Problem kinds and their policies (`tfrconv.problems`), on known answers: which choices a
policy accepts and the exact one-line errors for the rest, the first offenders the summary
keeps, the `--report` file's lines, and the one-line error of a fatal problem with its hint.
(Found missing by mutation testing: docs/testing.md.)"""

from __future__ import annotations

import json

import pytest

from tfrconv.errors import DataError, UsageError
from tfrconv.problems import FIRST_OFFENDERS, Policies, Problem, ProblemLog, fatal


def test_defaults_then_choices_by_kind_or_by_option_name():
    # (None first: a choice left unset must not end the reading of the others)
    policies = Policies({"on_bad_image": None, "bad_box": "clip", "on_missing_image": "skip"})
    assert policies["bad_box"] == "clip"
    assert policies["missing_image"] == "skip"        # set through its option's name
    assert policies["bad_image"] == "error"           # None: the default stays
    assert policies["exif_rotated"] == "warn"         # the one kind whose default is not error
    assert policies.as_dict() == {
        "bad_box": "clip", "degenerate_box": "error", "unknown_class": "error",
        "missing_image": "skip", "bad_image": "error", "size_mismatch": "error",
        "exif_rotated": "warn", "bad_annotation": "error", "duplicate_id": "error"}


def test_a_choice_applies_after_others_before_it():
    policies = Policies({"on_bad_box": "skip", "on_degenerate_box": "skip"})
    assert (policies["bad_box"], policies["degenerate_box"]) == ("skip", "skip")


def test_an_unknown_kind_is_a_usage_error_naming_it():
    with pytest.raises(UsageError) as info:
        Policies({"bad_boxes": "skip"})
    assert str(info.value) == "no problem kind 'bad_boxes'"


def test_a_policy_the_kind_does_not_have_is_a_usage_error_listing_the_choices():
    with pytest.raises(UsageError) as info:
        Policies({"on_size_mismatch": "clip"})
    assert str(info.value) == "--on-size-mismatch: 'clip' is not one of error, skip, warn"


def test_the_first_offenders_are_kept_and_every_problem_counted():
    log = ProblemLog()
    for n in range(FIRST_OFFENDERS + 2):
        log.add(Problem("bad_box", f"box {n}", f"{n}.xml", None, "clipped"))
    log.add(Problem("missing_image", "gone", None, "img", "skipped"))
    assert log.total == FIRST_OFFENDERS + 3
    assert FIRST_OFFENDERS == 5
    assert log.as_dict() == {
        "bad_box": {"count": 7, "first": [
            {"kind": "bad_box", "message": f"box {n}", "file": f"{n}.xml", "action": "clipped"}
            for n in range(5)]},
        "missing_image": {"count": 1, "first": [
            {"kind": "missing_image", "message": "gone", "source_id": "img",
             "action": "skipped"}]},
    }


def test_the_report_file_has_one_json_line_per_problem(tmp_path):
    path = tmp_path / "report.jsonl"
    log = ProblemLog()
    log.open_report(str(path))
    assert log.report_path == str(path)
    for n in range(FIRST_OFFENDERS + 1):           # past the first offenders: still reported
        log.add(Problem("bad_box", f"box {n}", "a.xml", None, "clipped"))
    log.add(Problem("unknown_class", "class 'ü' is not in the label map"))
    log.close()
    log.close()                                    # twice is harmless
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"kind": "bad_box", "message": f"box {n}", "file": "a.xml", "action": "clipped"}
        for n in range(6)] + [{"kind": "unknown_class",
                               "message": "class 'ü' is not in the label map"}]
    assert "ü" in lines[-1]                        # written as text, not as \u escapes


def test_no_report_path_writes_nothing(tmp_path):
    log = ProblemLog()
    log.open_report(None)
    log.add(Problem("bad_box", "m"))
    log.close()
    assert list(tmp_path.iterdir()) == []
    assert log.counts == {"bad_box": 1}


def test_an_unwritable_report_is_a_usage_error_naming_it(tmp_path):
    path = tmp_path / "missing-folder" / "report.jsonl"
    with pytest.raises(UsageError) as info:
        ProblemLog().open_report(str(path))
    assert str(info.value) == f"--report: cannot write {path}: No such file or directory"


def test_a_problem_s_line_names_its_file():
    assert Problem("bad_box", "box outside", "a.xml").line() == "a.xml: box outside"
    assert Problem("bad_box", "box outside").line() == "box outside"


@pytest.mark.parametrize(("kind", "expected"), [
    ("bad_box", "box 1 is outside (to clip or skip instead: --on-bad-box clip)"),
    ("missing_image", "box 1 is outside (to skip instead: --on-missing-image skip)"),
    ("bad_annotation", "box 1 is outside (to skip instead: --on-error skip)"),
    ("size_mismatch", "box 1 is outside (to skip or warn instead: --on-size-mismatch skip)"),
    ("exif_rotated", "box 1 is outside (to warn or skip instead: --on-exif-rotated warn)"),
])
def test_a_fatal_problem_is_one_data_error_line_with_the_way_out(kind, expected):
    error = fatal(Problem(kind, "box 1 is outside", "ann/a.xml"))
    assert type(error) is DataError
    assert error.file == "ann/a.xml"
    assert error.message == expected
    assert str(error) == f"ann/a.xml: {expected}"


def test_a_problem_located_by_an_error_keeps_its_file_line_and_column():
    where = DataError("bad row", file="labels.csv", line=7, column=3)
    problem = Problem.at("bad_annotation", "bad row", where, "img1", "skipped")
    assert problem == Problem("bad_annotation", "bad row", "labels.csv:7:3", "img1", "skipped",
                              "labels.csv", 7, 3)
    error = fatal(problem)
    assert (error.file, error.line, error.column) == ("labels.csv", 7, 3)
    assert str(error) == "labels.csv:7:3: bad row (to skip instead: --on-error skip)"


def test_a_problem_located_by_a_file_name_or_nothing():
    assert Problem.at("missing_image", "gone", "a.jpg", "a") == \
        Problem("missing_image", "gone", "a.jpg", "a", "", "a.jpg")
    assert Problem.at("bad_box", "m", DataError("m")) == Problem("bad_box", "m")
    assert Problem.at("bad_box", "m", None, action="kept").action == "kept"
    assert Problem.at("bad_box", "m", "f.xml").action == ""
