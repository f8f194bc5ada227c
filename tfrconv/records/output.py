"""Record sets written by a `tfrconv records` command: shards, label map and manifest,
published together or not at all.

The shards are a `ShardedWriter`'s (hidden temporary names, the OD API's shard names, the
stable source-id shard rule of conversion); the label map and manifest sit beside them under
the names a conversion gives them. `publish_all` renames every set's files into place with one
`Publication`, as the local runner does, only when the command has finished: an exception (the
commands turn SIGTERM into one) leaves nothing behind.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from .. import __version__
from ..labelmap import LabelMap
from ..manifest import label_map_path, manifest_path, manifest_text
from ..publish import Publication, remove_stale_shards
from ..runners.local import unlink_quietly, write_temp
from ..sharding import ShardedWriter, shard_glob, shard_index


class RecordSetWriter:
    """Write examples into `output` (N shards) and count their classes; `stage` the sidecars,
    then `publish_all`. As a context manager, anything unpublished is removed on exit."""

    def __init__(self, output: str, num_shards: int = 1, compression: str | None = None
                 ) -> None:
        self.output = os.fspath(output)
        self.num_shards = num_shards
        self.compression = None if compression in (None, "none") else compression.upper()
        self.writer = ShardedWriter(self.output, num_shards, self.compression)
        self.examples = 0
        self.objects = 0
        self.object_classes: Counter = Counter()     # class name -> objects
        self.image_classes: Counter = Counter()      # class name -> images showing it
        self.renames: list[tuple[str, str]] = []
        self.manifest: dict[str, Any] = {}
        self.published = False

    def write(self, payload, source_id: str, names: list[str]) -> None:
        """One example (bytes, or pieces), in the shard its source id picks."""
        self.writer.write(shard_index(source_id, self.num_shards), payload)
        self.examples += 1
        self.objects += len(names)
        self.object_classes.update(names)
        self.image_classes.update(set(names))

    def stage(self, label_map: LabelMap, *, command: str, inputs: list[str],
              options: dict[str, Any], label_map_source: str, notes: list[str] = (),
              skipped_records: int = 0, split: str | None = None) -> dict[str, Any]:
        """Finish the shards and write the label map and manifest under temporary names; the
        manifest."""
        self.writer.finish()
        self.manifest = self.describe(label_map, command=command, inputs=inputs,
                                      options=options, label_map_source=label_map_source,
                                      notes=list(notes), skipped_records=skipped_records,
                                      split=split)
        self.renames = list(self.writer.renames())
        for final, text in ((label_map_path(self.output), label_map.to_text()),
                            (manifest_path(self.output), manifest_text(self.manifest))):
            self.renames.append((write_temp(final, text), final))
        return self.manifest

    def describe(self, label_map: LabelMap, *, command: str, inputs: list[str],
                 options: dict[str, Any], label_map_source: str, notes: list[str],
                 skipped_records: int, split: str | None) -> dict[str, Any]:
        """The manifest: a conversion's fields, with the inputs and command in place of the
        source format, and the notes (label conflicts) and skipped records."""
        objects_by_id: Counter = Counter()
        images_by_id: Counter = Counter()
        for name, n in self.object_classes.items():
            objects_by_id[label_map.resolve(name)] += n
        for name, n in self.image_classes.items():
            images_by_id[label_map.resolve(name)] += n
        return {
            "manifest_version": 1,
            "tfrconv_version": __version__,
            "format": f"records {command}",
            "inputs": inputs,
            "options": options,
            "split": split,
            "output": os.path.basename(self.output),
            "shard_glob": os.path.basename(shard_glob(self.output, self.num_shards)),
            "num_shards": self.num_shards,
            "compression": self.compression or "none",
            "shards": [{"path": os.path.basename(s.path), "examples": s.examples,
                        "bytes": s.bytes} for s in self.writer.stats],
            "examples": self.examples,
            "objects": self.objects,
            "classes": [{"id": item.id, "name": item.name, "display_name": item.display_name,
                         "objects": objects_by_id[item.id], "images": images_by_id[item.id]}
                        for item in label_map.by_id().values()],
            "label_map": {
                "path": os.path.basename(label_map_path(self.output)),
                "source": label_map_source,
                "sha256": label_map.sha256(),
                "num_classes": label_map.max_id,
                "items": label_map.as_dicts(),
            },
            "notes": notes,
            "skipped_records": skipped_records,
        }

    def discard(self) -> None:
        """Remove every temporary file of this set (idempotent)."""
        if self.published:
            return
        self.writer.abort()
        for temp, _final in self.renames[self.num_shards:]:
            unlink_quietly(temp)

    def __enter__(self) -> RecordSetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


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
