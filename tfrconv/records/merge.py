"""`records merge`: several record sets into one, through one merged label map.

Each input set brings its own label map (found beside it). The merged map keeps the first
set's ids and fits the others in (`labels.merge_label_maps`), or is the `label_map` given. An
example whose class ids already agree with the merged map is copied byte for byte; one whose
ids change gets only its class labels rewritten (the image and every other feature untouched).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import DataError, UsageError
from ..labelmap_refs import load_label_map
from ..seen import SeenHashes
from ..sharding import stable_hash
from .ahead import reading_ahead
from .edit import encode, with_classes
from .labels import LabelBook, merge_label_maps, object_labels, object_names, unnamed_ids
from .output import RecordSetWriter, publish_all
from .reading import (
    IDENTITY_KEYS,
    ClassMemo,
    RecordSource,
    image_key,
    input_label_map,
    shard_key,
)


def merge_records(inputs: list[Any], output: str, *, label_map: Any = None,
                  num_shards: int = 1, compression: str | None = None,
                  on_error: str = "error", runner: str = "local",
                  beam_options: str | None = None) -> dict[str, Any]:
    """Merge the record sets `inputs` (each a path, glob or folder, or a list of them) into
    `output`; the manifest, whose ``notes`` list every label-map conflict met.

    Without `label_map`, classes a set's records name but no map has get the next free id.
    With it, such a class is an error naming the set and record. `runner="beam"` runs it as
    an Apache Beam pipeline (`beam_options`: Beam's options), with the same output."""
    if len(inputs) < 2:
        raise UsageError("merge needs at least two record sets")
    sources = [RecordSource(entry, on_error=on_error) for entry in inputs]
    book, notes, origin, own_maps = merged_book(inputs, sources, label_map)
    if runner != "local":
        from .beam_runner import merge_on_beam

        return merge_on_beam(
            sources, output, book=book, own_maps=own_maps, origin=origin,
            given_map=label_map is not None, num_shards=num_shards, compression=compression,
            closing_notes=lambda *counts: closing_notes(notes, *counts), runner=runner,
            beam_options=beam_options)
    rewritten = 0
    images = SeenHashes()               # 16 bytes per example: repeated images are reported
    repeats = 0
    first_repeats: list[str] = []
    with reading_ahead(sources, IDENTITY_KEYS), \
            RecordSetWriter(output, num_shards, compression,
                            inputs=[p for s in sources for p in s.paths]) as out:
        for source, own in zip(sources, own_maps):
            names_by_id = {i: item.name for i, item in own.by_id().items()} if own else {}
            known = ClassMemo()          # class texts and ids → (names, merged ids, unchanged)
            for record, features in source.features(IDENTITY_KEYS):
                classes = known.key(features)
                decided = known.get(classes)
                if decided is None:
                    decided = known.keep(classes, _merged_classes(
                        features, names_by_id, book, label_map, record))
                names, ids, unchanged = decided
                key = shard_key(record, features)
                if not images.add(stable_hash(image_key(features, key))):
                    repeats += 1
                    if len(first_repeats) < 5:
                        first_repeats.append(f"{record.path} record {record.index}")
                if unchanged:
                    out.copy(record, key, names)
                    continue
                everything = source.decode(record)
                if everything is None:
                    continue
                out.write(encode(with_classes(everything, names, ids)), key, names)
                rewritten += 1
        notes = closing_notes(notes, book, rewritten, repeats, first_repeats)
        manifest = out.stage(
            book.map, command="merge", inputs=[p for s in sources for p in s.paths],
            options={"num_shards": num_shards},
            label_map_source=origin, notes=notes,
            skipped_records=sum(s.skipped.count for s in sources))
        publish_all([out])
    for source in sources:
        source.report_skipped()
    return manifest


def _merged_classes(features, names_by_id: dict[int, str], book: LabelBook, label_map: Any,
                    record) -> tuple[tuple[str, ...], list[int], bool]:
    """An example's class names, their ids in the merged map, and whether those are the ids
    it has; DataError for a class without a name or (with a given map) without an id."""
    where = f"{record.path} record {record.index}"
    names = object_names(features, names_by_id)
    if names is None:
        raise unnamed_ids(features, where)
    ids = [book.id_for(name) for name in names]
    if None in ids:
        missing = sorted({n for n, i in zip(names, ids) if i is None})
        raise DataError(f"classes {missing} are not in the label map {label_map}", file=where)
    return tuple(names), ids, ids == object_labels(features)


def merged_book(inputs: list[Any], sources: list[RecordSource], label_map: Any
                ) -> tuple[LabelBook, list[str], str, list]:
    """The book of the merged ids before any record (the given map, else the sets' maps
    merged), the conflicts' notes, where it came from, and each set's own map."""
    origins = [_describe(entry) for entry in inputs]
    own_maps = [input_label_map(source.paths) for source in sources]
    if label_map is not None:
        book = LabelBook(load_label_map(label_map), grow=False, source=str(label_map))
        return book, [], str(label_map), own_maps
    book, notes = merge_label_maps(list(zip(origins, own_maps)))
    origin = "merged from " + ", ".join(
        f"{o} ({m.source})" for o, m in zip(origins, own_maps) if m is not None)
    return book, notes, origin, own_maps


def closing_notes(notes: list[str], book: LabelBook, rewritten: int, repeats: int,
                  first_repeats: list[str]) -> list[str]:
    """The manifest's notes: the conflicts, names no map had, rewritten ids, repeated images."""
    notes = notes + [f"{name!r} is in no input's label map: given id "
                     f"{book.map.resolve(name)}" for name in book.added]
    notes.append(f"{rewritten} examples had their class ids rewritten; the rest were "
                 "copied unchanged")
    if repeats:
        notes.append(f"{repeats} examples repeat an image written before (same "
                     f"sha256, else source id), kept: {', '.join(first_repeats)}"
                     + (" ..." if repeats > 5 else ""))
    return notes


def _describe(entry: Any) -> str:
    if isinstance(entry, (str, os.PathLike)):
        return os.fspath(entry)
    return ", ".join(map(os.fspath, entry))
