"""Which registered formats a dataset folder looks like (`tfrconv detect-format`, `convert`).

Every format's own `detect(path)` is asked; the answers are collected, never trusted blindly: a
detector that raises or returns something odd is reported as failed, not as a crash. Datumaro's
`detect --show-rejections` is the model: a verdict (one format, several, none), the confidence
of each match, and for every other format the reason in plain words.

A folder "matches" a format when its detector gives a confidence above 0. `convert` without a
format goes ahead only when exactly one format matches: guessing between two plausible formats
would convert the wrong annotations without a word.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import TfrconvError, UsageError
from .formats import Detection, FormatSpec

MATCH = "match"
NO_MATCH = "no match"
NO_DETECTION = "no detection"
FAILED = "detect failed"
DESCEND_DEPTH = 2          # look this many single-folder levels down when nothing matches


@dataclass(frozen=True)
class FormatResult:
    format: str
    plugin: str | None
    status: str            # MATCH, NO_MATCH, NO_DETECTION or FAILED
    confidence: float
    reason: str
    options: dict[str, Any] = field(default_factory=dict)   # to convert the folder as detected

    def as_dict(self) -> dict[str, Any]:
        out = {"format": self.format, "plugin": self.plugin, "status": self.status,
               "confidence": round(self.confidence, 3), "reason": self.reason}
        if self.options:
            out["options"] = {k: _json_safe(v) for k, v in self.options.items()}
        return out

    def option_args(self, spec: FormatSpec) -> list[str]:
        """The detected options as command-line arguments of `spec`."""
        args: list[str] = []
        for name, value in self.options.items():
            option = spec.option(name)
            if option.type == "bool":
                if value:
                    args.append(option.flag)
                continue
            if isinstance(value, (list, tuple)):
                value = ",".join(map(str, value))
            args += [option.flag, os.fspath(value) if isinstance(value, os.PathLike)
                     else str(value)]
        return args


@dataclass
class DetectionReport:
    path: str                        # what the user named
    searched: str                    # the folder the verdict is about (path or a subfolder)
    results: list[FormatResult] = field(default_factory=list)

    @property
    def matches(self) -> list[FormatResult]:
        found = [r for r in self.results if r.status == MATCH]
        return sorted(found, key=lambda r: (-r.confidence, r.format))

    @property
    def verdict(self) -> str:
        count = len(self.matches)
        return "none" if count == 0 else ("unique" if count == 1 else "ambiguous")

    def others(self, status: str) -> list[FormatResult]:
        return sorted((r for r in self.results if r.status == status), key=lambda r: r.format)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "searched": self.searched, "verdict": self.verdict,
            "detected": [r.format for r in self.matches],
            "matches": [r.as_dict() for r in self.matches],
            "rejected": [r.as_dict() for r in self.results if r.status != MATCH],
        }

    def lines(self, *, rejections: bool = True) -> list[str]:
        """The human-readable report."""
        out = []
        where = self.path if self.searched == self.path else \
            f"{self.searched} (the only folder inside {self.path})"
        matches = self.matches
        if not self.results:
            return [f"{self.path}: no formats are registered (see `tfrconv plugins`)"]
        if self.verdict == "unique":
            out.append(f"{where} looks like {matches[0].format}")
        elif self.verdict == "ambiguous":
            out.append(f"{where} matches {len(matches)} formats: "
                       + ", ".join(r.format for r in matches))
        else:
            out.append(f"{where} does not look like any registered format")
        width = max(len(r.format) for r in self.results)
        if matches:
            out.append("matches:")
            for r in matches:
                out.append(f"  {r.format:{width}}  {r.confidence:4.2f}  {r.reason}")
                if r.options:
                    shown = " ".join(f"--{k.replace('_', '-')}" if v is True else
                                     f"--{k.replace('_', '-')} {_json_safe(v)}"
                                     for k, v in r.options.items())
                    out.append(f"  {'':{width}}        convert with: {shown}")
        if rejections:
            rejected = self.others(NO_MATCH)
            if rejected:
                out.append("not matching:")
                out.extend(f"  {r.format:{width}}  {r.reason}" for r in rejected)
            failed = self.others(FAILED)
            if failed:
                out.append("detection failed (a bug in the format's plugin):")
                out.extend(f"  {r.format:{width}}  {r.reason}" for r in failed)
            silent = self.others(NO_DETECTION)
            if silent:
                out.append("no detection (these formats cannot recognise a folder; name them "
                           "yourself): " + ", ".join(r.format for r in silent))
        return out


def detect_formats(path: str | os.PathLike, *, registry=None) -> DetectionReport:
    """Ask every registered format about `path`. When nothing matches and the folder holds only
    one folder (an unpacked archive), look inside it, a couple of levels at most."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file or folder")
    report = _detect_here(path, path, registry)
    folder = path
    for _ in range(DESCEND_DEPTH):
        if report.matches:
            break
        inner = only_subfolder(folder)
        if inner is None:
            break
        deeper = _detect_here(path, inner, registry)
        if deeper.matches:
            return deeper
        folder = inner
    return report


