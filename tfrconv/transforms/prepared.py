"""The transforms one run uses: its option values → the configured transforms, by stage.

Built in the main process (to plan outputs and the label map, and to reject bad options before
any work) and again, lazily, in each worker from the same values: only the values travel, never
the configured transforms, so a third party's transform need not be picklable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import UsageError
from ..sample import Sample
from .spec import Context, TransformSpec, derived_names

Transform = Callable[[Sample, Context], Sample | None]


class Prepared:
    """The active transforms of one run (none: `active` is False and nothing runs)."""

    def __init__(self, chosen: list[tuple[TransformSpec, Transform]]) -> None:
        ordered = sorted(chosen, key=lambda pair: (pair[0].order, pair[0].name))
        self.before = [(spec.name, fn) for spec, fn in ordered if spec.stage == "before"]
        self.after = [(spec.name, fn) for spec, fn in ordered if spec.stage == "after"]
        self.transforms = [fn for _spec, fn in ordered]
        declaring = [(spec.name, fn.splits) for spec, fn in ordered
                     if getattr(fn, "splits", None)]
        if len(declaring) > 1:
            raise UsageError("two transforms split the output: "
                             + ", ".join(name for name, _splits in declaring))
        self.splits: tuple[str, ...] | None = tuple(declaring[0][1]) if declaring else None

    @property
    def active(self) -> bool:
        return bool(self.transforms)

    @property
    def renames_classes(self) -> bool:
        return any(hasattr(fn, "rename_class") for fn in self.transforms)

    def having(self, attribute: str) -> Transform | None:
        """The first active transform with `attribute` (e.g. `new_index`), or None."""
        return next((fn for fn in self.transforms if hasattr(fn, attribute)), None)

    def rename_class(self, name: str) -> str | None:
        """The class `name` becomes after every transform (None: its objects are dropped)."""
        for fn in self.transforms:
            rename = getattr(fn, "rename_class", None)
            if rename is not None:
                name = rename(name)
                if name is None:
                    return None
        return name

    def rename_classes(self, names: Iterable[str]) -> list[str]:
        """`names` renamed, dropped ones left out, each once, first occurrence's order."""
        renamed = (self.rename_class(name) for name in names)
        return list(dict.fromkeys(name for name in renamed if name is not None))

    def check_classes(self, names: Iterable[str]) -> None:
        names = list(names)
        for fn in self.transforms:
            check = getattr(fn, "check_classes", None)
            if check is not None:
                check(names)

    def apply(self, stage: list[tuple[str, Transform]], sample: Sample, context: Context
              ) -> tuple[Sample | None, str | None]:
        """Run one stage's transforms; (the sample, None) or (None, the dropping transform)."""
        for name, fn in stage:
            result = fn(sample, context)
            if result is None:
                return None, name
            sample = result
        return sample, None


NONE = Prepared([])


def prepare(specs: Mapping[str, TransformSpec], values: Mapping[str, Any]) -> Prepared:
    """The transforms `values` (option name → value, as given) make active. A name no
    registered transform declares is a UsageError; so is any value a transform rejects."""
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return NONE
    known = {opt.name for spec in specs.values() for opt in spec.options}
    unknown = sorted(set(values) - known - derived_names(specs.values()))
    if unknown:
        raise UsageError(f"no transform has the option {', '.join(unknown)} "
                         f"(transform options: {', '.join(sorted(known)) or 'none'})")
    chosen = []
    for spec in specs.values():
        if not any(opt.name in values for opt in spec.options):
            continue
        transform = spec.setup(spec.resolve(values))
        if transform is not None:
            chosen.append((spec, transform))
    return Prepared(chosen) if chosen else NONE
