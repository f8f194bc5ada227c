"""Drive one conversion: list → build (in workers) → write shards → summary, manifest, label map.

The format lists its items; `Builder` turns each into an encoded example in a worker pool; this
module routes results in input order to the sharded writers, counts problems and applies
`--max-errors`, and publishes every file only when the whole run succeeded.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import __version__
from .build import Builder, Result
from .errors import DataError, Interrupted, LabelMapError, UsageError
from .formats import FormatSpec, Options
from .labelmap import LabelMap, load_label_map
from .manifest import label_map_path, manifest_path, manifest_text
from .plugins import get_registry
from .problems import Problem, ProblemLog, fatal
from .progress import Progress
from .seen import SeenHashes
from .settings import Settings, split_options
from .sharding import ShardedWriter, shard_glob, shard_index, stable_hash
from .summary import OutputSummary, Summary
from .workers import Framed, WorkerPool

UNKNOWN_CLASS_EXAMPLES = 3


def convert(format: str, *, progress: bool = False, **options: Any) -> Summary:
    """Convert a dataset to OD-API TFRecords and return the run's `Summary`.

    `options` are the format's own options (`data_dir=`, `set=`, ...) and the common ones
    (`output=`, `label_map=`, `num_shards=`, `on_bad_box=`, ...), named as on the command line
    with underscores. Raises `tfrconv.DataError` for bad data, `tfrconv.UsageError` for bad
    options; in both cases nothing is left under the output's name.
    """
    spec = get_registry().format(format)
    common, own = split_options(spec, options)
    settings = Settings.resolve(spec, common)
    opts = spec.resolve(own)
    return Conversion(spec, opts, settings, progress=progress).run()


class Conversion:
    def __init__(self, spec: FormatSpec, opts: Options, settings: Settings, *,
                 progress: bool = False) -> None:
        self.spec = spec
        self.opts = opts
        self.settings = settings
        self.progress = progress

    # -- set-up ----------------------------------------------------------------------------
    def outputs(self) -> dict[str | None, str]:
        if self.spec.outputs is not None:
            outputs = self.spec.outputs(self.opts, self.settings.output)
        else:
            outputs = {None: self.settings.output}
        if not outputs or any(not path for path in outputs.values()):
            raise UsageError(f"{self.spec.name}: no output path (give --output)")
        return {split: os.fspath(path) for split, path in outputs.items()}

    def resolve_label_map(self) -> tuple[LabelMap, str]:
        """The label map to use, and where it came from (for the summary and manifest)."""
        ref = self.settings.label_map
        origin = "--label-map"
        if ref is None and self.spec.default_label_map is not None:
            ref = self.spec.default_label_map(self.opts)
            origin = f"{self.spec.name} default"
        if ref is None:
            names = self.known_classes()
            if names is None:
                names = self.scan_classes()
            label_map = LabelMap.from_names(sorted(set(names)), source="generated from the data")
            if not label_map.items:
                raise DataError("no classes found in the data to build a label map from; "
                                "give --label-map")
            return label_map, "generated from the classes in the data (ids 1..N, sorted)"
        label_map = load_label_map(ref)
        if not label_map.items:
            raise LabelMapError("the label map has no items", file=label_map.source)
        name = ref if isinstance(ref, str) else (label_map.source or "given")
        return label_map, f"{name} ({origin})"

    def known_classes(self) -> list[str] | None:
        if self.spec.classes is None:
            return None
        names = self.spec.classes(self.opts)
        return None if names is None else list(names)

    def scan_classes(self) -> list[str]:
        names: set[str] = set()
        for item in self.spec.list_items(self.opts):
            try:
                sample = self.spec.read_item(item, self.opts)
            except DataError:
                continue                      # reported properly by the real run
            names.update(o.label for o in sample.objects)
            names.update(lb.label for lb in sample.image_labels)
        return sorted(names)

    def precheck_classes(self, label_map: LabelMap) -> None:
        """With a cheap class list, a label map that misses classes fails before any reading."""
        if self.settings.policies["unknown_class"] != "error":
            return
        found = None if self.spec.classes is None else self.spec.classes(self.opts)
        if found is None:
            return
        missing = sorted({n for n in found if label_map.resolve(n) is None})
        if missing:
            # A format may map each class to where it occurs ("labels.csv lines 3, 9").
            shown = ", ".join(f"{n!r} ({found[n]})" if isinstance(found, Mapping) else repr(n)
                              for n in missing[:20])
            raise LabelMapError(
                f"{_count(len(missing), 'class', 'classes')} of the dataset "
                f"{'is' if len(missing) == 1 else 'are'} not in the label map "
                f"({label_map.source}): {shown} (fix the label map, or --on-unknown-class skip)")

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> Summary:
        if self.settings.runner == "beam":
            from .runners import run_beam

            return run_beam(self)
        start = time.perf_counter()
        outputs = self.outputs()
        label_map, label_map_origin = self.resolve_label_map()
        self.precheck_classes(label_map)
        builder = Builder(self.spec, self.opts, label_map, self.settings)
        log = ProblemLog()
        log.open_report(self.settings.report)
        writers: dict[str | None, ShardedWriter] = {}
        sidecars: list[tuple[str, str]] = []
        try:
            with _signals_as_errors():
                for split, path in outputs.items():
                    writers[split] = ShardedWriter(path, self.settings.num_shards,
                                                   self.settings.compression)
                counts = self._write_all(builder, writers, log)
                if counts["examples"] == 0 and counts["skipped_images"]:
                    raise _nothing_written(counts["skipped_images"], log)
                for writer in writers.values():
                    writer.finish()
                summaries, files = self.describe_outputs(writers, counts, label_map,
                                                         label_map_origin, log)
                for path, text in files:
                    sidecars.append(_write_temp(path, text))
                for writer in writers.values():
                    writer.publish()
                for temp, final in sidecars:
                    os.replace(temp, final)
                sidecars.clear()
        except KeyboardInterrupt:
            raise Interrupted("interrupted; no output was written (temporary files removed)") \
                from None
        finally:
            for writer in writers.values():
                if not writer.closed:
                    writer.abort()
            for temp, _final in sidecars:
                _unlink(temp)
            log.close()
        return self.make_summary(summaries, counts, label_map_origin, log, start)

    def _write_all(self, builder: Builder, writers: dict[str | None, ShardedWriter],
                   log: ProblemLog) -> dict[str, Any]:
        counts: dict[str, Any] = Counter()
        counts["classes"] = Counter()
        counts["per_split"] = {split: {"examples": 0, "objects": 0, "classes": Counter(),
                                       "images": Counter()} for split in writers}
        state = {"seen_ids": SeenHashes(), "skipped_problems": 0}
        items = self.spec.list_items(self.opts)
        total = len(items) if hasattr(items, "__len__") else None
        progress = Progress(self.spec.name, total, enabled=self.progress)
        try:
            if self.settings.workers <= 1:
                for item in items:
                    progress.update()
                    self._take(builder.build(item), builder, writers, counts, log, state)
            else:
                # The first item is built here: whatever the format imports or caches on first
                # use (lxml, pycocotools, an index) is then inherited by the forked workers
                # instead of being loaded once in each.
                items = iter(items)
                for item in itertools.islice(items, 1):
                    progress.update()
                    self._take(builder.build(item), builder, writers, counts, log, state)
                for writer in writers.values():
                    writer.flush()
                # Workers write their records themselves, where `_take` reserves room for them.
                with WorkerPool(builder, self.settings.workers,
                                send_payloads=self.settings.compression is not None) as pool:
                    for results in pool.chunks(items):
                        progress.update(len(results))
                        pool.place([self._take(result, builder, writers, counts, log, state)
                                    for result in results])
                    pool.finish()
        finally:
            progress.close()
        for per_split in counts["per_split"].values():
            counts["classes"].update(per_split["classes"])
        return counts

    def _take(self, result: Result, builder: Builder, writers: dict[str | None, ShardedWriter],
              counts: dict[str, Any], log: ProblemLog, state: dict[str, Any]):
        """Account for one result in input order: problems, policies, duplicates, then write it
        (or reserve its place, for a worker's record). Returns the place, if reserved."""
        for problem in result.problems:
            log.add(problem)
            if problem.action in ("skipped", "clipped"):
                state["skipped_problems"] += 1
        if result.fatal is not None:
            if result.fatal.kind == "unknown_class":
                raise self._unknown_classes_error(builder.label_map)
            raise fatal(result.fatal)
        if result.payload is not None and result.source_id is not None and \
                not state["seen_ids"].add(stable_hash(result.source_id)):
            problem = Problem("duplicate_id", f"source id {result.source_id!r} appears twice",
                              None, result.source_id)
            if self.settings.policies["duplicate_id"] == "error":
                raise fatal(problem)
            log.add(Problem(problem.kind, problem.message, None, result.source_id, "skipped"))
            state["skipped_problems"] += 1
            result.payload = None
        self._check_max_errors(state["skipped_problems"])
        if result.payload is None:
            counts["skipped_images"] += 1
            return None
        return self._write(result, writers, counts)

    def _write(self, result: Result, writers: dict[str | None, ShardedWriter],
               counts: dict[str, Any]) -> tuple[str, int] | None:
        writer = writers.get(result.split)
        if writer is None:
            raise UsageError(f"format {self.spec.name!r} produced a sample for split "
                             f"{result.split!r}, which is not one of its outputs "
                             f"({', '.join(map(str, writers))})")
        shard = shard_index(result.source_id or "", writer.num_shards, result.shard_key)
        place = None
        if isinstance(result.payload, Framed):
            place = writer.reserve(shard, result.payload.length)
        else:
            writer.write(shard, result.payload)
        labels = result.labels
        counts["examples"] += 1
        counts["objects"] += len(labels)
        counts["skipped_objects"] += result.skipped_objects
        counts["clipped"] += result.clipped
        per_split = counts["per_split"][result.split]
        per_split["examples"] += 1
        per_split["objects"] += len(labels)
        if labels:                     # (item updates: Counter.update costs several µs)
            classes, images = per_split["classes"], per_split["images"]
            for label in labels:
                classes[label] += 1
            for label in (set(labels) if len(labels) > 1 else labels):
                images[label] += 1
        return place

    def _check_max_errors(self, skipped_problems: int) -> None:
        limit = self.settings.max_errors
        if limit is not None and skipped_problems > limit:
            raise DataError(f"stopped: more than {limit} problems were skipped (--max-errors "
                            f"{limit}); see the report for what went wrong")

    def _unknown_classes_error(self, label_map: LabelMap) -> DataError:
        """Scan every annotation (no images) and name all unknown classes at once."""
        unknown: dict[str, dict[str, Any]] = {}
        for item in self.spec.list_items(self.opts):
            try:
                sample = self.spec.read_item(item, self.opts)
            except DataError:
                continue
            where = sample.origin or sample.filename
            labels = [o.label for o in sample.objects] + [lb.label for lb in sample.image_labels]
            for label in labels:
                if label_map.resolve(label) is None:
                    entry = unknown.setdefault(label, {"objects": 0, "files": []})
                    entry["objects"] += 1
                    if where not in entry["files"]:
                        entry["files"].append(where)
        parts = []
        for label, entry in sorted(unknown.items()):
            files = entry["files"]
            shown = ", ".join(files[:UNKNOWN_CLASS_EXAMPLES]) + (" ..." if len(files) > 3 else "")
            parts.append(f"{label!r} ({_count(entry['objects'], 'object')} in "
                         f"{_count(len(files), 'file')}: {shown})")
        return DataError(
            f"{_count(len(unknown), 'class', 'classes')} "
            f"{'is' if len(unknown) == 1 else 'are'} not in the label map ({label_map.source}): "
            + "; ".join(parts) + " (fix the label map, or --on-unknown-class skip to drop them)")

    # -- results (shared by every runner) -----------------------------------------------------
    def describe_outputs(self, shard_sets, counts, label_map, origin, log
                         ) -> tuple[list[OutputSummary], list[tuple[str, str]]]:
        """Each output's summary, and the sidecar files (final path, text) to write beside it.

        `shard_sets` maps split → an object with `output`, `num_shards` and `stats` (a
        `ShardedWriter`, or a Beam runner's record of the shards it wrote).
        """
        summaries, files = [], []
        for split, shards in shard_sets.items():
            out = self._output_summary(split, shards, counts, label_map, origin, log)
            summaries.append(out)
            files.append((out.label_map, label_map.to_text()))
            files.append((out.manifest, manifest_text(
                self._manifest(split, shards, counts, label_map, origin, log))))
        return summaries, files

    def make_summary(self, summaries, counts, label_map_origin, log, start: float) -> Summary:
        return Summary(
            format=self.spec.name, outputs=summaries, examples=counts["examples"],
            objects=counts["objects"], skipped_images=counts["skipped_images"],
            skipped_objects=counts["skipped_objects"], clipped_boxes=counts["clipped"],
            seconds=round(time.perf_counter() - start, 3), label_map=label_map_origin,
            classes=dict(sorted(counts["classes"].items())), problems=log.as_dict(),
            report=self.settings.report)

    # -- results ---------------------------------------------------------------------------
    def _output_summary(self, split, writer, counts, label_map, origin, log) -> OutputSummary:
        per_split = counts["per_split"][split]
        return OutputSummary(
            split=split, path=writer.output, glob=shard_glob(writer.output, writer.num_shards),
            num_shards=writer.num_shards, examples=per_split["examples"],
            objects=per_split["objects"], bytes=sum(s.bytes for s in writer.stats),
            manifest=manifest_path(writer.output), label_map=label_map_path(writer.output),
            shards=[{"path": s.path, "examples": s.examples, "bytes": s.bytes}
                    for s in writer.stats])

    def _manifest(self, split, writer, counts, label_map, origin, log) -> dict[str, Any]:
        per_split = counts["per_split"][split]
        objects_by_id: Counter = Counter()
        images_by_id: Counter = Counter()
        for text, n in per_split["classes"].items():
            objects_by_id[label_map.resolve(text)] += n
        for text, n in per_split["images"].items():
            images_by_id[label_map.resolve(text)] += n
        classes = []
        for item in label_map.by_id().values():
            objects, images = objects_by_id[item.id], images_by_id[item.id]
            classes.append({"id": item.id, "name": item.name, "display_name": item.display_name,
                            "objects": objects, "images": images})
        return {
            "manifest_version": 1,
            "tfrconv_version": __version__,
            "format": self.spec.name,
            "plugin": get_registry().format_owner(self.spec.name),
            "options": {k: _json_safe(v) for k, v in self.opts.items()},
            "settings": self.settings.as_dict(),
            "split": split,
            "output": os.path.basename(writer.output),
            "shard_glob": os.path.basename(shard_glob(writer.output, writer.num_shards)),
            "num_shards": writer.num_shards,
            "compression": self.settings.compression or "none",
            "shards": [{"path": os.path.basename(s.path), "examples": s.examples,
                        "bytes": s.bytes} for s in writer.stats],
            "examples": per_split["examples"],
            "objects": per_split["objects"],
            "classes": classes,
            "label_map": {
                "path": os.path.basename(label_map_path(writer.output)),
                "source": origin,
                "sha256": label_map.sha256(),
                "num_classes": label_map.max_id,
                "items": label_map.as_dicts(),
            },
            "problems": {kind: entry["count"] for kind, entry in log.as_dict().items()},
            "skipped_images": counts["skipped_images"],
        }


def _nothing_written(skipped: int, log: ProblemLog) -> DataError:
    """Every image was skipped: fail instead of publishing empty files that look like success."""
    reasons = []
    for kind, entry in log.as_dict().items():
        first = entry["first"][0] if entry["first"] else {}
        where = f"{first['file']}: " if first.get("file") else ""
        reasons.append(f"{kind} x{entry['count']}, e.g. {where}{first.get('message', '')}")
    return DataError(f"no example written: all {skipped} images were skipped ("
                     + "; ".join(reasons) + "); no output files were left")


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return str(value)


def _write_temp(final: str, text: str) -> tuple[str, str]:
    folder, name = os.path.split(os.path.abspath(final))
    temp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
    with open(temp, "w", encoding="utf-8") as fileobj:
        fileobj.write(text)
    return temp, final


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


@contextmanager
def _signals_as_errors() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt so the cleanup paths run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
