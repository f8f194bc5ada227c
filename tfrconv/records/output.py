"""Record sets written by a `tfrconv records` command: shards, label map and manifest,
published together or not at all.

The shards are a `ShardedWriter`'s (hidden temporary names, the OD API's shard names, the
stable source-id shard rule of conversion); the label map and manifest sit beside them under
the names a conversion gives them. Uncompressed output is placed the way the local runner's
workers place theirs: room is reserved in the shard and the framed record written there with
`pwritev`; an unchanged record from an uncompressed input is not even read back into Python to
be written: its framed bytes are copied file to file by the kernel (`copy_file_range`), past
the first `_PROCESS_AFTER` bytes by a helper process (`copier.py`) so that the copying overlaps
the reading, which is what lets reshard and merge run close to the speed of `cp`.

`publish_all` renames every set's files into place with one `Publication`, as the local runner
does, only when the command has finished: an exception (the commands turn SIGTERM into one)
leaves nothing behind.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from .. import __version__
from ..errors import DataError
from ..labelmap import LabelMap
from ..manifest import class_entries, label_map_entry, label_map_path, manifest_path, manifest_text
from ..publish import Publication, remove_stale_shards, unlink_quietly, write_temp
from ..remote import is_url
from ..sharding import ShardedWriter, ShardStats, shard_glob, shard_index
from ..tfrecord import Record, frame_parts, is_gzip
from .ahead import ReadRecord
from .copier import CopierProcess, copy_range, start_copier

# Framing around a payload: u64 length, u32 its CRC, ..., u32 the payload's CRC.
FRAMING = 16
# Copies go to a copier process once this much has been copied here (small jobs never start
# one; inputs of twice this size start it at the first copy), in runs of at most `_RUN` bytes
# (so that it copies while the reading goes on).
_PROCESS_AFTER = 64 << 20
_RUN = 8 << 20
# Distinct per-image lists of class names held before they are added to the class counts.
_NAME_LISTS = 4096


class RecordSetWriter:
    """Write examples into `output` (N shards) and count their classes; `stage` the sidecars,
    then `publish_all`. As a context manager, anything unpublished is removed on exit."""

    def __init__(self, output: str, num_shards: int = 1, compression: str | None = None,
                 *, inputs: list[str] = ()) -> None:
        self.output = os.fspath(output)
        self.num_shards = num_shards
        self.compression = None if compression in (None, "none") else compression.upper()
        self.writer = ShardedWriter(self.output, num_shards, self.compression)
        # Place records at reserved offsets (no compression, and the OS can write at offsets).
        self.direct = self.compression is None and hasattr(os, "pwritev")
        self._shard_fds: dict[int, int] = {}
        self._input_fds: dict[str, int | None] = {}    # None: GZIP, its bytes cannot be copied
        self._runs: dict[int, list] = {}                # shard → records still to copy
        self._copier: CopierProcess | None = None
        self._helper = True                             # False: no copier process can start
        self._copied = 0                                # bytes copied (or queued to copy)
        self._big = _local_bytes(inputs) >= 2 * _PROCESS_AFTER   # copier from the first copy
        self._inputs = {os.path.realpath(path) for path in inputs if not is_url(path)}
        self.examples = 0
        self.objects = 0
        self.object_classes: Counter = Counter()     # class name -> objects
        self.image_classes: Counter = Counter()      # class name -> images showing it
        self._name_lists: dict[tuple, int] = {}      # an image's class names -> images
        self.renames: list[tuple[str, str]] = []
        self.manifest: dict[str, Any] = {}
        self.published = False

    def write(self, payload, source_id: str, names: list[str]) -> None:
        """One example (bytes, or pieces), in the shard its source id picks."""
        shard = shard_index(source_id, self.num_shards)
        if not self.direct:
            self.writer.write(shard, payload)
        else:
            pieces = frame_parts(payload)
            size = sum(map(len, pieces))
            try:
                offset = self.writer.reserve(shard, size)[1]
                if os.pwritev(self._shard_fd(shard), pieces, offset) != size:
                    raise OSError("short write")
            except OSError as exc:
                raise self._failed(exc) from None
        self._count(names)

    def copy(self, record: Record | ReadRecord, source_id: str, names: list[str]) -> None:
        """One record exactly as it is in its input file: copied file to file when both are
        uncompressed, else written from its payload (the bytes are the same either way).
        Records that follow each other in the input and in the shard are copied as one run."""
        source = self._input_fd(record.path) if self.direct else None
        if source is None:
            self.write(record.payload, source_id, names)
            return
        shard = shard_index(source_id, self.num_shards)
        length = (record.length if type(record) is ReadRecord else len(record.payload)) + \
            FRAMING
        offset = self.writer.reserve(shard, length)[1]
        run = self._runs.get(shard)
        if run is not None and run[0] == source and run[2] == record.offset and \
                run[3] + run[2] - run[1] == offset and run[2] - run[1] < _RUN:
            run[2] += length                       # the run grows by this record
        else:
            self._copy_run(shard)
            self._runs[shard] = [source, record.offset, record.offset + length, offset,
                                 record.path]
        self._count(names)

    def _copy_run(self, shard: int) -> None:
        """Copy the pending run of records of one shard (input fd, start, end, offset, input
        path): here, or past the first `_PROCESS_AFTER` bytes by the copier process."""
        run = self._runs.pop(shard, None)
        if run is None:
            return
        source, start, end, offset, path = run
        try:
            if self._copier is None and self._helper and \
                    (self._big or self._copied >= _PROCESS_AFTER):
                self._copier = start_copier()
                self._helper = self._copier is not None
                for final in self.writer.paths if self._copier is not None else ():
                    # To be replaced (see copier.py); an input being read stays cached.
                    if os.path.isfile(final) and os.path.realpath(final) not in self._inputs:
                        self._copier.forget(final)
            self._copied += end - start
            if self._copier is not None:
                self._copier.copy(path, self.writer.temp_paths[shard], start, end - start,
                                  offset)
            else:
                copy_range(source, self._shard_fd(shard), start, end - start, offset)
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> DataError:
        return DataError(f"writing failed: {exc.strerror or exc} (no output was left behind)",
                         file=self.output)

    def _shard_fd(self, shard: int) -> int:
        fd = self._shard_fds.get(shard)
        if fd is None:
            fd = self._shard_fds[shard] = os.open(self.writer.temp_paths[shard], os.O_WRONLY)
        return fd

    def _input_fd(self, path: str) -> int | None:
        if path not in self._input_fds:
            # A URL (s3://, memory://) has no descriptor: its records are written from payloads.
            usable = hasattr(os, "copy_file_range") and not is_url(path) and not is_gzip(path)
            self._input_fds[path] = os.open(path, os.O_RDONLY) if usable else None
        return self._input_fds[path]

    def _finish_copies(self) -> None:
        for shard in list(self._runs):
            self._copy_run(shard)
        if self._copier is not None:
            try:
                self._copier.finish()
            except OSError as exc:
                raise self._failed(exc) from None
            finally:
                self._copier = None

    def _close_fds(self) -> None:
        if self._copier is not None:             # nothing may still copy to what is removed
            self._copier.cancel()
            self._copier = None
        for fd in [*self._shard_fds.values(), *self._input_fds.values()]:
            if fd is not None:
                os.close(fd)
        self._shard_fds.clear()
        self._input_fds.clear()

    def _count(self, names: list[str] | tuple[str, ...]) -> None:
        # Images repeat the same class names: each list is counted here once per image, and
        # spread over the classes (`_fold`) when there are many lists or at the end.
        self.examples += 1
        self.objects += len(names)
        lists = self._name_lists
        key = tuple(names)
        lists[key] = lists.get(key, 0) + 1
        if len(lists) > _NAME_LISTS:
            self._fold()

    def _fold(self) -> None:
        objects, images = self.object_classes, self.image_classes
        for names, count in self._name_lists.items():
            for name in names:
                objects[name] += count
            for name in set(names):
                images[name] += count
        self._name_lists.clear()

    def stage(self, label_map: LabelMap, *, command: str, inputs: list[str],
              options: dict[str, Any], label_map_source: str, notes: list[str] = (),
              skipped_records: int = 0, split: str | None = None) -> dict[str, Any]:
        """Finish the shards and write the label map and manifest under temporary names; the
        manifest."""
        self._finish_copies()
        self._close_fds()
        self.writer.finish()
        self.manifest = self.describe(label_map, command=command, inputs=inputs,
                                      options=options, label_map_source=label_map_source,
                                      notes=list(notes), skipped_records=skipped_records,
                                      split=split)
        self.renames = list(self.writer.renames())
        self.renames += stage_sidecars(self.output, label_map, self.manifest)
        return self.manifest

    def describe(self, label_map: LabelMap, *, command: str, inputs: list[str],
                 options: dict[str, Any], label_map_source: str, notes: list[str],
                 skipped_records: int, split: str | None) -> dict[str, Any]:
        """The manifest: a conversion's fields, with the inputs and command in place of the
        source format, and the notes (label conflicts) and skipped records."""
        self._fold()
        return set_manifest(self.output, self.num_shards, self.compression, self.writer.stats,
                            self.examples, self.objects, self.object_classes,
                            self.image_classes, label_map, command=command, inputs=inputs,
                            options=options, label_map_source=label_map_source, notes=notes,
                            skipped_records=skipped_records, split=split)

    def discard(self) -> None:
        """Remove every temporary file of this set (idempotent)."""
        self._runs.clear()
        self._close_fds()
        if self.published:
            return
        self.writer.abort()
        for temp, _final in self.renames[self.num_shards:]:
            unlink_quietly(temp)

    def __enter__(self) -> RecordSetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


def _local_bytes(paths: list[str]) -> int:
    """The size of the local files among `paths` (what the kernel may copy)."""
    total = 0
    for path in paths:
        try:
            total += 0 if is_url(path) else os.path.getsize(path)
        except OSError:
            pass
    return total


def set_manifest(output: str, num_shards: int, compression: str | None,
                 shards: list[ShardStats], examples: int, objects: int, object_classes: Counter,
                 image_classes: Counter, label_map: LabelMap, *, command: str,
                 inputs: list[str], options: dict[str, Any], label_map_source: str,
                 notes: list[str], skipped_records: int, split: str | None) -> dict[str, Any]:
    """A written record set's manifest (any runner's: `RecordSetWriter.describe`, Beam)."""
    return {
        "manifest_version": 1,
        "tfrconv_version": __version__,
        "format": f"records {command}",
        "inputs": inputs,
        "options": options,
        "split": split,
        "output": os.path.basename(output),
        "shard_glob": os.path.basename(shard_glob(output, num_shards)),
        "num_shards": num_shards,
        "compression": compression or "none",
        "shards": [{"path": os.path.basename(s.path), "examples": s.examples,
                    "bytes": s.bytes} for s in shards],
        "examples": examples,
        "objects": objects,
        "classes": class_entries(label_map, object_classes, image_classes),
        "label_map": label_map_entry(label_map, output, label_map_source),
        "notes": notes,
        "skipped_records": skipped_records,
    }


def stage_sidecars(output: str, label_map: LabelMap, manifest: dict[str, Any]
                   ) -> list[tuple[str, str]]:
    """The label map and manifest beside `output`, under temporary names: (temp, final)."""
    return [(write_temp(final, text), final)
            for final, text in ((label_map_path(output), label_map.to_text()),
                                (manifest_path(output), manifest_text(manifest)))]


def publish_all(sets: list[RecordSetWriter]) -> None:
    """Rename every staged set's files into place, all or none; then remove shards an earlier
    run with another shard count left beside them (a `-*` glob would mix the two)."""
    publication = Publication()
    for record_set in sets:
        for temp, final in record_set.renames:
            publication.add(temp, final)
    publication.commit()
    for record_set in sets:
        record_set.writer.published()
        record_set.published = True
        record_set.manifest["removed_stale_shards"] = remove_stale_shards(
            {None: record_set.output}, record_set.num_shards)
