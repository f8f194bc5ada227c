"""The tally's rules that test_tally.py leaves open, on known answers: an image with several
objects of one class counts once for that class, which problems count toward --max-errors, and
the exact error when every image was skipped. (Found missing by mutation testing:
docs/testing.md.)"""

from __future__ import annotations

import pytest

from tfrconv.build import Result
from tfrconv.errors import DataError
from tfrconv.problems import Problem, ProblemLog
from tfrconv.tally import SplitCounts, Tally, skipping


def test_an_image_counts_once_per_class_whatever_its_objects():
    counts = SplitCounts()
    counts.add(("cat", "cat"), 0, 0)
    counts.add(("cat", "dog", "cat"), 1, 2)
    counts.add(("dog",), 0, 0)
    counts.add((), 0, 0)
    assert counts.classes == {"cat": 4, "dog": 2}
    assert counts.images == {"cat": 2, "dog": 2}
    assert (counts.examples, counts.objects, counts.skipped_objects, counts.clipped) == \
        (4, 6, 1, 2)


def test_only_skipped_and_clipped_problems_count_toward_max_errors():
    problems = [Problem("bad_box", "m", action=action)
                for action in ("clipped", "skipped", "kept", "", "error", "kept", "skipped")]
    assert skipping(problems) == 3
    assert skipping([]) == 0


def test_every_image_skipped_is_one_error_naming_each_kind_and_its_first_offender():
    log = ProblemLog()
    log.add(Problem("missing_image", "image a.jpg not found", "ann/a.xml", "a", "skipped"))
    log.add(Problem("missing_image", "image b.jpg not found", "ann/b.xml", "b", "skipped"))
    log.add(Problem("duplicate_id", "source id 'c' appears twice", None, "c", "skipped"))
    tally = Tally(["train"], log, duplicate_policy="skip", max_errors=None,
                  stop=lambda problem: AssertionError(problem))
    tally.skipped_images = 3
    with pytest.raises(DataError) as info:
        tally.check_written()
    assert str(info.value) == (
        "no example written: all 3 images were skipped (duplicate_id x1, e.g. source id 'c' "
        "appears twice; missing_image x2, e.g. ann/a.xml: image a.jpg not found); no output "
        "files were left")


def test_a_run_that_wrote_something_or_skipped_nothing_passes():
    tally = Tally(["train", "val"], ProblemLog(), duplicate_policy="skip", max_errors=None,
                  stop=lambda problem: AssertionError(problem))
    tally.check_written()                          # nothing skipped, nothing written: empty input
    tally.skipped_images = 2
    tally.splits["val"].add(("cat",), 0, 0)
    tally.check_written()                          # one output has an example


def test_each_duplicate_and_each_dropped_image_is_counted():
    tally = Tally(["train"], ProblemLog(), duplicate_policy="skip", max_errors=None,
                  stop=lambda problem: AssertionError(problem))

    def admit(source_id, payload=True, problems=()):
        return tally.admit(Result(source_id=source_id, split="train",
                                  payload=[b"x"] if payload else None, labels=(),
                                  problems=list(problems), fatal=None))

    clipped = Problem("bad_box", "m", "f.xml", None, "clipped")
    assert admit("a", problems=[clipped])
    assert not admit("a")                          # duplicate: dropped, counted
    assert not admit("a", problems=[clipped])      # again: both count
    assert not admit("b", payload=False)           # a dropped image without a problem
    assert (tally.skipped_problems, tally.skipped_images) == (4, 3)
    assert tally.log.counts == {"bad_box": 2, "duplicate_id": 2}
