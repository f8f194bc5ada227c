"""`tfrconv.write_samples`: records from the caller's own `Sample`s, with everything a conversion
has (image checks and policies, label map, sharding, manifest, atomic publish, summary).

The samples become a format made on the fly: its items are the samples themselves, and reading
an item is checking that it is a `Sample`. Worker processes are used only for a list or tuple
(a generator can be read once, in this process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .errors import DataError, TfrconvError, UsageError
from .formats import FormatSpec
from .pipeline import Conversion
from .sample import Sample
from .settings import COMMON_NAMES, Settings
from .summary import Summary

FORMAT_NAME = "samples"


class SampleSource:
    """`list_items` of the on-the-fly format: the caller's samples (picklable when they are)."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self.samples = samples
        self.reusable = isinstance(samples, Sequence)
        self.used = False

    def __call__(self, opts: Any) -> Iterable[Sample]:
        if not self.reusable and self.used:
            return ()             # a generator is spent: error rescans see nothing more
        self.used = True
        return self.samples


def read_sample(item: Any, opts: Any) -> Sample:
    """The item itself, when it is a `Sample`."""
    if not isinstance(item, Sample):
        raise DataError(f"write_samples: got a {type(item).__name__}, not a tfrconv.Sample")
    return item


def samples_format(samples: Iterable[Sample], object_fields: Iterable[str] = ()) -> FormatSpec:
    return FormatSpec(name=FORMAT_NAME, help="the caller's own samples (tfrconv.write_samples)",
                      list_items=SampleSource(samples), read_item=read_sample,
                      object_fields=frozenset(object_fields))


def write_samples(samples: Iterable[Sample], *, output: Any, label_map: Any = None,
                  num_shards: int | None = None, progress: bool = False,
                  object_fields: Iterable[str] = (), **options: Any) -> Summary:
    """Write `samples` as OD-API records to `output` and return the run's `Summary`.

    `label_map`: a builtin name, a .pbtxt path or a `tfrconv.LabelMap`; None (or "from-data")
    numbers the classes found 1..N, sorted (that needs a list: a generator is read once).
    `options` are the common options of every conversion (`on_bad_box="skip"`,
    `on_unknown_class=`, `compression="gzip"`, `workers=`, `report=` ...). `object_fields`
    names the optional object fields (difficult, truncated, pose ...) written even for images
    without objects. Raises `tfrconv.DataError` / `UsageError`; nothing is left under
    `output` then.
    """
    unknown = sorted(set(options) - COMMON_NAMES)
    if unknown:
        raise UsageError(f"write_samples has no option {', '.join(unknown)} (options: "
                         f"{', '.join(sorted(COMMON_NAMES))})")
    if isinstance(samples, Sequence):
        wrong = next((i for i, s in enumerate(samples) if not isinstance(s, Sample)), None)
        if wrong is not None:
            raise DataError(f"write_samples: samples[{wrong}] is a "
                            f"{type(samples[wrong]).__name__}, not a tfrconv.Sample")
    spec = samples_format(samples, object_fields)
    if label_map in (None, "from-data") and not isinstance(samples, Sequence):
        raise UsageError("write_samples: give label_map= when the samples are a generator or "
                         "iterator (building one from the data reads them twice); or pass a "
                         "list")
    if not isinstance(samples, Sequence):
        options["workers"] = 1
    options.setdefault("workers", 1)
    values = {**options, "output": output, "num_shards": num_shards,
              "label_map": "from-data" if label_map is None else None}
    try:
        settings = Settings.resolve(spec, values)
        if label_map is not None:
            settings.label_map = label_map     # a LabelMap object is kept as it is
        return Conversion(spec, spec.resolve({}), settings, progress=progress).run()
    except TfrconvError as exc:
        exc.in_library_terms()
        raise
