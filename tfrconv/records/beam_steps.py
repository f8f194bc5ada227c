"""The steps of `records reshard` / `records merge` on Beam, as they run on workers.

Elements (plain tuples):
- file:    (file index, set index, path)            files numbered in the local runner's order
- record:  (shard, (position, (path, offset, length), names, labels, where))
           position = (file index, record index): the local runner's order; the payload is
           read back by reference, from the input file itself (uncompressed) or from a spool
           file of the scanning bundle (GZIP input: its records have no byte offset)
- note:    ("first", position, name, label)         a class name's first object in a file
           ("skipped", set index, file index, count, texts)    damaged records left out
           ("repeat", position, where)              an image met before (merge)

The label book (the ids of the output) is replayed from the first notes in input order by
`RecordsJob.book`, on the driver and, for merge (which rewrites ids), in each write step, so
both get the local runner's book. Failures stop the run with `beam_dofns.stop_for_error`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from ..errors import DataError, TfrconvError
from ..runners import beam_dofns as dofns
from ..runners.beam_spool import SpoolReader, SpoolWriter
from ..sharding import shard_index, stable_hash
from ..tally import SplitCounts
from ..tfrecord import Record, is_gzip
from .edit import encode, with_classes
from .labels import LabelBook, object_labels, object_names, unnamed_ids
from .reading import IDENTITY_KEYS, RecordSource, image_key, shard_key

NOTES = "notes"
IMAGES = "images"
HEADER = 12                      # a framed record's length and its CRC come before the payload
SKIPPED_KEPT = 20                # skipped records described one by one (as RecordSource does)


@dataclass
class RecordsJob:
    """What the steps need to know of one command's run (pickled to the workers)."""

    command: str                             # "reshard" or "merge"
    num_shards: int
    on_error: str
    book: LabelBook                          # before any record: grows as the local one does
    names_by_id: dict[int, dict[int, str]]   # set index → the names of its own label map
    spool_dir: str
    rewrite: bool = False                    # merge: class ids follow the book
    check_known: bool = False                # merge with a given map: unknown names stop
    repeats: bool = False                    # merge: note images met before

    def final_book(self, firsts: list[tuple]) -> LabelBook:
        """The book after every record, from the first notes: the local loop's book (each
        name acts on the book only where it first appears, in input order)."""
        book = copy.deepcopy(self.book)
        for _kind, _where, name, label in sorted(firsts, key=_position):
            if self.command == "merge":
                book.id_for(name)
            else:
                book.learn(name, label)
        return book


def _position(note: tuple) -> Any:
    return note[1]


class ScanFile(beam.DoFn):
    """One input file → a record reference per record (keyed by its output shard) and notes:
    its classes' first objects, its damaged records (skipped), and, for merge, image keys."""

    def __init__(self, job: RecordsJob) -> None:
        self.job = job

    def setup(self) -> None:
        self._spool = SpoolWriter(self.job.spool_dir)

    def finish_bundle(self) -> None:
        self._spool.close()          # the file is whole before the bundle's references move on

    def teardown(self) -> None:
        self._spool.close()

    def process(self, element):
        file_index, set_index, path = element
        job = self.job
        source = RecordSource([path], on_error=job.on_error)
        names_by_id = job.names_by_id[set_index]
        spool = is_gzip(path)
        firsts: dict[str, tuple] = {}
        try:
            for record, features in source.features(IDENTITY_KEYS):
                where = f"{record.path} record {record.index}"
                position = (file_index, record.index)
                names = object_names(features, names_by_id)
                if names is None:
                    raise unnamed_ids(features, where)
                labels = object_labels(features)
                if job.check_known:
                    missing = sorted({n for n in names if job.book.map.resolve(n) is None})
                    if missing:
                        raise DataError(f"classes {missing} are not in the label map "
                                        f"{job.book.source}", file=where)
                # merge: every name asks the book for an id; reshard: the book learns each
                # name with the record's id (zip as the local loop pairs them)
                pairs = zip(names, [None] * len(names)) if job.command == "merge" else \
                    zip(names, labels or [None] * len(names))
                for index, (name, label) in enumerate(pairs):
                    if name not in firsts:
                        firsts[name] = ("first", (*position, index), name, label)
                key = shard_key(record, features)
                if job.repeats:
                    yield beam.pvalue.TaggedOutput(IMAGES, (
                        format(stable_hash(image_key(features, key)), "016x"), (position, where)))
                if spool:
                    reference = self._spool.add([record.payload])
                else:
                    reference = (path, record.offset + HEADER, len(record.payload))
                yield (shard_index(key, job.num_shards),
                       (position, reference, names, labels, (record.path, record.offset)))
        except TfrconvError as error:
            raise dofns.stop_for_error(error) from None
        for note in firsts.values():
            yield beam.pvalue.TaggedOutput(NOTES, note)
        if source.skipped.count:
            yield beam.pvalue.TaggedOutput(NOTES, ("skipped", set_index, file_index,
                                                   source.skipped.count, source.skipped.first))


