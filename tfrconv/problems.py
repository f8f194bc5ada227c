"""Problem kinds, the policy for each, and the report of what happened.

Every check the core makes ends in a `Problem` of a known kind. The kind's policy decides what
happens: `error` stops the run (nothing is left under the output's name), `skip` drops the object
or the whole image, `clip` moves a box back inside the image, `warn` keeps the data as it is.
Nothing is dropped silently: every problem is counted in the summary, with its first offenders,
and written to the `--report` file when one is asked for.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import DataError, OptionHint, UsageError


@dataclass(frozen=True)
class Kind:
    name: str
    flag: str                 # command-line option that sets its policy
    policies: tuple[str, ...]
    default: str
    scope: str                # "object" (drops one object) or "image" (drops the example)
    help: str


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("bad_box", "on_bad_box", ("error", "clip", "skip"), "error", "object",
         "a box outside the image (beyond --box-tolerance)"),
    Kind("degenerate_box", "on_degenerate_box", ("error", "skip"), "error", "object",
         "a box with zero area or min > max"),
    Kind("unknown_class", "on_unknown_class", ("error", "skip"), "error", "object",
         "a class that is not in the label map"),
    Kind("missing_image", "on_missing_image", ("error", "skip"), "error", "image",
         "an image file that does not exist or cannot be read"),
    Kind("bad_image", "on_bad_image", ("error", "skip"), "error", "image",
         "an image that is corrupt, truncated or in a format the OD API cannot use"),
    Kind("size_mismatch", "on_size_mismatch", ("error", "skip", "warn"), "error", "image",
         "the annotation's image size differs from the real pixels"),
    Kind("exif_rotated", "on_exif_rotated", ("warn", "error", "skip"), "warn", "image",
         "a JPEG whose EXIF orientation rotates it (boxes would be misplaced)"),
    Kind("bad_annotation", "on_error", ("error", "skip"), "error", "image",
         "an annotation that cannot be read"),
    Kind("duplicate_id", "on_duplicate_id", ("error", "skip"), "error", "image",
         "two images with the same source id"),
)}

FIRST_OFFENDERS = 5


@dataclass(frozen=True)
class Problem:
    """One problem met. `file` is where, as shown and reported (`labels.csv:7`); `path`,
    `lineno` and `colno` are the same place apart, when known (the error of a fatal problem
    carries them as its `file`, `line` and `column`)."""

    kind: str
    message: str
    file: str | None = None
    source_id: str | None = None
    action: str = ""          # what was done: error, skipped, clipped, kept
    path: str | None = None
    lineno: int | None = None
    colno: int | None = None

    @classmethod
    def at(cls, kind: str, message: str, error_or_file: Any, source_id: str | None = None,
           action: str = "") -> Problem:
        """A problem located by a `TfrconvError` (its file, line and column) or a file name."""
        if hasattr(error_or_file, "location"):
            error = error_or_file
            return cls(kind, message, error.location() or None, source_id, action,
                       error.file, error.line, error.column)
        return cls(kind, message, error_or_file, source_id, action, error_or_file)

    def line(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


class Policies:
    """kind → policy, built from the defaults and the user's choices (picklable)."""

    def __init__(self, choices: dict[str, str] | None = None) -> None:
        self.by_kind = {name: kind.default for name, kind in KINDS.items()}
        for name, value in (choices or {}).items():
            if value is None:
                continue
            kind = KINDS.get(name) or next((k for k in KINDS.values() if k.flag == name), None)
            if kind is None:
                raise UsageError(f"no problem kind {name!r}")
            if value not in kind.policies:
                raise UsageError(f"--{kind.flag.replace('_', '-')}: {value!r} is not one of "
                                 f"{', '.join(kind.policies)}")
            self.by_kind[kind.name] = value

    def __getitem__(self, kind: str) -> str:
        return self.by_kind[kind]

    def as_dict(self) -> dict[str, str]:
        return dict(self.by_kind)


@dataclass
class ProblemLog:
    """Counts and first offenders per kind; streams every problem to the report file."""

    counts: Counter = field(default_factory=Counter)
    first: dict[str, list[Problem]] = field(default_factory=dict)
    report_path: str | None = None
    _report: Any = None

    def open_report(self, path: str | None) -> None:
        self.report_path = path
        if path:
            try:
                self._report = open(path, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"--report: cannot write {path}: {exc.strerror}") from None

    def add(self, problem: Problem) -> None:
        self.counts[problem.kind] += 1
        offenders = self.first.setdefault(problem.kind, [])
        if len(offenders) < FIRST_OFFENDERS:
            offenders.append(problem)
        if self._report is not None:
            self._report.write(json.dumps(problem.as_dict(), ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._report is not None:
            self._report.close()
            self._report = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {kind: {"count": count,
                       "first": [p.as_dict() for p in self.first.get(kind, [])]}
                for kind, count in sorted(self.counts.items())}


def fatal(problem: Problem) -> DataError:
    """The one-line error for a problem whose policy is `error`, with the way out as a hint."""
    kind = KINDS[problem.kind]
    others = [p for p in kind.policies if p != "error"]
    hint = OptionHint(kind.flag, others[0], f"to {' or '.join(others)} instead: {{option}}") \
        if others else None
    if problem.path is None:
        return DataError(problem.message, file=problem.file, hint=hint)
    return DataError(problem.message, file=problem.path, line=problem.lineno,
                     column=problem.colno, hint=hint)
