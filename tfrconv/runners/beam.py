"""`--runner beam`: the same conversion as an Apache Beam pipeline (DirectRunner, Dataflow,
Flink, Spark), with the local runner's output: the same examples in the same shards, byte for
byte, and the same label map, manifest, summary and report.

The driver (this module) resolves the outputs and the label map exactly as the local runner does,
then runs the pipeline (steps in `beam_dofns.py`):

    Impulse → ListItems → Reshuffle → BuildExamples
        records  (split, shard) → GroupByKey ─────────────────── WriteShard ──► shard stats
        ids      source-id hash → GroupByKey → FindDuplicates ─┐    ▲ side inputs: dropped
        notes    problems ─────────────────────── Totals ◄─────┘────┘ duplicates, totals
    Impulse → WriteEmptyShards (side inputs: shard stats, totals) ──► shard stats
    Impulse → WriteRunRecord (side inputs: all shard stats, totals, report lines)

The records step carries references, not payloads: BuildExamples parks each encoded example
in a spool file of its bundle (`beam_spool.py`) and WriteShard reads it back, so the grouping
moves a few bytes per example. Shards go to a hidden temporary folder beside each output.
When the pipeline has succeeded, the driver reads the run record into the run's `Tally`,
writes the label map and manifest (through `Conversion.describe_outputs`, as the local runner
does), renames everything into place and removes the temporary folder (spool files included);
when it failed, nothing is renamed and the temporary folder is removed.
"""

from __future__ import annotations

import json
import logging
import secrets
import shlex
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from ..build import Builder
from ..conversion import Conversion
from ..errors import DataError, Interrupted, LabelMapError, TfrconvError, UsageError
from ..labelmap import LabelMap
from ..problems import Problem, ProblemLog, fatal
from ..sharding import ShardStats, shard_paths
from ..summary import Summary
from ..tally import SplitCounts, Tally
from . import beam_dofns as dofns
from . import beam_files
from .signals import signals_as_errors

DIRECT_RUNNERS = {None, "DirectRunner", "direct", "SwitchingDirectRunner",
                  "BundleBasedDirectRunner"}
RUN_RECORD = "_run.json"
_ERROR_TYPES = {cls.__name__: cls for cls in (DataError, UsageError, LabelMapError)}


class BeamRunError(TfrconvError):
    """The pipeline failed for a reason of its own (not a problem in the data)."""


@dataclass
class ShardSet:
    """What `Conversion.describe_outputs` needs of one output's shards."""

    output: str
    num_shards: int
    stats: list[ShardStats] = field(default_factory=list)


@dataclass
class Plan:
    """Where everything goes: final and temporary names per output (by split index)."""

    splits: list[str | None]
    outputs: list[str]
    num_shards: int
    temp_dirs: list[str]
    final_paths: dict[int, list[str]]
    temp_paths: dict[int, list[str]]
    run_record: str
    report: str | None

    @classmethod
    def make(cls, outputs: dict[str | None, str], num_shards: int, report: str | None) -> Plan:
        token = secrets.token_hex(4)
        splits = list(outputs)
        paths = [outputs[split] for split in splits]
        temp_dirs = [beam_files.temp_dir(path, token) for path in paths]
        final_paths, temp_paths = {}, {}
        for index, path in enumerate(paths):
            final_paths[index] = shard_paths(path, num_shards)
            temp_paths[index] = [FileSystems.join(temp_dirs[index], _name(p))
                                 for p in final_paths[index]]
        return cls(splits, paths, num_shards, temp_dirs, final_paths, temp_paths,
                   FileSystems.join(temp_dirs[0], RUN_RECORD),
                   beam_files.local_or_remote(report) if report else None)


