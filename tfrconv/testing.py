"""A conformance kit for format plugins: checks a plugin's own tests call on a small dataset.

Each `check_*` function raises `ConformanceError` (an `AssertionError`, so pytest shows it like a
failed assert) saying what a format does wrong; `check_format` runs them all. Nothing here
imports pytest, and heavy modules load only when a check runs. docs/plugins.md has an example.

- `check_registration(name)`: the registered `FormatSpec` is well formed.
- `check_cli(name)`: `tfrconv NAME --help` lists the format's options and the common ones.
- `check_converts(...)`: the dataset converts, and the records read back hold the expected
  examples and objects.
- `check_deterministic(...)`: the same bytes for `workers=1` and `2`, a rerun, and the Beam
  runner (when apache_beam is installed).
- `check_broken_item(...)`: a broken item (the caller breaks a copy of the dataset) stops the
  run with a one-line error naming the file, and the line when given.
- `check_detection(name, path, others)`: detection ranks the format first on its own data and
  not on the other datasets.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from . import keys

OutputOptions = Callable[[str], Mapping[str, Any]]
# break_item(copy_root) edits the copy; it returns the broken file, or (file, line).
BreakItem = Callable[[Path], "str | os.PathLike | tuple[str | os.PathLike, int | None]"]


class ConformanceError(AssertionError):
    """A format does not do what every tfrconv format must."""


def _fail(name: str, message: str) -> ConformanceError:
    return ConformanceError(f"format {name!r}: {message}")


def _spec(name: str):
    from .plugins import get_registry

    return get_registry().format(name)


# -- registration and command line ------------------------------------------------------------
def check_registration(name: str):
    """The format is registered under `name` with a well-formed `FormatSpec`; returns it."""
    from .formats import FormatSpec, Option
    from .problems import KINDS
    from .settings import COMMON_OPTIONS

    spec = _spec(name)
    if not isinstance(spec, FormatSpec) or spec.name != name:
        raise _fail(name, f"registered {spec!r}, not a FormatSpec named {name!r}")
    if not spec.help.strip() or "\n" in spec.help:
        raise _fail(name, "help must be one non-empty line (tfrconv --help shows it)")
    common = {opt.name for opt in COMMON_OPTIONS}
    for option in spec.options:
        if not isinstance(option, Option):
            raise _fail(name, f"options must be tfrconv.Option values, got {option!r}")
        if option.name in common:
            raise _fail(name, f"option {option.name!r} clashes with a common option")
        if not option.help.strip():
            raise _fail(name, f"option {option.name!r} has no help text")
        if option.required and option.default is not None:
            raise _fail(name, f"option {option.name!r} is required and has a default")
    for hook in ("detect", "default_label_map", "classes", "outputs"):
        value = getattr(spec, hook)
        if value is not None and not callable(value):
            raise _fail(name, f"{hook} must be callable or None")
    for kind, policy in spec.default_policies.items():
        known = KINDS.get(kind)
        if known is None or policy not in known.policies:
            raise _fail(name, f"default_policies: {kind}={policy!r} is not a known kind and "
                              "one of its policies")
    if not spec.uses_output and spec.outputs is None:
        raise _fail(name, "uses_output=False needs outputs() to name the files written")
    return spec


def check_cli(name: str) -> str:
    """`tfrconv NAME --help` exits 0 and lists every option of the format (and its aliases)
    with the common ones; returns the help text."""
    from .cli import main

    spec = _spec(name)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([name, "--help"])
        except SystemExit as exc:        # argparse's --help exits
            status = exc.code
    text = out.getvalue()
    if status not in (0, None):
        raise _fail(name, f"`tfrconv {name} --help` exited {status}: {err.getvalue().strip()}")
    common = ["--label-map", "--num-shards", "--workers", "--on-error"]
    if spec.uses_output:
        common.append("--output")
    wanted = [spec_opt.flag for spec_opt in spec.options] + \
        [alias for spec_opt in spec.options for alias in spec_opt.aliases] + common
    missing = [flag for flag in wanted if flag not in text]
    if missing:
        raise _fail(name, f"`tfrconv {name} --help` does not list {', '.join(missing)}")
    return text


# -- converting -------------------------------------------------------------------------------
def _output_options(name: str, folder: str, outputs: OutputOptions | None) -> dict[str, Any]:
    if outputs is not None:
        return dict(outputs(folder))
    if not _spec(name).uses_output:
        raise _fail(name, "it names its outputs itself: pass outputs=lambda folder: {...}")
    return {"output": os.path.join(folder, "data.record")}


def _convert(name: str, options: Mapping[str, Any], folder: str | os.PathLike,
             outputs: OutputOptions | None, **extra: Any):
    import tfrconv

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    extra.setdefault("workers", 1)
    return tfrconv.convert(name, **dict(options), **_output_options(name, folder, outputs),
                           **extra)


def _written(summary) -> dict[str, bytes]:
    """Every record shard and label map a run wrote, by file name."""
    files = {}
    for output in summary.outputs:
        for path in [shard["path"] for shard in output.shards] + [output.label_map]:
            with open(path, "rb") as fileobj:
                files[os.path.basename(path)] = fileobj.read()
    return files


def check_converts(name: str, options: Mapping[str, Any], work_dir: str | os.PathLike, *,
                   examples: int, objects: int | None = None,
                   outputs: OutputOptions | None = None, **extra: Any):
    """Convert in process; the records read back (tfrconv.read_examples) hold `examples`
    examples and, when given, `objects` objects. Returns the `Summary`."""
    import tfrconv

    summary = _convert(name, options, work_dir, outputs, **extra)
    found_examples = found_objects = 0
    for output in summary.outputs:
        for features in tfrconv.read_examples([s["path"] for s in output.shards]):
            found_examples += 1
            found_objects += len(features.get(keys.OBJECT_CLASS_TEXT, []))
            if not features.get(keys.ENCODED) or not features.get(keys.SOURCE_ID):
                raise _fail(name, "an example without image/encoded or image/source_id")
    if (found_examples, summary.examples) != (examples, examples):
        raise _fail(name, f"expected {examples} examples, the records hold {found_examples} "
                          f"(summary: {summary.examples})")
    if objects is not None and found_objects != objects:
        raise _fail(name, f"expected {objects} objects, the records hold {found_objects}")
    return summary


def beam_available() -> bool:
    """Whether apache_beam can be imported (the Beam check runs only then)."""
    import importlib.util

    return importlib.util.find_spec("apache_beam") is not None


def check_deterministic(name: str, options: Mapping[str, Any], work_dir: str | os.PathLike, *,
                        outputs: OutputOptions | None = None, beam: bool | None = None,
                        num_shards: int = 2) -> None:
    """Byte-identical records and label maps for `workers=1`, `workers=2`, a rerun, and (when
    `beam` is true, or None and apache_beam is installed) the Beam DirectRunner."""
    work = Path(work_dir)
    runs = {"workers=1": {"workers": 1}, "workers=2": {"workers": 2},
            "a rerun": {"workers": 1}}
    if beam if beam is not None else beam_available():
        runs["the Beam runner"] = {"runner": "beam"}
    reference = None
    for index, (what, extra) in enumerate(runs.items()):
        summary = _convert(name, options, work / f"run{index}", outputs, num_shards=num_shards,
                           **extra)
        files = _written(summary)
        if reference is None:
            reference = files
            continue
        if sorted(files) != sorted(reference):
            raise _fail(name, f"{what} wrote {sorted(files)}, workers=1 {sorted(reference)}")
        differ = [file for file in sorted(files) if files[file] != reference[file]]
        if differ:
            raise _fail(name, f"{what} wrote other bytes than workers=1 in {', '.join(differ)}")


# -- a broken item ----------------------------------------------------------------------------
def _rebased(options: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """`options` with every path inside `old` moved to the same place inside `new`."""
    out = {}
    for key, value in options.items():
        if isinstance(value, (str, os.PathLike)):
            text = os.fspath(value)
            if text == old or text.startswith(old + os.sep):
                value = new + text[len(old):]
        out[key] = value
    return out


def check_broken_item(name: str, options: Mapping[str, Any], dataset: str | os.PathLike,
                      break_item: BreakItem, work_dir: str | os.PathLike, *,
                      outputs: OutputOptions | None = None, skippable: bool = True) -> None:
    """Copy `dataset` (the folder every path of `options` lies in), let `break_item(copy)` break
    one item and say which file (and line) it broke; then the library raises a
    `tfrconv.DataError` whose `file` and `line` name it in one line, the command line prints
    one line naming it and exits 1, and (when `skippable`: the break spoils one item, not the
    whole dataset) `on_error="skip"` converts the rest."""
    import tfrconv

    from .cli import main

    work = Path(work_dir)
    source = os.path.abspath(os.fspath(dataset))
    copy = work / "broken-dataset"
    shutil.copytree(source, copy)
    broken = break_item(copy)
    file, line = broken if isinstance(broken, tuple) else (broken, None)
    file = os.fspath(file)
    moved = _rebased({k: os.path.abspath(v) if isinstance(v, os.PathLike) else v
                      for k, v in options.items()}, source, os.fspath(copy))
    try:        # on_error given: a format's default policy may skip unreadable items
        _convert(name, moved, work / "broken-out", outputs, on_error="error")
    except tfrconv.DataError as exc:
        error = exc
    else:
        raise _fail(name, f"a broken {file} converted without an error")
    if error.file is None or not _same_file(error.file, file):
        raise _fail(name, f"the error names {error.file!r}, not the broken {file}: {error}")
    if line is not None and error.line != line:
        raise _fail(name, f"the error names line {error.line}, not line {line}: {error}")
    if "\n" in str(error):
        raise _fail(name, f"the error is not one line: {str(error)!r}")
    argv = [name, "--on-error", "error"]
    for key, value in {**moved, **_output_options(name, os.fspath(work / "cli-out"),
                                                  outputs)}.items():
        argv += _argv(key, value)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(argv)
    lines = err.getvalue().strip().splitlines()
    if status != 1 or len(lines) != 1 or os.path.basename(file) not in lines[0]:
        raise _fail(name, f"`tfrconv {name} ...` on the broken dataset exited {status} with "
                          f"{lines!r}; expected exit 1 and one line naming {file}")
    if not skippable:
        return
    summary = _convert(name, moved, work / "skip-out", outputs, on_error="skip")
    if not summary.problems:
        raise _fail(name, "on_error='skip' converted the broken dataset without a problem")


def _argv(key: str, value: Any) -> list[str]:
    flag = "--" + key.replace("_", "-")
    if value is None:
        return []
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]


def _same_file(named: str, expected: str) -> bool:
    try:
        return os.path.samefile(named, expected)
    except OSError:
        return False


# -- detection --------------------------------------------------------------------------------
def check_detection(name: str, path: str | os.PathLike,
                    others: Iterable[str | os.PathLike] = ()) -> None:
    """`tfrconv detect-format` ranks `name` first on `path`, and not first on any of `others`
    (other formats' datasets)."""
    from .detect import detect_formats

    matches = detect_formats(path).matches
    if not matches or matches[0].format != name:
        ranked = [(m.format, round(m.confidence, 3)) for m in matches]
        raise _fail(name, f"detection on its own dataset {path} ranks {ranked or 'nothing'}")
    for other in others:
        matches = detect_formats(other).matches
        if matches and matches[0].format == name:
            raise _fail(name, f"detection ranks it first on {other}, another format's dataset "
                              f"({[m.format for m in matches]})")


# -- everything -------------------------------------------------------------------------------
def check_format(name: str, options: Mapping[str, Any], work_dir: str | os.PathLike, *,
                 examples: int, objects: int | None = None,
                 dataset: str | os.PathLike | None = None, break_item: BreakItem | None = None,
                 others: Iterable[str | os.PathLike] = (),
                 outputs: OutputOptions | None = None, beam: bool | None = None) -> None:
    """Every check above. `dataset` is the folder the dataset's files lie in (detection runs on
    it when the format has `detect`; the broken-item check copies it); `others` are datasets
    of other formats."""
    work = Path(work_dir)
    spec = check_registration(name)
    check_cli(name)
    check_converts(name, options, work / "convert", examples=examples, objects=objects,
                   outputs=outputs)
    check_deterministic(name, options, work / "determinism", outputs=outputs, beam=beam)
    if break_item is not None:
        if dataset is None:
            raise _fail(name, "break_item needs dataset= (the folder to copy and break)")
        check_broken_item(name, options, dataset, break_item, work / "broken", outputs=outputs)
    if spec.detect is not None and dataset is not None:
        check_detection(name, dataset, others)
