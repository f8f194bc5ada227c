"""`records split`: one record set into named parts by ratio, payloads copied unchanged.

An example's part comes from a stable hash of its image (``image/key/sha256``, else its source
id) and the seed, never from its position: the same example lands in the same part whatever the
order of the inputs, and re-splitting after adding images moves none of the old ones. The parts
are named as a conversion names its split outputs: ``data.record`` → ``data_train.record``,
``data_val.record``.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import UsageError
from ..manifest import RECORD_SUFFIXES
from ..sharding import stable_hash
from .labels import object_labels, object_names, unnamed_ids
from .output import RecordSetWriter, publish_all
from .reading import IDENTITY_KEYS, RecordSource, image_key, shard_key
from .reshard import copy_label_map

_SCALE = float(2 ** 64)


def parse_ratios(text: str | dict[str, float]) -> dict[str, float]:
    """'train=0.8,val=0.2' (or a dict) → {part: fraction}, fractions scaled to sum to 1."""
    if isinstance(text, dict):
        pairs = list(text.items())
    else:
        pairs = []
        for entry in filter(None, (e.strip() for e in text.split(","))):
            name, sep, value = entry.partition("=")
            try:
                pairs.append((name.strip(), float(value)))
            except ValueError:
                sep = ""
            if not sep or not name.strip():
                raise UsageError(f"--ratios {text!r}: write parts as name=fraction, e.g. "
                                 "train=0.8,val=0.2")
    names = [name for name, _ in pairs]
    if len(pairs) < 2 or len(set(names)) != len(names):
        raise UsageError(f"--ratios {text!r}: give at least two parts with distinct names")
    if any(value <= 0 for _, value in pairs):
        raise UsageError(f"--ratios {text!r}: every fraction must be above 0")
    total = sum(value for _, value in pairs)
    return {name: value / total for name, value in pairs}


def part_paths(output: str, parts: list[str]) -> dict[str, str]:
    """`out/data.record` → {train: out/data_train.record, ...}; a name without a record
    suffix gets `_<part>` at its end."""
    for suffix in RECORD_SUFFIXES:
        if output.endswith(suffix) and len(output) > len(suffix):
            base = output[: -len(suffix)]
            return {part: f"{base}_{part}{suffix}" for part in parts}
    return {part: f"{output}_{part}" for part in parts}


def part_of(key: str, seed: int, bounds: list[tuple[float, str]]) -> str:
    """The part whose cumulative range holds the key's hash (a number in [0, 1))."""
    point = stable_hash(f"{seed}:{key}") / _SCALE
    for bound, part in bounds:
        if point < bound:
            return part
    return bounds[-1][1]


def split_records(inputs: Any, output: str, *, ratios: str | dict[str, float],
                  seed: int = 0, num_shards: int = 1, label_map: Any = None,
                  compression: str | None = None, on_error: str = "error"
                  ) -> dict[str, dict[str, Any]]:
    """Split the records of `inputs` into parts by `ratios` (``"train=0.8,val=0.2"``), written
    beside `output` under split names (see `part_paths`); {part: manifest}."""
    fractions = parse_ratios(ratios)
    source = RecordSource(inputs, on_error=on_error)
    paths = part_paths(os.fspath(output), list(fractions))
    bounds, running = [], 0.0
    for part, fraction in fractions.items():
        running += fraction
        bounds.append((running, part))
    book, origin = copy_label_map(source, label_map)
    names_by_id = book.names_by_id()
    writers = {part: RecordSetWriter(path, num_shards, compression)
               for part, path in paths.items()}
    try:
        for record, features in source.features(IDENTITY_KEYS):
            names = object_names(features, names_by_id)
            if names is None:
                raise unnamed_ids(features, f"{record.path} record {record.index}")
            for name, label in zip(names, object_labels(features) or [None] * len(names)):
                book.learn(name, label)
            key = shard_key(record, features)
            part = part_of(image_key(features, key), seed, bounds)
            writers[part].copy(record, key, names)
        manifests = {part: writer.stage(
            book.map, command="split", inputs=source.paths,
            options={"ratios": fractions, "seed": seed, "num_shards": num_shards},
            label_map_source=origin, skipped_records=source.skipped.count, split=part)
            for part, writer in writers.items()}
        publish_all(list(writers.values()))
    finally:
        for writer in writers.values():
            writer.discard()
    source.report_skipped()
    return manifests
