"""`tfrconv records export R --to voc|coco|yolo --out DIR` and `tfrconv.export_records`.

Records from any producer are read back as `Sample`s (`reading.read_samples`) and handed to one
exporter (export_voc, export_coco, export_yolo), which writes the format's canonical layout
into a temporary folder beside DIR; the folder is renamed into place only when everything was
written. Images are the stored bytes, never re-encoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from .export_coco import CocoExporter
from .export_common import ClassIds, ExportFolder, check_split, split_of
from .export_voc import VocExporter
from .export_yolo import YoloExporter
from .reading import check_on_error, input_label_map, input_paths, read_samples

EXPORTERS = {"voc": VocExporter, "coco": CocoExporter, "yolo": YoloExporter}
# Formats whose files name class ids while they are written: their ids must be known first.
IDS_FIRST = {"yolo"}


@dataclass
class ExportSummary:
    out: str
    to: str
    images: int = 0
    objects: int = 0
    splits: dict[str, int] = field(default_factory=dict)     # split -> images
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        splits = ", ".join(f"{split} {count}" for split, count in self.splits.items())
        return [f"exported {self.images} images, {self.objects} objects to {self.out} "
                f"({self.to}; {splits or 'no splits'})", *self.notes]


def export_records(paths_or_globs: Any, to: str, out: str | os.PathLike, *,
                   split: str | None = None, label_map: Any = None,
                   on_error: str = "error") -> ExportSummary:
    """Write OD-API records back out as a VOC, COCO or YOLO dataset folder.

    `paths_or_globs`: record files, shard globs or folders (as `tfrconv.read_samples`).
    `to`: ``"voc"``, ``"coco"`` or ``"yolo"``. `out`: a new (or empty) folder; it appears only
    when the whole export succeeded. `split`: the one split every example goes to; by default
    each record file's name gives its split (``val.record-00000-of-00002`` → ``val``).
    `label_map` (a `LabelMap`, file or builtin name): the class ids; by default the label map
    beside the records, else ids from 1 in sorted class-name order. `on_error`: ``"error"`` or
    ``"skip"`` for damaged records, as in `read_samples`.
    """
    if to not in EXPORTERS:
        raise UsageError(f"--to {to!r}: choose one of {', '.join(EXPORTERS)}")
    check_on_error(on_error)
    if split is not None:
        check_split(split)
    paths = input_paths(paths_or_globs)
    found = input_label_map(paths, label_map)
    class_ids = ClassIds(found) if found is not None else None
    if class_ids is None and to in IDS_FIRST:
        class_ids = ClassIds.from_names(
            obj.label for sample in read_samples(paths, on_error=on_error)
            for obj in sample.objects)
    summary = ExportSummary(out=os.fspath(out), to=to)
    with ExportFolder(out) as folder:
        exporter = EXPORTERS[to](folder, class_ids)
        for sample in read_samples(paths, label_map=found, on_error=on_error):
            sample_split = split or split_of(sample.origin.rpartition(":")[0])
            exporter.add(sample, sample_split)
            summary.images += 1
            summary.objects += len(sample.objects)
            summary.splits[sample_split] = summary.splits.get(sample_split, 0) + 1
        exporter.finish(ClassIds.from_names)
        summary.notes += getattr(exporter, "notes", list)()
        folder.publish()
    return summary


# -- the command line (declared in tfrconv.records.commands) -------------------------------
def add_export_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="RECORDS",
                        help="record files, shard globs or folders, from any producer")
    parser.add_argument("--to", required=True, choices=list(EXPORTERS),
                        help="the annotation format to write, in its canonical layout")
    parser.add_argument("-o", "--out", "--output", dest="out", required=True, metavar="DIR",
                        help="a new (or empty) folder; it appears only when the whole export "
                        "succeeded")
    parser.add_argument("--split", metavar="NAME",
                        help="put every example in this split (default: each record file's "
                        "name, e.g. val.record -> val)")
    parser.add_argument("--label-map", metavar="NAME|PATH",
                        help="class ids (default: the label map beside the records, else ids "
                        "from 1 in sorted class-name order)")
    parser.add_argument("--on-error", choices=("error", "skip"), default="error",
                        help="a damaged record: stop with its file and index (error, the "
                        "default) or leave it out and export the rest (skip)")


def run_export(args) -> int:
    """The command: SIGTERM/SIGHUP become an exception, so an interrupted export leaves no
    folder behind."""
    from ..errors import Interrupted
    from ..runners.signals import signals_as_errors

    try:
        with signals_as_errors():
            summary = export_records(args.inputs, args.to, args.out, split=args.split,
                                     label_map=args.label_map, on_error=args.on_error)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; nothing was written (the temporary folder was "
                          "removed)") from None
    print("\n".join(summary.lines()))
    return 0