class BeamConversion:
    """Runs a prepared `Conversion` on Beam; `run()` returns the same `Summary` as the local one."""

    def __init__(self, conversion: Conversion) -> None:
        self.conversion = conversion
        self.settings = conversion.settings
        self.counters: dict[str, int] = {}      # the pipeline's Beam counters, after run()
        self._result = None

    def run(self) -> Summary:
        start = time.perf_counter()
        conversion, settings = self.conversion, self.settings
        if settings.duplicate_image != "keep":
            raise UsageError("--on-duplicate-image needs --runner local (the Beam runner does "
                             "not check duplicate images yet)")
        pipeline = new_pipeline(settings.beam_options)
        outputs = conversion.outputs()
        for path in outputs.values():
            beam_files.check_filesystem(path, "--output")
        if settings.report:
            beam_files.check_filesystem(settings.report, "--report")
        conversion.check_report_path(outputs)
        label_map, origin = conversion.resolve_label_map()
        conversion.precheck_classes(label_map)
        if settings.report and not beam_files.is_remote(settings.report):
            check = ProblemLog()                 # an unwritable --report fails now, as locally
            check.open_report(settings.report)
            check.close()
        builder = Builder(conversion.spec, conversion.opts, label_map, settings)
        plan = Plan.make(outputs, settings.num_shards, settings.report)
        try:
            with signals_as_errors():
                for folder in plan.temp_dirs:
                    beam_files.make_dirs(folder)
                self._run_pipeline(pipeline, builder, plan, label_map)
                tally, shard_sets = self._tally(plan, label_map)
                tally.check_written()
                summaries, files = conversion.describe_outputs(shard_sets, tally, label_map,
                                                               origin)
                self._publish(plan, files)
        except KeyboardInterrupt:
            self._cancel()
            raise Interrupted("interrupted; no output was written (temporary files removed)") \
                from None
        finally:
            for folder in plan.temp_dirs:
                beam_files.remove_tree(folder)
        return conversion.make_summary(summaries, tally, origin, start)

    # -- the pipeline ----------------------------------------------------------------------
    def _run_pipeline(self, pipeline, builder: Builder, plan: Plan, label_map: LabelMap
                      ) -> None:
        add_steps(pipeline, builder, plan, self.settings)
        self._result = run_to_end(pipeline, lambda exc: self._translate(exc, plan, label_map),
                                  on_start=lambda result: setattr(self, "_result", result))
        self.counters = _counters(self._result)

    def _translate(self, exc: Exception, plan: Plan, label_map: LabelMap) -> TfrconvError:
        """The local runner's error for a stop raised on a worker; else a one-line failure."""
        what = dofns.find_stop(_exception_text(exc))
        if what is None or what["kind"] != "problem":
            return stopped_error(exc)
        problem = Problem(**what["problem"])
        self._report_stop(plan, problem)
        try:            # an unknown class: rescan the annotations here to name them all at once
            return self.conversion.stop_error(problem, label_map)
        except Exception:  # noqa: BLE001 - annotations only the workers can read
            return fatal(problem)

    def _report_stop(self, plan: Plan, problem: Problem) -> None:
        """With --report, the problem that stopped the run (the workers' others are lost)."""
        if plan.report is None:
            return
        line = json.dumps(problem.as_dict(), ensure_ascii=False) + "\n"
        try:
            beam_files.write_bytes(plan.report, line.encode("utf-8"))
        except Exception:  # noqa: BLE001 - the stop itself is what must be reported
            pass

    def _cancel(self) -> None:
        if self._result is not None:
            try:
                self._result.cancel()
            except Exception:  # noqa: BLE001 - best effort while interrupted
                pass

    # -- after the pipeline ----------------------------------------------------------------
    def _tally(self, plan: Plan, label_map: LabelMap) -> tuple[Tally, dict[str | None, ShardSet]]:
        """The run's tally and its shard sets, filled from the run record."""
        try:
            record = json.loads(beam_files.read_bytes(plan.run_record))
        except Exception as exc:  # noqa: BLE001 - a runner that lost the record
            raise BeamRunError(f"the pipeline finished without its run record "
                               f"{plan.run_record}: {exc}") from None
        totals = record["totals"]
        log = ProblemLog(counts=Counter(totals["counts"]),
                         first={kind: [Problem(**p) for p in first]
                                for kind, first in totals["first"].items()},
                         report_path=self.settings.report)
        tally = self.conversion.new_tally(plan.splits, label_map, log)
        tally.skipped_images = totals["skipped_images"]
        tally.skipped_problems = totals["skipped_problems"]
        shard_sets = {split: ShardSet(plan.outputs[i], plan.num_shards,
                                      [ShardStats(path) for path in plan.final_paths[i]])
                      for i, split in enumerate(plan.splits)}
        for shard in record["shards"]:
            split = plan.splits[shard["split"]]
            stats = shard_sets[split].stats[shard["shard"]]
            stats.examples, stats.bytes = shard["examples"], shard["bytes"]
            tally.splits[split].merge(SplitCounts.from_dict(shard))
        return tally, shard_sets

    def _publish(self, plan: Plan, files: list[tuple[str, str]]) -> None:
        sources, destinations = [], []
        for index in range(len(plan.splits)):
            sources += plan.temp_paths[index]
            destinations += plan.final_paths[index]
        # A sidecar goes beside its output, so its temporary name is in that output's folder.
        folder_of = {_parent(folder): folder for folder in plan.temp_dirs}
        for path, text in files:
            temp = FileSystems.join(folder_of.get(_parent(path), plan.temp_dirs[0]), _name(path))
            try:
                beam_files.write_bytes(temp, text.encode("utf-8"))
            except Exception as exc:  # noqa: BLE001 - any filesystem's write error
                raise DataError(f"cannot write output: {exc}", file=path) from None
            sources.append(temp)
            destinations.append(path)
        beam_files.publish(sources, destinations)


