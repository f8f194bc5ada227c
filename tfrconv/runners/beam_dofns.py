"""The Beam pipeline's steps, as they run on workers.

Every class here is importable by its module path, so Dataflow, Flink and Spark workers (and the
DirectRunner's worker processes) can unpickle them. They carry a `Builder`, which finds its format
again by name through the `tfrconv` entry points on the worker; protobuf classes are built lazily
inside the worker process, never pickled.

Elements, all plain tuples (Beam's fast coder handles them without pickle):
- item:   (position, item)                      position = index in `list_items` order
- record: ((split_index, shard), (position, spool path, offset, length, labels,
            skipped_objects, clipped))      the payload itself waits in a spool file
                                            (beam_spool.py), so the shuffle stays small
- id:     (source-id hash as hex, (position, source_id, origin file))
- note:   (position, sub, [Problem, ...], skipped_images)   for the totals and the report

A problem whose policy is `error` (and `--max-errors`) stops the pipeline by raising
`PipelineStop`, whose message encodes what the driver needs to raise the local runner's error.
What counts, what is dropped and when to stop are the `tally` module's rules, applied here to
each worker's share; the driver fills the run's `Tally` from the results.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError
from apache_beam.metrics import Metrics

from ..build import Builder, Result
from ..errors import DataError, TfrconvError, UsageError
from ..problems import FIRST_OFFENDERS, Problem
from ..sharding import shard_index, stable_hash
from ..tally import SKIPPING_ACTIONS, SplitCounts, check_max_errors, duplicate_id_problem, skipping
from ..tfrecord import RecordWriter
from . import beam_files
from .beam_spool import SpoolReader, SpoolWriter

NAMESPACE = "tfrconv"
NOTES = "notes"
IDS = "ids"
DUPLICATE_SUB = 1            # a duplicate's note sorts after the item's own problems
_STOP = re.compile(r"tfrconv-stop\[([A-Za-z0-9_=-]+)\]")


# -- stopping the pipeline -----------------------------------------------------------------
class PipelineStop(Exception):
    """Raised on a worker to stop the run. Runners hand failures back as text (a traceback in
    DirectRunner's worker processes, a job error on Dataflow), so the payload is in the text."""


def stop(what: dict[str, Any], reason: str) -> PipelineStop:
    encoded = base64.urlsafe_b64encode(json.dumps(what).encode("utf-8")).decode("ascii")
    return PipelineStop(f"tfrconv-stop[{encoded}] {reason}")


def stop_for_problem(problem: Problem) -> PipelineStop:
    return stop({"kind": "problem", "problem": problem.as_dict()}, problem.line())


def stop_for_error(error: TfrconvError) -> PipelineStop:
    return stop({"kind": "error", "type": type(error).__name__, "message": error.message,
                 "file": error.file, "line": error.line, "column": error.column}, str(error))


def stop_over_max_errors(skipped_problems: int, max_errors: int | None) -> None:
    """`tally.check_max_errors`, as a stop of the pipeline."""
    try:
        check_max_errors(skipped_problems, max_errors)
    except DataError as error:
        raise stop_for_error(error) from None


def find_stop(text: str) -> dict[str, Any] | None:
    match = _STOP.search(text)
    if match is None:
        return None
    return json.loads(base64.urlsafe_b64decode(match.group(1)).decode("utf-8"))


def _counter(name: str):
    return Metrics.counter(NAMESPACE, name)


# -- list and build ------------------------------------------------------------------------
class ListItems(beam.DoFn):
    """The format's items with their position, listed once (on one worker)."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder

    def process(self, _impulse):
        items = _counter("items")
        try:
            for position, item in enumerate(self.builder.spec.list_items(self.builder.opts)):
                items.inc()
                yield position, item
        except TfrconvError as exc:
            raise stop_for_error(exc) from None


class BuildExamples(beam.DoFn):
    """One item → its record (keyed by output shard), its source id and a note of its problems."""

    def __init__(self, builder: Builder, split_indexes: dict[str | None, int], num_shards: int,
                 max_errors: int | None, spool_dir: str) -> None:
        self.builder = builder
        self.split_indexes = split_indexes
        self.num_shards = num_shards
        self.max_errors = max_errors
        self.spool_dir = spool_dir

    def setup(self) -> None:
        self._skipped_images = _counter("skipped_images")
        self._counters: dict[str, Any] = {}
        self._spool = SpoolWriter(self.spool_dir)

    def start_bundle(self) -> None:
        # Problems skipped in this bundle: a lower bound of the run's count, so exceeding
        # --max-errors here stops early and is never wrong (a retried bundle starts again at 0).
        self._skipped = 0

    def finish_bundle(self) -> None:
        self._spool.close()      # the file is whole before the bundle's references move on

    def teardown(self) -> None:
        self._spool.close()

    def process(self, element):
        position, item = element
        result = self.build(item)
        for problem in result.problems:
            self._count(f"problems.{problem.kind}")
        self._skipped += skipping(result.problems)
        if result.fatal is not None:
            raise stop_for_problem(result.fatal)
        stop_over_max_errors(self._skipped, self.max_errors)
        written = result.payload is not None
        yield beam.pvalue.TaggedOutput(NOTES, (position, 0, result.problems, 0 if written else 1))
        if not written:
            self._skipped_images.inc()
            return
        split_index = self.split_indexes.get(result.split)
        if split_index is None:
            outputs = ", ".join(map(str, self.split_indexes))
            raise stop_for_error(UsageError(
                f"format {self.builder.spec_name!r} produced a sample for split "
                f"{result.split!r}, which is not one of its outputs ({outputs})"))
        if result.source_id is not None:
            key = format(stable_hash(result.source_id), "016x")
            yield beam.pvalue.TaggedOutput(IDS, (key, (position, result.source_id,
                                                       result.origin)))
        shard = shard_index(result.source_id or "", self.num_shards, result.shard_key)
        try:
            path, offset, length = self._spool.add(result.payload)
        except (BeamIOError, OSError) as exc:
            raise stop_for_error(DataError(f"writing a spool file failed: {exc}",
                                           file=self.spool_dir)) from None
        yield ((split_index, shard), (position, path, offset, length, result.labels,
                                      result.skipped_objects, result.clipped))

    def build(self, item: Any) -> Result:
        """`Builder.build`, with images on gs://, s3://, ... read through Beam's FileSystems."""
        sample = self.builder.read(item)
        if isinstance(sample, Result):
            return sample
        path = sample.image_path
        if sample.image_bytes is None and beam_files.is_remote(path):
            root = sample.image_root
            if not root or self.builder.settings.allow_outside_paths \
                    or beam_files.inside(path, root):
                try:
                    sample.image_bytes = beam_files.read_bytes(path)
                except (BeamIOError, OSError, ValueError):
                    pass     # the core then reports it as a missing image, with the path
        return self.builder.build_sample(sample)

    def _count(self, name: str) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = _counter(name)
        counter.inc()


class FindDuplicates(beam.DoFn):
    """All records with one source id: the first in input order stays, the rest are dropped
    (or, with --on-duplicate-id error, the run stops), as the local runner does."""

    def __init__(self, policy: str) -> None:
        self.policy = policy

    def process(self, element):
        _key, occurrences = element
        for position, source_id, origin in sorted(occurrences)[1:]:
            problem = duplicate_id_problem(source_id, self.policy, origin)
            if problem.action not in SKIPPING_ACTIONS:
                raise stop_for_problem(problem)
            _counter("problems.duplicate_id").inc()
            _counter("skipped_images").inc()
            yield position, DUPLICATE_SUB, [problem], 1


def note_position(note) -> int:
    return note[0]


def report_lines(note):
    """A note's problems as report lines, keyed by where they come in input order."""
    position, sub, problems, _skipped = note
    for index, problem in enumerate(problems):
        yield (position, sub, index), json.dumps(problem.as_dict(), ensure_ascii=False) + "\n"


class Totals(beam.CombineFn):
    """Skipped images, problem counts and the first offenders of each kind (in input order)."""

    def create_accumulator(self):
        return {"skipped_images": 0, "skipped_problems": 0, "counts": Counter(), "first": {}}

    def add_input(self, acc, note):
        position, sub, problems, skipped_images = note
        acc["skipped_images"] += skipped_images
        acc["skipped_problems"] += skipping(problems)
        for index, problem in enumerate(problems):
            acc["counts"][problem.kind] += 1
            first = acc["first"].setdefault(problem.kind, [])
            first.append(((position, sub, index), problem))
            if len(first) > FIRST_OFFENDERS:
                first.sort(key=_first_key)
                del first[FIRST_OFFENDERS:]
        return acc

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for acc in accumulators:
            merged["skipped_images"] += acc["skipped_images"]
            merged["skipped_problems"] += acc["skipped_problems"]
            merged["counts"].update(acc["counts"])
            for kind, first in acc["first"].items():
                both = merged["first"].setdefault(kind, [])
                both.extend(first)
                both.sort(key=_first_key)
                del both[FIRST_OFFENDERS:]
        return merged

    def extract_output(self, acc):
        return {"skipped_images": acc["skipped_images"],
                "skipped_problems": acc["skipped_problems"],
                "counts": dict(acc["counts"]),
                "first": {kind: [problem.as_dict() for _key, problem in sorted(
                    first, key=_first_key)[:FIRST_OFFENDERS]]
                    for kind, first in acc["first"].items()}}


def _first_key(entry):
    return entry[0]


# -- write ---------------------------------------------------------------------------------
class WriteShard(beam.DoFn):
    """Write one shard under its temporary name, records in input order (so the file is the
    local runner's, byte for byte), and return its statistics.

    Runs only once every item is built: it takes the dropped duplicates and the totals as side
    inputs, and stops the run here, before any shard is written, when --max-errors is exceeded.
    """

    def __init__(self, temp_paths: dict[int, list[str]], final_paths: dict[int, list[str]],
                 compression: str | None, max_errors: int | None) -> None:
        self.temp_paths = temp_paths
        self.final_paths = final_paths
        self.compression = compression
        self.max_errors = max_errors

    def process(self, element, dropped, totals):
        (split_index, shard), values = element
        stop_over_max_errors(totals["skipped_problems"], self.max_errors)
        dropped = set(dropped)
        counts = SplitCounts()
        index = []
        for position, path, offset, length, labels, skipped_objects, clipped in values:
            if position in dropped:
                continue
            index.append((position, path, offset, length))
            counts.add(labels, skipped_objects, clipped)
        index.sort()
        reader = SpoolReader()

        def payloads():
            for _position, path, offset, length in index:
                yield reader.read(path, offset, length)

        try:
            written = self.write(split_index, shard, payloads())
        finally:
            reader.close()
        _counter("examples").inc(counts.examples)
        yield shard_record(split_index, shard, written, counts)

    def write(self, split_index: int, shard: int, payloads) -> int:
        """Write one shard; returns its size in bytes (compressed for GZIP)."""
        path = self.temp_paths[split_index][shard]
        try:
            fileobj = beam_files.FileSystems.create(path, compression_type=beam_files.RAW)
            try:
                writer = RecordWriter(fileobj, self.compression)
                for payload in payloads:
                    writer.write(payload)
                writer.close()
            finally:
                fileobj.close()
            return writer.file_bytes
        except (BeamIOError, OSError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise stop_for_error(DataError(f"writing failed: {reason} (no output was left "
                                           "behind)",
                                           file=self.final_paths[split_index][shard])) from None


class WriteEmptyShards(WriteShard):
    """The shards no record went to (the local runner writes every shard, empty or not).
    A separate step, not seed elements flattened into the records: a Flatten in front of the
    GroupByKey makes the DirectRunner copy every payload once more (measured: twice the time)."""

    def process(self, _impulse, written, totals):
        stop_over_max_errors(totals["skipped_problems"], self.max_errors)
        present = {(stats["split"], stats["shard"]) for stats in written}
        for split_index, paths in self.temp_paths.items():
            for shard in range(len(paths)):
                if (split_index, shard) not in present:
                    written_bytes = self.write(split_index, shard, ())
                    yield shard_record(split_index, shard, written_bytes, SplitCounts())


def shard_record(split_index: int, shard: int, written_bytes: int,
                 counts: SplitCounts) -> dict[str, Any]:
    """One written shard for the run record: where, its size, and `counts` as plain values."""
    return {"split": split_index, "shard": shard, "bytes": written_bytes, **counts.as_dict()}


class WriteRunRecord(beam.DoFn):
    """The run's statistics for the driver (one small JSON file), and the --report file with
    every problem in input order, as the local runner writes it."""

    def __init__(self, record_path: str, report_path: str | None) -> None:
        self.record_path = record_path
        self.report_path = report_path

    def process(self, _impulse, shards, totals, *report):
        record = {"shards": sorted(shards, key=lambda s: (s["split"], s["shard"])),
                  "totals": totals}
        beam_files.write_bytes(self.record_path, json.dumps(record).encode("utf-8"))
        if self.report_path is not None:
            lines = sorted(report[0], key=_first_key)
            beam_files.write_bytes(self.report_path,
                                   "".join(line for _key, line in lines).encode("utf-8"))
        return []