def _detect_here(path: str, folder: str, registry) -> DetectionReport:
    report = DetectionReport(path=path, searched=folder)
    for spec in sorted(registry.formats.values(), key=lambda s: s.name):
        report.results.append(ask(spec, folder, registry.format_owner(spec.name)))
    return report


def ask(spec: FormatSpec, folder: str, plugin: str | None = None) -> FormatResult:
    """One format's answer about a folder, with any misbehaviour of its detector turned into a
    FAILED result."""
    if spec.detect is None:
        return FormatResult(spec.name, plugin, NO_DETECTION, 0.0,
                            "the format has no detect function")
    try:
        answer = spec.detect(folder)
    except TfrconvError as exc:               # a detector may reject by raising a clear error
        return FormatResult(spec.name, plugin, NO_MATCH, 0.0, str(exc))
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not break detection
        first_line = (str(exc).splitlines() or [""])[0]
        return FormatResult(spec.name, plugin, FAILED, 0.0,
                            f"{type(exc).__name__}: {first_line}".rstrip(": "))
    if not isinstance(answer, Detection):
        return FormatResult(spec.name, plugin, FAILED, 0.0,
                            f"detect returned {type(answer).__name__}, not a tfrconv.Detection")
    try:
        confidence = float(answer.confidence)
    except (TypeError, ValueError):
        confidence = math.nan
    if math.isnan(confidence):
        return FormatResult(spec.name, plugin, FAILED, 0.0,
                            f"detect returned confidence {answer.confidence!r}, not a number")
    reason = str(answer.reason or "").strip() or "(no reason given)"
    if confidence <= 0:
        return FormatResult(spec.name, plugin, NO_MATCH, 0.0, reason)
    options = answer.options or {}
    if not isinstance(options, Mapping):
        return FormatResult(spec.name, plugin, FAILED, 0.0,
                            f"detect returned options of type {type(options).__name__}, not a "
                            "mapping of option names to values")
    unknown = sorted(str(name) for name in options if spec.option(str(name)) is None)
    if unknown:
        return FormatResult(spec.name, plugin, FAILED, 0.0,
                            f"detect suggested options the format does not have: "
                            f"{', '.join(unknown)}")
    return FormatResult(spec.name, plugin, MATCH, min(confidence, 1.0), reason, dict(options))


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def only_subfolder(folder: str) -> str | None:
    try:
        entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    except (NotADirectoryError, PermissionError, FileNotFoundError):
        return None
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0].path
    return None


def choose_format(path: str | os.PathLike, *, registry=None
                  ) -> tuple[FormatSpec, DetectionReport]:
    """The one format `path` matches, or a UsageError that explains why there is none."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    report = detect_formats(path, registry=registry)
    matches = report.matches
    if len(matches) == 1:
        return registry.format(matches[0].format), report
    if matches:
        listed = "; ".join(f"{r.format} ({r.confidence:.2f}: {r.reason})" for r in matches)
        first = matches[0].format
        raise UsageError(
            f"{report.searched} matches {len(matches)} formats: {listed}. Name the one you "
            f"mean: tfrconv convert --format {first} ... (or tfrconv {first} ...)")
    if not report.results:
        raise UsageError("no formats are registered (see `tfrconv plugins`)")
    rejected = [r for r in report.results if r.status in (NO_MATCH, FAILED)]
    reasons = "; ".join(f"{r.format}: {r.reason}" for r in rejected) or "no format can detect"
    silent = report.others(NO_DETECTION)
    hint = (f" Formats that cannot detect a folder: {', '.join(r.format for r in silent)}."
            if silent else "")
    raise UsageError(
        f"{report.path} does not look like any registered format ({reasons}).{hint} Name the "
        "format with --format NAME (see `tfrconv formats`)")
