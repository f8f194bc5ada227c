"""What a format plugin registers: a `FormatSpec` with its `Option`s.

A format only *describes*: how to list the items of a dataset (cheap, picklable values such as
file names) and how to read one item into a `Sample`. Splitting "list" from "read" is what lets
the core run the same format in one process, in a worker pool or on a Beam cluster without the
format knowing which. Everything that is the same for all formats (images, checks, policies,
label maps, encoding, sharding, reports) belongs to the core.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .labelmap import LabelMap
    from .sample import Sample

OPTION_TYPES = ("str", "path", "int", "float", "bool", "choice", "list")


@dataclass(frozen=True)
class Option:
    """One option of a format: `--data-dir` on the command line, `data_dir=` in the library.

    `type` is one of str, path, int, float, bool (a flag), choice (one of `choices`) or list
    (comma-separated on the command line, a list or comma string in the library).
    """

    name: str
    help: str
    type: str = "str"
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    aliases: tuple[str, ...] = ()    # extra command-line spellings, e.g. ("--classes-to-use",)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"option name {self.name!r} must be a Python identifier (data_dir)")
        if self.type not in OPTION_TYPES:
            raise ValueError(f"option {self.name!r}: type must be one of {', '.join(OPTION_TYPES)}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"option {self.name!r}: a choice option needs choices")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, value: Any) -> Any:
        """Turn a library or command-line value into this option's type (UsageError if it can't)."""
        if value is None:
            return None
        try:
            if self.type == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        return True
                    if low in ("0", "false", "no", "off", ""):
                        return False
                    raise ValueError(value)
                return bool(value)
            if self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError(value)
                return int(value)
            if self.type == "float":
                return float(value)
            if self.type == "list":
                if isinstance(value, str):
                    return [part.strip() for part in value.split(",") if part.strip()]
                return [str(part) for part in value]
            if self.type == "path":
                return os.fspath(value)
            value = str(value)
        except (TypeError, ValueError):
            raise UsageError(f"{self.flag}: expected {self.type}, got {value!r}") from None
        if self.type == "choice" and value not in self.choices:
            raise UsageError(f"{self.flag}: {value!r} is not one of {', '.join(self.choices)}")
        return value


class Options(Mapping):
    """The resolved options of one run, read as attributes (`opts.data_dir`). Picklable."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"no option named {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getstate__(self) -> dict[str, Any]:
        return self._values

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__["_values"] = state

    def __repr__(self) -> str:
        return f"Options({self._values!r})"


RECORD_EXTENSIONS = (".record", ".tfrecord")


def split_outputs(output: str | os.PathLike | None, splits: Iterable[str]) -> dict[str, str]:
    """One output per split, named after `output`: `out/data.record` → `out/data_train.record`,
    `out/data_val.record` (a name without a record extension gets `.record`). For
    `FormatSpec.outputs`; {} when there is no output (the core then asks for --output)."""
    if not output:
        return {}
    output = os.fspath(output)
    base, extension = os.path.splitext(output)
    if extension.lower() not in RECORD_EXTENSIONS:
        base, extension = output, ".record"
    return {split: f"{base}_{split}{extension}" for split in splits}


@dataclass(frozen=True)
class Detection:
    """How much a folder looks like a format: 0 = not at all (with the reason), 1 = certainly.

    `options` are the format's options that convert the folder as detected, for formats not
    read from a `--data-dir` (e.g. `{"annotations_file": "<dir>/annotations/x.json"}`);
    `tfrconv convert` uses them unless the user gives those options.
    """

    confidence: float
    reason: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return self.confidence > 0


@dataclass(frozen=True)
class FormatSpec:
    """A dataset format, as a plugin registers it.

    Required: `name`, `help`, `list_items(opts)` and `read_item(item, opts)`. `list_items` yields
    picklable items in a stable order (a generator keeps memory flat on huge datasets; give the
    iterable a `len()` and the progress display shows a total); `read_item` turns one into a
    `Sample` or raises `tfrconv.DataError` naming the file and the problem. The rest is optional:

    - `options`: the format's own options; the core adds the common ones (--output, --label-map,
      --num-shards, policies, ...) to every format.
    - `detect(path)`: a `Detection` for `tfrconv detect-format`.
    - `default_label_map(opts)`: the label map to use when the user gives none: a builtin name, a
      path, a `LabelMap`, or None to build one from the classes found.
    - `classes(opts)`: the class names, when the format can list them cheaply (a JSON's categories);
      lets the core check the label map before reading any item.
    - `outputs(opts, output)`: `{split: path}` for formats that write several files in one run
      (train and val); samples choose theirs with `Sample.split`.
    - `object_fields`: optional object fields the format always annotates (e.g. "difficult",
      "truncated", "pose"); their keys are written even on images without objects.
    - `uses_output`: False when the format names its outputs itself (an --output-dir option).
    - `default_policies`: problem kind → policy for this format when the user sets none (e.g. Pets
      skips, and counts, the images its reference converter skips); the user's flags win.
    - `splits(path)`: `{split: options}` when one folder holds several splits of this format
      (VOC's image sets, COCO's instances_{split}.json files); `tfrconv convert ROOT --output
      DIR/` converts each into DIR/<split>.record with one label map.
    - `ordered_classes`: True when `classes(opts)` lists the classes in the format's own order
      (YOLO's class index): a label map generated from the data (and `labelmap from-data`)
      numbers them 1..N in that order instead of sorting them.
    """

    name: str
    help: str
    list_items: Callable[[Options], Iterable[Any]]
    read_item: Callable[[Any, Options], Sample]
    options: tuple[Option, ...] = ()
    description: str = ""
    detect: Callable[[str], Detection] | None = None
    default_label_map: Callable[[Options], str | LabelMap | None] | None = None
    classes: Callable[[Options], Iterable[str] | None] | None = None
    outputs: Callable[[Options, str | None], dict[str | None, str]] | None = None
    object_fields: frozenset[str] = field(default_factory=frozenset)
    uses_output: bool = True
    default_num_shards: int = 1
    default_policies: Mapping[str, str] = field(default_factory=dict)
    ordered_classes: bool = False
    splits: Callable[[str], Mapping[str, Mapping[str, Any]]] | None = None

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"format name {self.name!r}: use letters, digits, '-' and '_'")
        for attr in ("list_items", "read_item"):
            if not callable(getattr(self, attr)):
                raise ValueError(f"format {self.name!r}: {attr} must be callable")
        names = [opt.name for opt in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"format {self.name!r}: duplicate option names")

    def option(self, name: str) -> Option | None:
        return next((opt for opt in self.options if opt.name == name), None)

    def resolve(self, values: Mapping[str, Any]) -> Options:
        """Check and convert user values against the declared options (UsageError on misuse)."""
        known = {opt.name for opt in self.options}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(
                f"format {self.name!r} has no option {', '.join(unknown)} "
                f"(its options: {', '.join(sorted(known)) or 'none'})")
        resolved = {}
        for opt in self.options:
            value = values.get(opt.name)
            if value is None:
                if opt.required:
                    raise UsageError(f"{self.name}: {opt.flag} is required")
                value = opt.default
            resolved[opt.name] = opt.convert(value)
        return Options(resolved)
