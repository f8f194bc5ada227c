"""The run's bookkeeping (`tfrconv.tally`), on hand-made results: what is kept, what is counted,
when the run stops. End to end, the same rules are checked through both runners in
test_bad_input.py, test_voc.py and test_beam.py."""

from __future__ import annotations

import pytest

from tfrconv.build import Result
from tfrconv.errors import DataError
from tfrconv.problems import Problem, ProblemLog
from tfrconv.tally import SplitCounts, Tally, check_max_errors, duplicate_id_problem


class Stop(Exception):
    pass


def new_tally(duplicate_policy="skip", max_errors=None) -> Tally:
    return Tally(["train", "val"], ProblemLog(), duplicate_policy=duplicate_policy,
                 max_errors=max_errors, stop=lambda problem: Stop(problem.kind))


def result(source_id="a", *problems, payload=True, fatal=None) -> Result:
    return Result(source_id=source_id, split="train", payload=[b"x"] if payload else None,
                  labels=("cat",), problems=list(problems), fatal=fatal)


def problem(kind="bad_box", action="clipped") -> Problem:
    return Problem(kind, "m", "f.xml", None, action)


def test_kept_results_and_their_problems_are_counted():
    tally = new_tally()
    assert tally.admit(result("a", problem(action="clipped"), problem(action="kept")))
    assert not tally.admit(result("b", problem("missing_image", "skipped"), payload=False))
    assert tally.skipped_problems == 2          # clipped and skipped count, kept does not
    assert tally.skipped_images == 1
    assert tally.log.counts == {"bad_box": 2, "missing_image": 1}


def test_a_second_source_id_is_dropped_and_logged():
    tally = new_tally()
    assert tally.admit(result("a"))
    second = result("a")
    assert not tally.admit(second)
    assert second.payload is None
    assert tally.skipped_images == 1 and tally.skipped_problems == 1
    assert tally.log.first["duplicate_id"][0].action == "skipped"
    assert not tally.admit(result("b", payload=False)) and tally.admit(result("b"))


def test_a_duplicate_under_policy_error_stops():
    tally = new_tally("error")
    tally.admit(result("a"))
    with pytest.raises(Stop, match="duplicate_id"):
        tally.admit(result("a"))


def test_a_fatal_problem_stops_after_the_results_problems_are_logged():
    tally = new_tally()
    with pytest.raises(Stop, match="unknown_class"):
        tally.admit(result("a", problem(), fatal=problem("unknown_class", "")))
    assert tally.log.counts == {"bad_box": 1}


def test_max_errors_stops_on_the_first_problem_over_the_limit():
    tally = new_tally(max_errors=2)
    tally.admit(result("a", problem(), problem()))
    with pytest.raises(DataError, match="more than 2 problems were skipped"):
        tally.admit(result("b", problem()))
    check_max_errors(5, None)                     # no limit


def test_nothing_written_fails_with_the_reasons():
    tally = new_tally()
    tally.admit(result("a", problem("missing_image", "skipped"), payload=False))
    with pytest.raises(DataError, match=r"all 1 images were skipped \(missing_image x1, e.g. "
                                        r"f.xml: m\)"):
        tally.check_written()
    tally.splits["val"].add(("cat",), 0, 0)
    tally.check_written()


def test_split_counts_add_merge_and_round_trip():
    counts = SplitCounts()
    counts.add(("cat", "dog", "cat"), 1, 2)
    counts.add((), 0, 0)
    counts.add(("dog",), 0, 1)
    assert (counts.examples, counts.objects, counts.skipped_objects, counts.clipped) == \
        (3, 4, 1, 3)
    assert counts.classes == {"cat": 2, "dog": 2}
    assert counts.images == {"cat": 1, "dog": 2}     # examples with at least one
    again = SplitCounts.from_dict(counts.as_dict())
    again.merge(counts)
    assert again.as_dict() == {"examples": 6, "objects": 8, "skipped_objects": 2, "clipped": 6,
                               "classes": {"cat": 4, "dog": 4}, "images": {"cat": 2, "dog": 4}}


def test_totals_add_every_split():
    tally = new_tally()
    tally.splits["train"].add(("cat",), 0, 1)
    tally.splits["val"].add(("cat", "dog"), 2, 0)
    totals = tally.totals()
    assert (totals.examples, totals.objects, totals.skipped_objects, totals.clipped) == \
        (2, 3, 2, 1)
    assert totals.classes == {"cat": 2, "dog": 1}


def test_duplicate_problem_names_the_id():
    assert duplicate_id_problem("x1", "skip") == Problem(
        "duplicate_id", "source id 'x1' appears twice", None, "x1", "skipped")
    assert duplicate_id_problem("x1", "error").action == ""