def add_steps(pipeline, builder: Builder, plan: Plan, settings) -> None:
    """The conversion's steps (see the module docstring)."""
    pvalue = beam.pvalue
    items = (pipeline
             | "Start" >> beam.Impulse()
             | "ListItems" >> beam.ParDo(dofns.ListItems(builder))
             | "Spread" >> beam.Reshuffle())
    split_indexes = {split: index for index, split in enumerate(plan.splits)}
    built = items | "BuildExamples" >> beam.ParDo(dofns.BuildExamples(
        builder, split_indexes, plan.num_shards, settings.max_errors,
        plan.temp_dirs[0])).with_outputs(
        dofns.NOTES, dofns.IDS, main="records")
    duplicates = (built[dofns.IDS]
                  | "GroupIds" >> beam.GroupByKey()
                  | "FindDuplicates" >> beam.ParDo(dofns.FindDuplicates(
                      settings.policies["duplicate_id"])))
    notes = (built[dofns.NOTES], duplicates) | "AllNotes" >> beam.Flatten()
    totals = notes | "Totals" >> beam.CombineGlobally(dofns.Totals())
    dropped = duplicates | "DroppedPositions" >> beam.Map(dofns.note_position)
    writer = dofns.WriteShard(plan.temp_paths, plan.final_paths, settings.compression,
                              settings.max_errors)
    written = (built.records
               | "GroupShards" >> beam.GroupByKey()
               | "WriteShards" >> beam.ParDo(writer, pvalue.AsList(dropped),
                                             pvalue.AsSingleton(totals)))
    empty = (pipeline
             | "AfterWrites" >> beam.Impulse()
             | "WriteEmptyShards" >> beam.ParDo(
                 dofns.WriteEmptyShards(plan.temp_paths, plan.final_paths, settings.compression,
                                        settings.max_errors),
                 pvalue.AsList(written), pvalue.AsSingleton(totals)))
    shards = (written, empty) | "AllShards" >> beam.Flatten()
    side = [pvalue.AsList(shards), pvalue.AsSingleton(totals)]
    if plan.report is not None:
        side.append(pvalue.AsList(notes | "ReportLines" >> beam.FlatMap(dofns.report_lines)))
    (pipeline
     | "Finish" >> beam.Impulse()
     | "WriteRunRecord" >> beam.ParDo(dofns.WriteRunRecord(plan.run_record, plan.report),
                                      *side))


def run_to_end(pipeline, translate, on_start=None):
    """Run `pipeline` and wait for it, Beam's log quiet on the DirectRunner; its result. A
    signal that reached a step is KeyboardInterrupt; any other failure is `translate(exc)`
    (e.g. `stopped_error`). `on_start(result)` runs once the job is submitted."""
    with _quiet_beam(pipeline.options):
        try:
            result = pipeline.run()
            if on_start is not None:
                on_start(result)
            state = result.wait_until_finish()
        except (KeyboardInterrupt, TfrconvError):
            raise
        except Exception as exc:  # noqa: BLE001 - runners wrap worker errors in any type
            if _interrupted(exc):
                raise KeyboardInterrupt from None
            raise translate(exc) from None
    if state is not None and str(state).split(".")[-1] not in ("DONE", "UNKNOWN"):
        raise BeamRunError(f"the Beam pipeline ended in state {state}")
    return result


