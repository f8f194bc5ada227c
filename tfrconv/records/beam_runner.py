"""`records reshard` and `records merge` with `--runner beam`: the local commands' output (the
same records in the same shards, byte for byte, the same label map and manifest) from an Apache
Beam pipeline that reads the input files in parallel (steps in `beam_steps.py`):

    Create(files) → Reshuffle → ScanFile ─ references (shard) → GroupByKey → WriteRecordShard
                                        ├─ notes ─────────────────── Totals ──┘ (side input)
                                        └─ image keys → GroupByKey → FindRepeats ─┘ (merge)
    Impulse → WriteEmptyShards;  Impulse → WriteRunRecord (shard stats, totals)

Only references go through the shuffle: a shard's writer reads each payload back from the
input file itself (or, for GZIP inputs, from the scanning bundle's spool file). The driver
prepares the label book as the local command does, waits for the pipeline, replays the book
from the run record, writes the label map and manifest (`output.set_manifest`,
`output.stage_sidecars`) and renames everything into place with one `Publication`; on any
failure the hidden temporary folder beside the output goes and nothing is published.

Inputs and output are files every worker can open: this machine's for the DirectRunner, a
shared file system for a cluster (object-store URLs are not read here yet).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from ..publish import Publication, remove_stale_shards, unlink_quietly
from ..runners import require_beam
from ..sharding import ShardStats, shard_paths
from ..tally import SplitCounts
from .labels import LabelBook
from .output import set_manifest, stage_sidecars
from .reading import RecordSource, Skipped

RUN_RECORD = "_run.json"


def reshard_on_beam(source: RecordSource, output: str, *, num_shards: int,
                    shard_size: Any, book: LabelBook, origin: str, compression: str | None,
                    runner: str, beam_options: str | None) -> dict[str, Any]:
    """`reshard_records` on Beam: `source`, `num_shards` and `book` prepared as the local
    command does."""
    run = _Run("reshard", [source], output, num_shards, compression, runner, beam_options)
    names_by_id = {0: book.names_by_id()}
    result = run.execute(book, names_by_id)
    final = run.job.final_book(result["totals"]["firsts"])
    return run.publish(final, inputs=source.paths,
                       options={"num_shards": num_shards, "shard_size": shard_size},
                       label_map_source=origin, notes=[])


def merge_on_beam(sources: list[RecordSource], output: str, *, book: LabelBook,
                  own_maps: list, origin: str, given_map: bool,
                  closing_notes: Callable[[LabelBook, int, int, list[str]], list[str]],
                  num_shards: int, compression: str | None, runner: str,
                  beam_options: str | None) -> dict[str, Any]:
    """`merge_records` on Beam: the book, the sets' own maps and the notes' wording
    (`closing_notes(final book, rewritten, repeats, first repeats)`) from the local
    command."""
    run = _Run("merge", sources, output, num_shards, compression, runner, beam_options)
    names_by_id = {index: ({i: item.name for i, item in own.by_id().items()} if own else {})
                   for index, own in enumerate(own_maps)}
    result = run.execute(book, names_by_id, rewrite=True, check_known=given_map,
                         repeats=True)
    totals = result["totals"]
    final = run.job.final_book(totals["firsts"])
    rewritten = sum(shard.get("rewritten", 0) for shard in result["shards"])
    notes = closing_notes(final, rewritten, totals["repeats"], totals["first_repeats"])
    return run.publish(final, inputs=[p for s in sources for p in s.paths],
                       options={"num_shards": num_shards}, label_map_source=origin,
                       notes=notes)


class _Run:
    """One record command's pipeline run, from its temporary folder to its publication."""

    def __init__(self, command: str, sources: list[RecordSource], output: str,
                 num_shards: int, compression: str | None, runner: str,
                 beam_options: str | None) -> None:
        if runner != "beam":
            raise UsageError(f"runner {runner!r}: choose local or beam")
        require_beam()
        from ..runners import beam_files

        self.files = beam_files
        self.command = command
        self.sources = sources
        self.output = output
        self.num_shards = num_shards
        self.compression = None if compression in (None, "none") else compression.upper()
        self.beam_options = beam_options
        self.final_paths = shard_paths(output, num_shards)
        self.temp_dir = beam_files.temp_dir(output, secrets.token_hex(4))
        self.temp_paths = [beam_files.FileSystems.join(self.temp_dir, f"shard-{index:05d}")
                           for index in range(num_shards)]
        self.result: dict[str, Any] = {}
        self.job = None

    def execute(self, book: LabelBook, names_by_id: dict[int, dict[int, str]],
                **job_options: Any) -> dict[str, Any]:
        """Run the pipeline; the run record (shard statistics and totals)."""
        from ..runners.beam import new_pipeline, run_to_end, stopped_error
        from .beam_steps import RecordsJob

        self.job = RecordsJob(self.command, self.num_shards, self.sources[0].on_error, book,
                              names_by_id, self.temp_dir, **job_options)
        self.files.make_dirs(self.temp_dir)
        try:
            pipeline = new_pipeline(self.beam_options)
            self._add_steps(pipeline)
            run_to_end(pipeline, stopped_error)
            record_path = self.files.FileSystems.join(self.temp_dir, RUN_RECORD)
            self.result = json.loads(self.files.read_bytes(record_path))
        except BaseException:
            self.files.remove_tree(self.temp_dir)
            raise
        return self.result

    def _add_steps(self, pipeline) -> None:
        import apache_beam as beam

        from ..runners import beam_dofns as dofns
        from . import beam_steps as steps

        pvalue = beam.pvalue
        files = [(index, set_index, path) for index, (set_index, path) in enumerate(
            (set_index, path) for set_index, source in enumerate(self.sources)
            for path in source.paths)]
        scanned = (pipeline
                   | "Files" >> beam.Create(files)
                   | "Spread" >> beam.Reshuffle()
                   | "ScanFiles" >> beam.ParDo(steps.ScanFile(self.job)).with_outputs(
                       steps.NOTES, steps.IMAGES, main="records"))
        repeats = (scanned[steps.IMAGES]
                   | "GroupImages" >> beam.GroupByKey()
                   | "FindRepeats" >> beam.ParDo(steps.FindRepeats()))
        totals = ((scanned[steps.NOTES], repeats)
                  | "AllNotes" >> beam.Flatten()
                  | "Totals" >> beam.CombineGlobally(steps.Totals()))
        written = (scanned.records
                   | "GroupShards" >> beam.GroupByKey()
                   | "WriteShards" >> beam.ParDo(
                       steps.WriteRecordShard(self.job, self.temp_paths, self.final_paths,
                                              self.compression),
                       pvalue.AsSingleton(totals)))
        empty = (pipeline
                 | "AfterWrites" >> beam.Impulse()
                 | "WriteEmptyShards" >> beam.ParDo(
                     dofns.WriteEmptyShards({0: self.temp_paths}, {0: self.final_paths},
                                            self.compression, None),
                     pvalue.AsList(written), pvalue.AsSingleton(totals)))
        shards = (written, empty) | "AllShards" >> beam.Flatten()
        record_path = self.files.FileSystems.join(self.temp_dir, RUN_RECORD)
        (pipeline
         | "Finish" >> beam.Impulse()
         | "WriteRunRecord" >> beam.ParDo(dofns.WriteRunRecord(record_path, None),
                                          pvalue.AsList(shards), pvalue.AsSingleton(totals)))

    def publish(self, book: LabelBook, *, inputs: list[str], options: dict[str, Any],
                label_map_source: str, notes: list[str]) -> dict[str, Any]:
        """The manifest, once the shards, label map and manifest are in place; skipped
        records reported on stderr as the local command reports them."""
        counts = SplitCounts()
        stats = [ShardStats(path) for path in self.final_paths]
        skipped = self._skipped()
        for shard in self.result["shards"]:
            counts.merge(SplitCounts.from_dict(shard))
            stats[shard["shard"]].examples = shard["examples"]
            stats[shard["shard"]].bytes = shard["bytes"]
        manifest = set_manifest(
            self.output, self.num_shards, self.compression, stats, counts.examples,
            counts.objects, counts.classes, counts.images, book.map, command=self.command,
            inputs=inputs, options=options, label_map_source=label_map_source, notes=notes,
            skipped_records=sum(s.count for s in skipped), split=None)
        sidecars: list[tuple[str, str]] = []
        try:
            sidecars = stage_sidecars(self.output, book.map, manifest)
            publication = Publication()
            for temp, final in [*zip(self.temp_paths, self.final_paths), *sidecars]:
                publication.add(temp, final)
            publication.commit()
        finally:
            for temp, _final in sidecars:
                unlink_quietly(temp)            # gone already when published
            self.files.remove_tree(self.temp_dir)
        manifest["removed_stale_shards"] = remove_stale_shards({None: self.output},
                                                               self.num_shards)
        for source, own in zip(self.sources, skipped):
            source.skipped = own
            source.report_skipped()
        return manifest

    def _skipped(self) -> list[Skipped]:
        """Each input set's skipped records: the scans' (in file order), then any a merge
        met while rewriting ids (in input order)."""
        skipped = [Skipped() for _source in self.sources]
        files = [set_index for set_index, source in enumerate(self.sources)
                 for _path in source.paths]
        for _kind, set_index, _file, count, texts in self.result["totals"]["skipped"]:
            own = skipped[set_index]
            own.count += count
            own.first = (own.first + texts)[:Skipped.KEEP]
        later = sorted(entry for shard in self.result["shards"]
                       for entry in shard.get("skipped", []))
        for (file_index, _index), text in later:
            skipped[files[file_index]].add(text)
        return skipped
