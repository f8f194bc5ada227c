"""`--remap`, `--keep-classes`, `--drop-classes`: renaming, merging and choosing classes.

Runs before the core's checks, so the label map resolves the new names. Keep and drop name
classes after the remap. Objects of dropped classes are removed from the sample (the summary's
per-class counts show what remains); image-level labels follow the same rules.
"""

from __future__ import annotations

from ..errors import UsageError
from ..sample import Sample
from .spec import Context


def parse_remap(text: str) -> dict[str, str]:
    """"van=car,Truck=truck" → {"van": "car", "Truck": "truck"} (UsageError when malformed)."""
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        source, equals, target = (s.strip() for s in part.partition("="))
        if not equals or not source or not target:
            raise UsageError(f"--remap: {part.strip()!r} is not OLD=NEW (e.g. --remap "
                             "'van=car,Truck=truck')")
        if source in mapping and mapping[source] != target:
            raise UsageError(f"--remap: {source!r} is mapped twice ({mapping[source]!r} and "
                             f"{target!r})")
        mapping[source] = target
    if not mapping:
        raise UsageError("--remap: no OLD=NEW pair given")
    return mapping


class ClassChanges:
    """Rename (remap), then keep only `keep` (when given) and drop `drop`."""

    def __init__(self, remap: dict[str, str], keep: list[str] | None,
                 drop: list[str] | None) -> None:
        self.remap = remap
        self.keep = frozenset(keep) if keep else None
        self.drop = frozenset(drop or ())
        both = sorted(self.drop & (self.keep or frozenset()))
        if both:
            raise UsageError(f"--keep-classes and --drop-classes both name {', '.join(both)}")

    def rename_class(self, name: str) -> str | None:
        name = self.remap.get(name, name)
        if (self.keep is not None and name not in self.keep) or name in self.drop:
            return None
        return name

    def check_classes(self, names: list[str]) -> None:
        present = set(names)
        missing = sorted(set(self.remap) - present)
        if missing:
            raise UsageError(f"--remap: {_classes(missing)} not in the dataset (its classes: "
                             f"{', '.join(sorted(present)) or 'none'})")
        after = {self.remap.get(name, name) for name in present}
        for flag, chosen in (("--keep-classes", self.keep or ()), ("--drop-classes", self.drop)):
            missing = sorted(set(chosen) - after)
            if missing:
                raise UsageError(f"{flag}: {_classes(missing)} not in the dataset after "
                                 f"--remap (classes: {', '.join(sorted(after)) or 'none'})")

    def __call__(self, sample: Sample, context: Context) -> Sample:
        # The classes as read, for a check_classes run at the end (formats that cannot list
        # their classes cheaply: conversion.py).
        read = {obj.label: None for obj in sample.objects}
        if sample.image_labels:
            read.update((label.label, None) for label in sample.image_labels)
        context.notes["read_classes"] = tuple(read)
        kept = []
        for obj in sample.objects:
            name = self.rename_class(obj.label)
            if name is not None:
                obj.label = name
                kept.append(obj)
        sample.objects = kept
        if sample.image_labels:
            labels = []
            for label in sample.image_labels:
                name = self.rename_class(label.label)
                if name is not None:
                    label.label = name
                    labels.append(label)
            sample.image_labels = labels
        return sample


def setup_classes(opts) -> ClassChanges | None:
    if opts.remap is None and not opts.keep_classes and not opts.drop_classes:
        return None
    remap = parse_remap(opts.remap) if opts.remap is not None else {}
    return ClassChanges(remap, opts.keep_classes, opts.drop_classes)


def _classes(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names)
    return f"class {shown} is" if len(names) == 1 else f"classes {shown} are"
