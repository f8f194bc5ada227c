"""`--runner local`: build examples in this process or a pool of forked workers, write the shards
under temporary names, and publish every file only when the whole run succeeded.

Results come back in input order; `take` decides for each, through the run's `Tally`, whether
its example is kept, then writes it (or reserves its place, for a record a worker writes itself).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import TYPE_CHECKING

from ..build import Builder, Result
from ..errors import DataError, Interrupted, UsageError
from ..problems import ProblemLog
from ..progress import Progress
from ..publish import Publication, remove_stale_shards, unlink_quietly, write_temp
from ..sharding import ShardedWriter, shard_index
from ..tally import SplitCounts, Tally
from ..workers import Framed, WorkerPool
from .signals import signals_as_errors
from .staging import run_staged, url_options

if TYPE_CHECKING:  # pragma: no cover
    from ..conversion import Conversion
    from ..summary import Summary


def run_local(conversion: Conversion) -> Summary:
    """Run `conversion` on this machine (`--workers` processes); its `Summary`."""
    if url_options(conversion):          # URLs: run on local copies, then upload (staging.py)
        return run_staged(conversion, run_local)
    start = time.perf_counter()
    settings = conversion.settings
    outputs = conversion.outputs()
    conversion.check_report_path(outputs)
    label_map, label_map_origin = conversion.resolve_label_map()
    conversion.precheck_classes(label_map)
    builder = Builder(conversion.spec, conversion.opts, label_map, settings)
    log = ProblemLog()
    log.open_report(settings.report)
    tally = conversion.new_tally(outputs, label_map, log)
    writers: dict[str | None, ShardedWriter] = {}
    sidecars: list[str] = []
    try:
        with signals_as_errors():
            for split, path in outputs.items():
                writers[split] = ShardedWriter(path, settings.num_shards, settings.compression)
            write_all(conversion, builder, writers, tally)
            tally.check_written()
            for writer in writers.values():
                writer.finish()
            summaries, files = conversion.describe_outputs(writers, tally, label_map,
                                                           label_map_origin)
            publication = Publication()
            for writer in writers.values():
                for temp, final in writer.renames():
                    publication.add(temp, final)
            for path, text in files:
                temp = write_temp(path, text)
                sidecars.append(temp)
                publication.add(temp, path)
            publication.check()          # before the report is closed: a blocked path says so
            close_report(log)            # a report that cannot be finished stops the run here
            publication.commit()
            sidecars.clear()
            for writer in writers.values():
                writer.published()
            removed = remove_stale_shards(outputs, settings.num_shards)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; no output was written (temporary files removed)") \
            from None
    finally:
        for writer in writers.values():
            if not writer.closed:
                writer.abort()
        for temp in sidecars:
            unlink_quietly(temp)
        with contextlib.suppress(OSError):   # already reported, or the run failed anyway
            log.close()
    summary = conversion.make_summary(summaries, tally, label_map_origin, start)
    summary.removed_stale_shards = removed
    return summary


def write_all(conversion: Conversion, builder: Builder,
              writers: dict[str | None, ShardedWriter], tally: Tally) -> None:
    """Build every item (in workers when --workers > 1) and write what the tally keeps."""
    spec, settings = conversion.spec, conversion.settings
    take = Taker(spec.name, writers, tally)
    items = spec.list_items(conversion.opts)
    total = len(items) if hasattr(items, "__len__") else None
    progress = Progress(spec.name, total, enabled=conversion.progress)
    try:
        if settings.workers <= 1:
            for item in items:
                progress.update()
                take(builder.build(item))
            return
        # The first item is built here: whatever the format imports or caches on first use
        # (lxml, pycocotools, an index) is then inherited by the forked workers instead of
        # being loaded once in each.
        items = iter(items)
        for item in itertools.islice(items, 1):
            progress.update()
            take(builder.build(item))
        for writer in writers.values():
            writer.flush()
        # Workers write their records themselves, where `take` reserves room for them.
        with WorkerPool(builder, settings.workers,
                        send_payloads=settings.compression is not None) as pool:
            for results in pool.chunks(items):
                progress.update(len(results))
                pool.place([take(result) for result in results])
            pool.finish()
    finally:
        progress.close()


class Taker:
    """Takes one result in input order (the hot path: once per example)."""

    def __init__(self, format_name: str, writers: dict[str | None, ShardedWriter],
                 tally: Tally) -> None:
        self.format_name = format_name
        self.tally = tally
        # One lookup per result for both the writer and its counts.
        self.targets: dict[str | None, tuple[ShardedWriter, SplitCounts]] = {
            split: (writer, tally.splits[split]) for split, writer in writers.items()}

    def __call__(self, result: Result) -> tuple[str, int] | None:
        """Account for `result`, then write it or reserve its place; the place, if reserved."""
        if not self.tally.admit(result):
            return None
        target = self.targets.get(result.split)
        if target is None:
            raise UsageError(f"format {self.format_name!r} produced a sample for split "
                             f"{result.split!r}, which is not one of its outputs "
                             f"({', '.join(map(str, self.targets))})")
        writer, counts = target
        shard = shard_index(result.source_id or "", writer.num_shards, result.shard_key)
        place = None
        if isinstance(result.payload, Framed):
            place = writer.reserve(shard, result.payload.length)
        else:
            writer.write(shard, result.payload)
        counts.add(result.labels, result.skipped_objects, result.clipped)
        return place


def close_report(log: ProblemLog) -> None:
    """Finish --report before anything is published: a full disk fails the run cleanly."""
    try:
        log.close()
    except OSError as exc:
        raise DataError(f"cannot write the report: {exc.strerror or exc} (nothing was "
                        "published)", file=log.report_path) from None
