"""`records reshard`: the same examples in another number of shards, payloads copied as they
are (no decoding of the image, no re-encoding), each example in the shard a conversion would
have put it in (the stable hash of its source id)."""

from __future__ import annotations

import math
import os
import re
from typing import Any

from ..errors import UsageError
from .ahead import reading_ahead
from .labels import LabelBook, object_labels, object_names, unnamed_ids
from .output import RecordSetWriter, publish_all
from .reading import IDENTITY_KEYS, ClassMemo, RecordSource, input_label_map, shard_key

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_size(text: str | int) -> int:
    """'200MB' → 200,000,000 bytes; '1GiB' → 2**30; a plain number is bytes."""
    if isinstance(text, int):
        return text
    match = _SIZE.fullmatch(text)
    if not match:
        raise UsageError(f"--shard-size {text!r}: give a size such as 200MB, 1GiB or 5000000")
    unit = match.group(2).lower().rstrip("b")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise UsageError(f"--shard-size {text!r} must be at least one byte")
    return size


def shards_for_size(paths: list[str], shard_size: int) -> int:
    """Enough shards that each holds about `shard_size` bytes of the inputs' records."""
    total = sum(os.path.getsize(path) for path in paths)
    return max(1, math.ceil(total / shard_size))


def copy_label_map(source: RecordSource, given: Any):
    """The input's label map (given, or found beside it), as a book that also names classes
    the records use but the map lacks; and where it came from."""
    label_map = input_label_map(source.paths, given)
    origin = (label_map.source or "given") if label_map is not None else \
        "built from the records' class names"
    return LabelBook(label_map, source=origin), origin


def reshard_records(inputs: Any, output: str, *, num_shards: int | None = None,
                    shard_size: str | int | None = None, label_map: Any = None,
                    compression: str | None = None, on_error: str = "error",
                    runner: str = "local", beam_options: str | None = None) -> dict[str, Any]:
    """Rewrite the records of `inputs` (paths, globs, folders) as `output` in `num_shards`
    shards, or in as many as make shards of about `shard_size` (``"200MB"``); the manifest.

    Payload bytes are copied unchanged. The label map beside the inputs (or `label_map`) is
    written beside the output, with any class the records name but it lacks added.
    `runner="beam"` runs it as an Apache Beam pipeline (`beam_options`: Beam's options), with
    the same output."""
    if (num_shards is None) == (shard_size is None):
        raise UsageError("give exactly one of --num-shards and --shard-size")
    source = RecordSource(inputs, on_error=on_error)
    if shard_size is not None:
        num_shards = shards_for_size(source.paths, parse_size(shard_size))
    book, origin = copy_label_map(source, label_map)
    if runner != "local":
        from .beam_runner import reshard_on_beam

        return reshard_on_beam(source, output, num_shards=num_shards, shard_size=shard_size,
                               book=book, origin=origin, compression=compression,
                               runner=runner, beam_options=beam_options)
    names_by_id = book.names_by_id()
    known = ClassMemo()                  # class texts and ids → names, already learnt
    with reading_ahead([source], IDENTITY_KEYS), \
            RecordSetWriter(output, num_shards, compression, inputs=source.paths) as out:
        for record, features in source.features(IDENTITY_KEYS):
            classes = known.key(features)
            names = known.get(classes)
            if names is None:
                names = object_names(features, names_by_id)
                if names is None:
                    raise unnamed_ids(features, f"{record.path} record {record.index}")
                for name, label in zip(names, object_labels(features) or [None] * len(names)):
                    book.learn(name, label)
                names = known.keep(classes, tuple(names))
            out.copy(record, shard_key(record, features), names)
        manifest = out.stage(book.map, command="reshard", inputs=source.paths,
                             options={"num_shards": num_shards, "shard_size": shard_size},
                             label_map_source=origin, skipped_records=source.skipped.count)
        publish_all([out])
    source.report_skipped()
    return manifest
