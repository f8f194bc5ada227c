"""What a conversion is, apart from how it runs: its outputs, its label map, the checks made
before any image is read, the errors that name every unknown class, and the summary, manifests
and label maps written beside the output. Every runner (`runners/local.py`, `runners/beam.py`)
takes a `Conversion` and uses these; `pipeline.py` picks the runner.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from . import __version__
from .class_names import MatchCase, did_you_mean, unmatched
from .errors import DataError, LabelMapError, OptionHint, UsageError
from .formats import FormatSpec, Options, split_outputs
from .labelmap import LabelMap
from .labelmap_refs import load_label_map
from .manifest import class_entries, label_map_entry, label_map_path, manifest_path, manifest_text
from .plugins import get_registry
from .problems import Problem, ProblemLog, fatal
from .settings import Settings
from .sharding import ShardStats, shard_glob, shard_paths
from .summary import OutputSummary, Summary
from .tally import Tally
from .transforms.prepared import Prepared, prepare
from .transforms.stratify import Annotated

UNKNOWN_CLASS_EXAMPLES = 3       # files named per unknown class
FROM_DATA = "from-data"          # --label-map from-data: ids 1..N over the classes found


class ShardSet(Protocol):
    """One output's written shards: a `ShardedWriter`, or the Beam runner's record of them."""

    output: str
    num_shards: int
    stats: list[ShardStats]


class Conversion:
    """One format, its options and the common settings; runner-neutral."""

    def __init__(self, spec: FormatSpec, opts: Options, settings: Settings, *,
                 progress: bool = False) -> None:
        self.spec = spec
        self.opts = opts
        self.settings = settings
        self.progress = progress
        self._prepared: Prepared | None = None
        self._checked = False
        self._scanned: list[str] | None = None     # the annotations' classes, as read
        self._annotations: list[Annotated] | None = None   # kept only for `plan_splits`
        self._planned = False
        # True when the transforms' class check waits for the classes the workers read
        # (`check_transforms`); the tally runs it before anything is published.
        self.class_check_deferred = False

    @property
    def transforms(self) -> Prepared:
        """The run's active transforms (docs/transforms.md); bad options are a UsageError."""
        if self._prepared is None:
            self._prepared = prepare(get_registry().transforms, self.settings.transform_values)
            if self.settings.runner != "local" and self._prepared.having("new_index"):
                raise UsageError("--near-duplicates needs --runner local (the Beam runner does "
                                 "not check near-duplicate images; docs/transforms.md)")
        return self._prepared

    # -- set-up ----------------------------------------------------------------------------
    def outputs(self) -> dict[str | None, str]:
        """split → output path (one output, split None, unless the format has several)."""
        if self.spec.outputs is not None:
            outputs = self.spec.outputs(self.opts, self.settings.output)
        else:
            outputs = {None: self.settings.output}
        splits = self.transforms.splits
        if splits is not None and outputs:
            if list(outputs) != [None]:
                raise UsageError(f"--split: {self.spec.name} already writes one output per split "
                                 f"({', '.join(map(str, outputs))}); split with its own options")
            outputs = split_outputs(outputs[None], splits)
        if not outputs or any(not path for path in outputs.values()):
            raise UsageError(f"{self.spec.name}: no output path (give --output)")
        return {split: os.fspath(path) for split, path in outputs.items()}

    def check_report_path(self, outputs: Mapping[str | None, str]) -> None:
        """--report must not be one of the files the run writes (a shard, a manifest, a label
        map): a usage error before any work, not a file silently overwritten."""
        report = self.settings.report
        if not report:
            return
        written = {}
        for output in outputs.values():
            for path in (*shard_paths(output, self.settings.num_shards),
                         manifest_path(output), label_map_path(output)):
                written[os.path.realpath(path)] = path
        clash = written.get(os.path.realpath(report))
        if clash is not None:
            raise UsageError(f"--report {report} is also an output of this run ({clash}); "
                             "give the report another name")

    def resolve_label_map(self) -> tuple[LabelMap, str]:
        """The label map to use, and where it came from (for the summary and manifest)."""
        self.check_transforms()      # --keep-classes of a class the data lacks: say so first
        label_map, origin = self._label_map()
        self.plan_splits()
        if self.settings.ignore_class_case:
            # Samples carry the map's spelling from the read on: what is written resolves.
            self.spec = dataclasses.replace(
                self.spec, read_item=MatchCase(self.spec.read_item, label_map))
        return label_map, origin

    def _label_map(self) -> tuple[LabelMap, str]:
        ref = self.settings.label_map
        origin = "--label-map"
        if self.label_map_generated():
            ref = None
        elif ref is None:
            ref = self.spec.default_label_map(self.opts)
            origin = f"{self.spec.name} default"
        if ref is None:
            label_map = self.label_map_from_data()
            if not label_map.items:
                raise DataError("no classes found in the data to build a label map from; "
                                "give --label-map")
            order = "in the format's order" if self.spec.ordered_classes else "sorted"
            return label_map, f"generated from the classes in the data (ids 1..N, {order})"
        label_map = load_label_map(ref)
        if not label_map.items:
            raise LabelMapError("the label map has no items", file=label_map.source)
        name = ref if isinstance(ref, str) else (label_map.source or "given")
        return label_map, f"{name} ({origin})"

    def label_map_generated(self) -> bool:
        """Whether the label map is built from the classes in the data (--label-map
        from-data, no default map, or renamed classes without --label-map)."""
        ref = self.settings.label_map
        return ref == FROM_DATA or (ref is None and (self.spec.default_label_map is None
                                                     or self.transforms.renames_classes))

    def label_map_from_data(self) -> LabelMap:
        """Ids 1..N for the classes found: in the format's own order when it declares one
        (`FormatSpec.ordered_classes`), else sorted. `labelmap from-data` writes the same."""
        names = self.known_classes()
        if names is None:
            names = self.scan_classes()
        ordered = list(dict.fromkeys(names)) if self.spec.ordered_classes and \
            self.spec.classes is not None else sorted(set(names))
        return LabelMap.from_names(ordered, source="generated from the data")

    def known_classes(self, renamed: bool = True) -> list[str] | None:
        """The classes the format can list cheaply (as the transforms rename them), or None."""
        if self.spec.classes is None:
            return None
        names = self.spec.classes(self.opts)
        if names is None:
            return None
        return self.transforms.rename_classes(names) if renamed else list(names)

    def scan_classes(self, renamed: bool = True) -> list[str]:
        """Every class in the annotations (no images read; as the transforms rename them).
        The annotations are read once per run: --remap's check and the label map generated
        from the data share that read (on VOC it costs as much as a tenth of the run)."""
        if self._scanned is None:
            names: set[str] = set()
            for annotated in self._read_annotations():
                names.update(annotated.classes)
            self._scanned = sorted(names)
        if not renamed:
            return list(self._scanned)
        return sorted(set(self.transforms.rename_classes(self._scanned)))

    def _read_annotations(self):
        """Every readable annotation (classes as read), read once per run: kept when a
        transform plans the splits from them (`--stratify`), streamed otherwise."""
        if self._annotations is not None:
            return self._annotations
        read = (Annotated(sample.source_id, sample.filename, labels)
                for sample, labels in self._read_labels(renamed=False))
        if self.transforms.having("plan_splits") is None:
            return read
        self._annotations = list(read)
        return self._annotations

    def plan_splits(self) -> None:
        """--stratify: the split of every image, planned from the annotations (the read the
        class check and a generated label map share); the plan travels to the workers among
        the transform's option values."""
        planner = self.transforms.having("plan_splits")
        if planner is None or self._planned:
            return
        self._planned = True
        rename = self.transforms.rename_class
        annotations = [dataclasses.replace(a, classes=tuple(
            n for n in map(rename, a.classes) if n is not None)) for a in self._read_annotations()]
        self.settings.transform_values.update(planner.plan_splits(annotations))

    def check_transforms(self) -> None:
        """Transform options naming classes the data lacks fail here, before any image."""
        if self._checked or \
                not any(hasattr(fn, "check_classes") for fn in self.transforms.transforms):
            return
        self._checked = True
        names = self.known_classes(renamed=False)
        if names is None and not self.label_map_generated() and \
                self.settings.runner == "local" and not self.transforms.having("plan_splits"):
            # No cheap class list and no label map to build from the data: rather than read
            # every annotation once more up front, the workers note the classes they read and
            # the check runs before anything is published (docs/transforms.md).
            self.class_check_deferred = True
            return
        self.transforms.check_classes(self.scan_classes(renamed=False) if names is None
                                      else names)

    def precheck_classes(self, label_map: LabelMap) -> None:
        """With a cheap class list, a label map that misses classes fails before any reading."""
        self.check_transforms()
        if not self.settings.allow_label_map_mismatch:
            check_label_map_clashes(self.outputs().values(), label_map)
        if self.settings.policies["unknown_class"] != "error":
            return
        found = None if self.spec.classes is None else self.spec.classes(self.opts)
        if found is not None and self.transforms.renames_classes:
            found = self.known_classes()
        if found is None:
            return
        missing = unmatched(found, label_map, ignore_case=self.settings.ignore_class_case)
        if missing and len(missing) == len(set(found)):
            raise self.nothing_matches_error(missing, label_map)
        if missing:
            # A format may map each class to where it occurs ("labels.csv lines 3, 9").
            shown = ", ".join((f"{n!r} ({found[n]})" if isinstance(found, Mapping) else repr(n))
                              + did_you_mean(n, label_map) for n in missing[:20])
            raise LabelMapError(
                f"{count(len(missing), 'class', 'classes')} of the dataset "
                f"{'is' if len(missing) == 1 else 'are'} not in the label map "
                f"({label_map.source}): {shown}",
                hint=OptionHint("on_unknown_class", "skip", "fix the label map, or {option}"))

    def new_tally(self, splits: Iterable[str | None], label_map: LabelMap,
                  log: ProblemLog) -> Tally:
        """The run's tally, with this conversion's policies and --max-errors."""
        splits = list(splits)
        hasher = self.transforms.having("new_index")        # --near-duplicates
        if hasher is not None and len(splits) < 2:
            raise UsageError("--near-duplicates looks for leakage between splits, and this run "
                             "writes one output: add --split (tfrconv report --near-duplicates "
                             "finds look-alikes within records)")
        return Tally(splits, log, duplicate_policy=self.settings.policies["duplicate_id"],
                     max_errors=self.settings.max_errors,
                     stop=lambda problem: self.stop_error(problem, label_map),
                     allow_no_objects=self.settings.allow_no_objects,
                     duplicate_image=self.settings.duplicate_image,
                     check_classes=self.transforms.check_classes
                     if self.class_check_deferred else None,
                     near_duplicates=hasher and hasher.new_index(),
                     near_duplicate_policy=getattr(hasher, "policy", "warn"))

    # -- stopping --------------------------------------------------------------------------
    def stop_error(self, problem: Problem, label_map: LabelMap) -> DataError:
        """The error that stops the run for `problem`, whose policy is `error`."""
        if problem.kind == "unknown_class":
            return self.unknown_classes_error(label_map)
        if problem.kind == "duplicate_id" and problem.source_id is not None:
            return self.duplicate_id_error(problem)
        return fatal(problem)

    def duplicate_id_error(self, problem: Problem) -> DataError:
        """Scan the annotations (no images) for every file giving `problem`'s source id."""
        files = []
        for item in self.spec.list_items(self.opts):
            try:
                sample = self.spec.read_item(item, self.opts)
            except DataError:
                continue
            if sample.source_id == problem.source_id:
                where = sample.origin or sample.image_path or sample.filename
                if where not in files:
                    files.append(where)
        shown = ", ".join(files[:UNKNOWN_CLASS_EXAMPLES]) + (
            " ..." if len(files) > UNKNOWN_CLASS_EXAMPLES else "")
        if len(files) < 2:
            return fatal(problem)
        # Named by its second file, as the local runner met it (Beam's problem names none).
        return fatal(Problem("duplicate_id", f"{problem.message} (in {shown})", files[1],
                             problem.source_id))

    def unknown_classes_error(self, label_map: LabelMap) -> DataError:
        """Scan every annotation (no images) and name all unknown classes at once."""
        unknown: dict[str, dict[str, Any]] = {}
        known = False
        for labels, where in self._annotated_labels():
            for label in labels:
                if label_map.resolve(label) is not None:
                    known = True
                else:
                    entry = unknown.setdefault(label, {"objects": 0, "files": []})
                    entry["objects"] += 1
                    if where not in entry["files"]:
                        entry["files"].append(where)
        if unknown and not known:
            return self.nothing_matches_error(sorted(unknown), label_map)
        parts = []
        for label, entry in sorted(unknown.items()):
            files = entry["files"]
            shown = ", ".join(files[:UNKNOWN_CLASS_EXAMPLES]) + (
                " ..." if len(files) > UNKNOWN_CLASS_EXAMPLES else "")
            parts.append(f"{label!r} ({count(entry['objects'], 'object')} in "
                         f"{count(len(files), 'file')}: {shown})"
                         f"{did_you_mean(label, label_map)}")
        return DataError(
            f"{count(len(unknown), 'class', 'classes')} "
            f"{'is' if len(unknown) == 1 else 'are'} not in the label map ({label_map.source}): "
            + "; ".join(parts),
            hint=OptionHint("on_unknown_class", "skip", "fix the label map, or {option} to drop "
                            "them"))

    def nothing_matches_error(self, classes: list[str], label_map: LabelMap) -> LabelMapError:
        """Not one class of the data is in the map: most likely the wrong map (a default such
        as pascal for custom classes), never a reason to drop every object."""
        shown = ", ".join(repr(n) + did_you_mean(n, label_map) for n in classes[:10]) + (
            " ..." if len(classes) > 10 else "")
        return LabelMapError(
            f"no class of the data is in the label map ({label_map.source}): {shown}",
            hint=OptionHint("label_map", FROM_DATA, "to number the data's own classes 1..N, "
                            "convert with {option}"))

    def _annotated_labels(self, renamed: bool = True):
        """(labels, where) of every readable annotation (class names as the transforms rename
        them, unless not `renamed`); unreadable ones are left to the run, which reports them
        properly."""
        for sample, labels in self._read_labels(renamed):
            yield labels, sample.origin or sample.filename

    def _read_labels(self, renamed: bool = True):
        """(sample, its class names) of every readable annotation; see `_annotated_labels`."""
        rename = self.transforms.renames_classes and renamed
        for item in self.spec.list_items(self.opts):
            try:
                sample = self.spec.read_item(item, self.opts)
            except DataError:
                continue
            labels = [o.label for o in sample.objects] + [lb.label for lb in sample.image_labels]
            if rename:
                labels = [n for n in map(self.transforms.rename_class, labels) if n is not None]
            yield sample, tuple(labels)

    # -- results ---------------------------------------------------------------------------
    def describe_outputs(self, shard_sets: Mapping[str | None, ShardSet], tally: Tally,
                         label_map: LabelMap, origin: str
                         ) -> tuple[list[OutputSummary], list[tuple[str, str]]]:
        """Each output's summary, and the sidecar files (final path, text) to write beside it."""
        summaries, files = [], []
        for split, shards in shard_sets.items():
            out = self._output_summary(split, shards, tally)
            summaries.append(out)
            files.append((out.label_map, label_map.to_text()))
            files.append((out.manifest, manifest_text(
                self._manifest(split, shards, tally, label_map, origin))))
        return summaries, files

    def make_summary(self, summaries: list[OutputSummary], tally: Tally, label_map_origin: str,
                     start: float) -> Summary:
        """The run's `Summary`; `start` is the run's `time.perf_counter()` at its start."""
        totals = tally.totals()
        return Summary(
            format=self.spec.name, outputs=summaries, examples=totals.examples,
            objects=totals.objects, skipped_images=tally.skipped_images,
            skipped_objects=totals.skipped_objects, clipped_boxes=totals.clipped,
            seconds=round(time.perf_counter() - start, 3), label_map=label_map_origin,
            classes=dict(sorted(totals.classes.items())), problems=tally.log.as_dict(),
            report=self.settings.report, split_classes=self._split_classes(tally))

    def _split_classes(self, tally: Tally) -> dict[str, dict[str, int]]:
        """--stratify: images per class in each split, as written (empty otherwise)."""
        if not self.transforms.having("plan_splits"):
            return {}
        names = sorted({name for counts in tally.splits.values() for name in counts.images})
        return {name: {split: counts.images[name] for split, counts in tally.splits.items()}
                for name in names}

    def _output_summary(self, split, shards: ShardSet, tally: Tally) -> OutputSummary:
        counts = tally.splits[split]
        return OutputSummary(
            split=split, path=shards.output, glob=shard_glob(shards.output, shards.num_shards),
            num_shards=shards.num_shards, examples=counts.examples,
            objects=counts.objects, bytes=sum(s.bytes for s in shards.stats),
            manifest=manifest_path(shards.output), label_map=label_map_path(shards.output),
            shards=[{"path": s.path, "examples": s.examples, "bytes": s.bytes}
                    for s in shards.stats])

    def _manifest(self, split, shards: ShardSet, tally: Tally, label_map: LabelMap,
                  origin: str) -> dict[str, Any]:
        counts = tally.splits[split]
        classes = class_entries(label_map, counts.classes, counts.images)
        return {
            "manifest_version": 1,
            "tfrconv_version": __version__,
            "format": self.spec.name,
            "plugin": get_registry().format_owner(self.spec.name),
            "options": {k: json_safe(v) for k, v in self.opts.items()},
            "settings": self.settings.as_dict(),
            "split": split,
            "output": os.path.basename(shards.output),
            "shard_glob": os.path.basename(shard_glob(shards.output, shards.num_shards)),
            "num_shards": shards.num_shards,
            "compression": self.settings.compression or "none",
            "shards": [{"path": os.path.basename(s.path), "examples": s.examples,
                        "bytes": s.bytes} for s in shards.stats],
            "examples": counts.examples,
            "objects": counts.objects,
            "classes": classes,
            "label_map": label_map_entry(label_map, shards.output, origin),
            "problems": {kind: entry["count"] for kind, entry in tally.log.as_dict().items()},
            "skipped_images": tally.skipped_images,
        }