class FindRepeats(beam.DoFn):
    """Every example of one image key after the first in input order (merge keeps them all;
    the manifest notes them)."""

    def process(self, element):
        _key, seen = element
        for position, where in sorted(seen)[1:]:
            yield "repeat", position, where


class Totals(beam.CombineFn):
    """The notes of the run in one small dict (with the `skipped_problems` the conversion's
    shard steps check, always 0 here)."""

    def create_accumulator(self):
        return {"skipped_problems": 0, "firsts": {}, "skipped": [], "repeats": 0,
                "first_repeats": []}

    def add_input(self, acc, note):
        kind = note[0]
        if kind == "first":
            held = acc["firsts"].get(note[2])
            if held is None or note[1] < held[1]:
                acc["firsts"][note[2]] = note
        elif kind == "skipped":
            acc["skipped"].append(note)
        else:
            acc["repeats"] += 1
            acc["first_repeats"] = sorted([*acc["first_repeats"], note])[:5]
        return acc

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for acc in accumulators:
            for note in acc["firsts"].values():
                self.add_input(merged, note)
            merged["skipped"] += acc["skipped"]
            merged["repeats"] += acc["repeats"]
            merged["first_repeats"] = sorted(merged["first_repeats"] + acc["first_repeats"])[:5]
        return merged

    def extract_output(self, acc):
        return {"skipped_problems": 0, "firsts": sorted(acc["firsts"].values(), key=_position),
                "skipped": sorted(acc["skipped"], key=lambda note: note[2]),
                "repeats": acc["repeats"],
                "first_repeats": [where for _kind, _position, where in acc["first_repeats"]]}


class WriteRecordShard(dofns.WriteShard):
    """One output shard: its records in input order, read back by reference (ids rewritten
    for merge), written by the conversion's shard writer; its statistics and class counts."""

    def __init__(self, job: RecordsJob, temp_paths: list[str], final_paths: list[str],
                 compression: str | None) -> None:
        super().__init__({0: temp_paths}, {0: final_paths}, compression, None)
        self.job = job

    def process(self, element, totals):
        shard, values = element
        values = sorted(values, key=_first)
        book = self.job.final_book(totals["firsts"]) if self.job.rewrite else None
        counts = SplitCounts()
        tally = {"rewritten": 0, "skipped": []}
        reader = SpoolReader()

        def payloads():
            for position, (path, offset, length), names, labels, origin in values:
                payload = reader.read(path, offset, length)
                if book is not None:
                    ids = [book.id_for(name) for name in names]
                    if ids != labels:
                        payload = self.rewritten(payload, names, ids, position, origin, tally)
                        if payload is None:
                            continue
                counts.add(tuple(names), 0, 0)
                yield payload

        try:
            written = self.write(0, shard, payloads())
        finally:
            reader.close()
        yield {**dofns.shard_record(0, shard, written, counts), **tally}

    def rewritten(self, payload: bytes, names: list[str], ids: list[int], position,
                  origin: tuple[str, int], tally: dict) -> bytes | None:
        """The example with its class ids changed; None when it is damaged and skipped."""
        source = RecordSource([origin[0]], on_error=self.job.on_error)
        try:
            everything = source.decode(Record(origin[0], position[1], origin[1], payload))
        except TfrconvError as error:
            raise dofns.stop_for_error(error) from None
        if everything is None:
            tally["skipped"].append((position, source.skipped.first[0]))
            return None
        tally["rewritten"] += 1
        return encode(with_classes(everything, names, ids))


def _first(value: tuple) -> Any:
    return value[0]
