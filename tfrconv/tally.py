"""One run's bookkeeping, the same for every runner: what is counted, what is dropped and when
the run stops.

The rules live here once: which problems count toward `--max-errors`, the duplicate-id policy
(the first example with a source id stays), per-split counts of what was written, and the
refusal to publish a run that wrote nothing. The local runner feeds a `Tally` one result at a
time in input order; the Beam runner applies the same functions on its workers and fills a
`Tally` from the pipeline's results afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import DataError, OptionHint
from .problems import Problem, ProblemLog
from .seen import SeenHashes
from .sharding import stable_hash

# Problems handled by dropping or altering data: these count toward --max-errors.
SKIPPING_ACTIONS = frozenset(("skipped", "clipped"))


def skipping(problems: Iterable[Problem]) -> int:
    """How many of `problems` count toward --max-errors."""
    return sum(1 for problem in problems if problem.action in SKIPPING_ACTIONS)


def check_max_errors(skipped_problems: int, limit: int | None) -> None:
    """DataError once more than `limit` problems were skipped (None: no limit)."""
    if limit is not None and skipped_problems > limit:
        raise DataError(f"stopped: more than {limit} problems were skipped (--max-errors "
                        f"{limit}); see the report for what went wrong")


def duplicate_id_problem(source_id: str, policy: str, file: str | None = None) -> Problem:
    """The problem of a second example with `source_id` (read from `file`). Under policy `skip`
    it is dropped (action "skipped"); under `error` the returned problem (no action) stops the
    run, and the conversion names every file with that id."""
    return Problem("duplicate_id", f"source id {source_id!r} appears twice", file, source_id,
                   "" if policy == "error" else "skipped")


class SplitCounts:
    """What was written to one output (or one shard of it)."""

    __slots__ = ("examples", "objects", "skipped_objects", "clipped", "classes", "images")

    def __init__(self) -> None:
        self.examples = 0
        self.objects = 0
        self.skipped_objects = 0
        self.clipped = 0
        self.classes: Counter = Counter()     # class text → objects
        self.images: Counter = Counter()      # class text → examples with at least one

    def add(self, labels: tuple[str, ...], skipped_objects: int, clipped: int) -> None:
        """One written example with objects of classes `labels` (runs once per example)."""
        self.examples += 1
        self.objects += len(labels)
        self.skipped_objects += skipped_objects
        self.clipped += clipped
        if labels:                     # (item updates: Counter.update costs several µs)
            classes, images = self.classes, self.images
            for label in labels:
                classes[label] += 1
            for label in (set(labels) if len(labels) > 1 else labels):
                images[label] += 1

    def merge(self, other: SplitCounts) -> None:
        self.examples += other.examples
        self.objects += other.objects
        self.skipped_objects += other.skipped_objects
        self.clipped += other.clipped
        self.classes.update(other.classes)
        self.images.update(other.images)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (how Beam workers hand a shard's counts to the driver)."""
        return {"examples": self.examples, "objects": self.objects,
                "skipped_objects": self.skipped_objects, "clipped": self.clipped,
                "classes": dict(self.classes), "images": dict(self.images)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SplitCounts:
        counts = cls()
        counts.examples, counts.objects = values["examples"], values["objects"]
        counts.skipped_objects, counts.clipped = values["skipped_objects"], values["clipped"]
        counts.classes.update(values["classes"])
        counts.images.update(values["images"])
        return counts


class DuplicateImages:
    """Exact duplicate images, found by their SHA-256 (computed anyway for image/key/sha256),
    in input order: a compact table of 64-bit prefixes per split (`seen.py`), so an image
    repeated in another split (leakage) is told apart from one repeated in its own."""

    ACTIONS = {"warn": "kept", "skip": "skipped", "error": "error"}

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.seen: dict[str | None, SeenHashes] = {}

    def check(self, sha256: str, split: str | None, where: str | None,
              source_id: str | None) -> Problem | None:
        """None for a first occurrence; else the problem, its action the policy's."""
        digest = int(sha256[:16], 16)
        own = self.seen.get(split)
        if own is None:              # (not setdefault: a new table is 16 KB to zero)
            own = self.seen[split] = SeenHashes()
        if digest in own:
            what = "an earlier image" + (f" of split {split!r}" if split is not None else "")
        else:
            other = next((name for name, table in self.seen.items()
                          if name != split and digest in table), None)
            if other is None:
                own.add(digest)
                return None
            what = f"an image of split {other!r} (leakage between splits)"
            if self.policy != "skip":
                own.add(digest)
        return Problem("duplicate_image", f"the same image bytes as {what}", where, source_id,
                       self.ACTIONS[self.policy])


class Tally:
    """Counts, problems and policies of one run; what the summary and manifests report.

    `stop(problem)` returns the exception to raise for a problem whose policy is `error`
    (the conversion's: it names every unknown class at once).
    """

    def __init__(self, splits: Iterable[str | None], log: ProblemLog, *,
                 duplicate_policy: str, max_errors: int | None,
                 stop: Callable[[Problem], Exception], allow_no_objects: bool = True,
                 duplicate_image: str = "keep",
                 check_classes: Callable[[list[str]], None] | None = None,
                 near_duplicates: Any = None, near_duplicate_policy: str = "warn") -> None:
        self.splits = {split: SplitCounts() for split in splits}
        self.log = log
        self.skipped_images = 0
        self.skipped_problems = 0
        self.duplicate_policy = duplicate_policy
        self.max_errors = max_errors
        self.stop = stop
        self.seen_ids = SeenHashes()
        self.allow_no_objects = allow_no_objects
        self.duplicate_images = None if duplicate_image == "keep" else \
            DuplicateImages(duplicate_image)
        # A transform's class check deferred to the end of the run (`Conversion.
        # check_transforms`): the classes every annotation gave, as the workers noted them.
        self.check_classes = check_classes
        self.read_classes: set[str] = set()
        # --near-duplicates: a `transforms.near_duplicates.LeakageIndex` of the images written.
        self.near_duplicates = near_duplicates
        self.near_duplicate_policy = near_duplicate_policy

    def admit(self, result: Any) -> bool:
        """Account for one build result (a `build.Result`), in input order: log its problems,
        stop on a fatal one, drop a duplicate source id, enforce --max-errors. Whether its
        example is to be written; the caller then counts it with `splits[split].add`."""
        for problem in result.problems:
            self.log.add(problem)
            if problem.action in SKIPPING_ACTIONS:
                self.skipped_problems += 1
        if result.fatal is not None:
            raise self.stop(result.fatal)
        if self.check_classes is not None and result.notes:
            self.read_classes.update(result.notes.get("read_classes", ()))
        if result.payload is not None and result.source_id is not None and \
                not self.seen_ids.add(stable_hash(result.source_id)):
            problem = duplicate_id_problem(result.source_id, self.duplicate_policy,
                                           getattr(result, "origin", None))
            if problem.action not in SKIPPING_ACTIONS:
                raise self.stop(problem)
            self.log.add(problem)
            self.skipped_problems += 1
            result.payload = None
        if self.duplicate_images is not None and result.payload is not None:
            self.check_duplicate_image(result)
        check_max_errors(self.skipped_problems, self.max_errors)
        if result.payload is None:
            self.skipped_images += 1
            return False
        if self.near_duplicates is not None and result.notes:
            self.check_near_duplicates(result)
        return True

    def check_near_duplicates(self, result: Any) -> None:
        """--near-duplicates: a written image that looks like one written to another split."""
        value = result.notes.get("perceptual_hash")
        if value is None:
            return
        name = result.source_id or result.origin or "an image"
        for problem in self.near_duplicates.add(value, result.split, name, result.origin,
                                                result.source_id):
            if self.near_duplicate_policy == "error":
                raise DataError(problem.message, file=problem.file, hint=OptionHint(
                    "on_near_duplicate", "warn", "to report them and go on, {option}"))
            self.log.add(problem)

    def check_duplicate_image(self, result: Any) -> None:
        """--on-duplicate-image: the same bytes as an earlier image (same split or another)."""
        problem = self.duplicate_images.check(result.image_sha256, result.split,
                                              result.origin, result.source_id)
        if problem is None:
            return
        if problem.action == "error":
            raise DataError(problem.message, file=problem.file, hint=OptionHint(
                "on_duplicate_image", "warn", "to go on, {option} (or skip, or keep)"))
        self.log.add(problem)
        if problem.action in SKIPPING_ACTIONS:
            self.skipped_problems += 1
            result.payload = None

    def totals(self) -> SplitCounts:
        """Every output's counts together."""
        total = SplitCounts()
        for counts in self.splits.values():
            total.merge(counts)
        return total

    def first_offenders(self) -> list[str]:
        """"kind xN, e.g. FILE: message" for each kind of problem logged."""
        reasons = []
        for kind, entry in self.log.as_dict().items():
            first = entry["first"][0] if entry["first"] else {}
            where = f"{first['file']}: " if first.get("file") else ""
            reasons.append(f"{kind} x{entry['count']}, e.g. {where}{first.get('message', '')}")
        return reasons

    def check_written(self) -> None:
        """Every image was skipped: fail instead of publishing empty files that look like
        success. A deferred class check (--remap of a class no annotation has) fails here
        too, before anything is published."""
        if self.check_classes is not None:
            self.check_classes(sorted(self.read_classes))
        if self.skipped_images and not any(c.examples for c in self.splits.values()):
            raise DataError(f"no example written: all {self.skipped_images} images were skipped ("
                            + "; ".join(self.first_offenders()) + "); no output files were left")
        totals = self.totals()
        if not self.allow_no_objects and totals.skipped_objects and not totals.objects:
            raise DataError(f"every object was dropped ({totals.skipped_objects} objects: "
                            + "; ".join(self.first_offenders()) + "); the records would hold "
                            "no object, so nothing was published",
                            hint=OptionHint("allow_no_objects", True,
                                            "fix the cause, or write them anyway with {option}"))
