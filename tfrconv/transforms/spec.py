"""What a transform plugin registers: a `TransformSpec`, and the `Context` it is called with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formats import Option, Options

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..sample import Sample

# "before": on the Sample as the format read it (pixel boxes, no image read yet), before the
# core's checks. "after": on the checked Sample (see `TransformSpec`), just before encoding.
STAGES = ("before", "after")


@dataclass
class Context:
    """What the core knows about the sample beyond the Sample itself.

    `sha256` is the hex SHA-256 of the image bytes as read (None in the "before" stage, where
    no image has been read yet): the core computes it once, for image/key/sha256.
    `notes` travel back to the main process with the image's result (small, picklable
    values): the core's run checks read them (`tally.py`: "read_classes", "perceptual_hash").
    """

    stage: str
    sha256: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformSpec:
    """A transform, as a plugin registers it.

    - `name`: letters, digits, '-' and '_'; unique among transforms.
    - `options`: `Option`s that become flags of every format (`--max-side`) and keywords of
      `tfrconv.convert` (`max_side=`); names must not clash with the common options.
    - `setup(opts)`: called once per process with the resolved options; returns the transform
      to run, or None when its options leave it inactive (then it costs nothing). Raise
      `tfrconv.UsageError` for bad option values: it is reported before any work starts.
    - `stage`: "before" (the Sample as read: boxes in the annotation's pixels, `image_bytes`
      usually None) or "after" (the checked Sample: `image_bytes` holds the image, `width` and
      `height` its real size, `normalized` is True and `objects` are only those kept, with boxes
      inside 0..1).
    - `order`: transforms of one stage run by increasing order, then by name.
    - `derived`: names of values no user gives: the transform's main-process instance
      computes them before the run (`plan_splits` below) and the workers receive them among
      its options (e.g. `--stratify`'s assignment table).

    The transform is `transform(sample, context) -> Sample | None`: None drops the image
    (counted as a `filtered` problem, never an error). It runs in worker processes and on Beam
    workers, so it must give the same answer for the same sample wherever it runs. It may also
    have these attributes, which the core reads in the main process:

    - `splits`: a tuple of split names: the run writes one output per split, and the transform
      sets `sample.split` (one transform per run may declare splits).
    - `rename_class(name) -> str | None`: the class a class becomes (None: dropped); the label
      map generated from the data is built from the renamed classes.
    - `check_classes(names)`: raise `tfrconv.UsageError` when the transform's options name
      classes the dataset does not have (called with every class of the data, before any image
      is read).
    - `plan_splits(annotations) -> {name: value}`: called once in the main process before the
      run with every readable annotation (`stratify.Annotated`: source id, file name, classes
      after the class transforms; no image read); the values returned (`derived` names) travel
      to the workers. Raise `tfrconv.UsageError` when the plan cannot be made.
    """

    name: str
    help: str
    setup: Callable[[Options], Callable[[Sample, Context], Sample | None] | None]
    options: tuple[Option, ...] = ()
    stage: str = "before"
    order: int = 100
    derived: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"transform name {self.name!r}: use letters, digits, '-' and '_'")
        if self.stage not in STAGES:
            raise ValueError(f"transform {self.name!r}: stage must be one of {', '.join(STAGES)}")
        if not callable(self.setup):
            raise ValueError(f"transform {self.name!r}: setup must be callable")
        names = [opt.name for opt in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"transform {self.name!r}: duplicate option names")

    def resolve(self, values: dict[str, Any]) -> Options:
        """This transform's options from `values` (other names ignored), converted."""
        resolved = {opt.name: opt.convert(opt.default if values.get(opt.name) is None
                                          else values[opt.name])
                    for opt in self.options}
        return Options(resolved | {name: values.get(name) for name in self.derived})


def option_names(specs: Iterable[TransformSpec]) -> frozenset[str]:
    return frozenset(opt.name for spec in specs for opt in spec.options)


def derived_names(specs: Iterable[TransformSpec]) -> frozenset[str]:
    return frozenset(name for spec in specs for name in spec.derived)