def count(number: int, singular: str, plural: str | None = None) -> str:
    """"1 file", "3 files"."""
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


def json_safe(value: Any) -> Any:
    """Option values as JSON: plain values kept, sequences as lists, anything else as text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)


def check_label_map_clashes(outputs: Iterable[str], label_map: LabelMap) -> None:
    """A UsageError when a sibling split in the folder of one of `outputs` (converted earlier)
    was written with a different label map: the two splits would disagree on ids.

    Siblings are outputs named alike but for the split: `train.record` and `val.record`, or
    `data_train.record` and `data_val.record` (the part before the last "_" is the same).
    Unrelated outputs that share a folder (`kitti_train`, `pets_train`) are not compared, and
    re-writing an output itself is not a clash."""
    ours = label_map.sha256()
    own = {os.path.abspath(manifest_path(output)) for output in outputs}
    for manifest in sorted(own):
        folder = os.path.dirname(manifest)
        family = split_family(os.path.basename(manifest))
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            other = os.path.join(folder, name)
            if not name.endswith(".manifest.json") or other in own or \
                    split_family(name) != family:
                continue
            try:
                with open(other, encoding="utf-8") as fileobj:
                    theirs = json.load(fileobj)["label_map"]["sha256"]
            except (OSError, ValueError, KeyError, TypeError):
                continue                 # not one of ours, or unreadable: nothing to compare
            if theirs != ours:
                raise UsageError(
                    f"{manifest} would be written with another label map than {other} was "
                    f"({label_map.source or 'given'}): the two splits would give classes "
                    "different ids; use the same --label-map",
                    hint=OptionHint("allow_label_map_mismatch", True,
                                    "or, if that is what you want, {option}"))


def split_family(manifest_name: str) -> str:
    """What the outputs of one dataset's splits share: `data_train.manifest.json` → "data",
    `train.manifest.json` → ""."""
    stem = manifest_name.removesuffix(".manifest.json")
    return stem.rpartition("_")[0]