def stopped_error(exc: Exception) -> TfrconvError:
    """The error a step stopped the run with (`beam_dofns.stop_for_error`), as the local code
    raises it; else a one-line BeamRunError."""
    what = dofns.find_stop(_exception_text(exc))
    if what is None or what["kind"] != "error":
        error = BeamRunError(f"the Beam pipeline failed: {_headline(exc)} (--debug shows "
                             "the traceback)")
        error.__cause__ = exc
        return error
    cls = _ERROR_TYPES.get(what.get("type"), DataError)
    return cls(what["message"], file=what.get("file"), line=what.get("line"),
               column=what.get("column"))


def new_pipeline(beam_options: str | None):
    """An empty pipeline on the runner `--beam-options` names (UsageError for a bad one)."""
    options = pipeline_options(beam_options)
    try:
        return beam.Pipeline(options=options)
    except ValueError as exc:            # an unknown --runner name
        raise UsageError(f"--beam-options: {exc}") from None


def pipeline_options(text: str | None):
    """`--beam-options` as Beam `PipelineOptions`; a UsageError for options Beam does not know
    (Beam itself would drop them with a warning, and a typo would silently change the run)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    try:
        flags = shlex.split(text or "")
    except ValueError as exc:
        raise UsageError(f"--beam-options: {exc}") from None
    options = PipelineOptions(flags)
    known = options.get_all_options(retain_unknown_options=False)
    unknown = sorted(set(options.get_all_options(retain_unknown_options=True)) - set(known))
    if unknown:
        import difflib

        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(known), n=1)
            hints.append(f"--{name}" + (f" (did you mean --{close[0]}?)" if close else ""))
        raise UsageError(f"--beam-options: unknown Beam option {', '.join(hints)}")
    if _runner_name(options) in DIRECT_RUNNERS and "default_sdk_harness_log_level" not in \
            options.get_all_options(drop_default=True):
        # The DirectRunner's worker processes would log every connection at INFO, and each
        # stop with its traceback, on stderr; the launcher reports the stop in one line.
        options = PipelineOptions([*flags, "--default_sdk_harness_log_level=CRITICAL"])
    return options


def _runner_name(options) -> str | None:
    from apache_beam.options.pipeline_options import StandardOptions

    runner = options.view_as(StandardOptions).runner
    return runner if runner is None or isinstance(runner, str) else type(runner).__name__


@contextmanager
def _quiet_beam(options):
    """On the DirectRunner, Beam's log is noise on a user's terminal: warnings about its own
    internals, and every worker failure logged with its traceback, which tfrconv reports in one
    line (--debug shows the traceback). Remote runners keep their logging."""
    if _runner_name(options) not in DIRECT_RUNNERS:
        yield
        return
    logger = logging.getLogger("apache_beam")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _counters(result) -> dict[str, int]:
    """The run's `tfrconv` counters (committed where the runner has them), summed over steps."""
    from apache_beam.metrics.metric import MetricsFilter

    totals: Counter = Counter()
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(dofns.NAMESPACE))
    except Exception:  # noqa: BLE001 - not every runner reports metrics
        return {}
    for counter in found.get("counters", []):
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] += value or 0
    return dict(sorted(totals.items()))


def _interrupted(exc: BaseException) -> bool:
    """A Ctrl-C or SIGTERM that reached a DoFn running in this process: Beam re-raises it as
    a RuntimeError about the step it interrupted."""
    seen = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return _headline(exc).split(" [while running")[0].endswith("KeyboardInterrupt")


def _exception_text(exc: BaseException) -> str:
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _headline(exc: BaseException) -> str:
    """One line for a pipeline failure: worker processes send a whole traceback as the
    message, whose last line is the error itself."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].startswith("Traceback"):
        return lines[-1]
    return f"{type(exc).__name__}: {lines[0]}"


def _name(path: str) -> str:
    return FileSystems.split(beam_files.local_or_remote(path))[1]


def _parent(path: str) -> str:
    return FileSystems.split(beam_files.local_or_remote(path))[0]
