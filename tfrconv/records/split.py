"""`records split`: one record set into named parts by share, payloads copied unchanged.

The rule is conversion's `--split` (`tfrconv.transforms.split`), so splitting records gives
the parts a conversion with the same `--split` would have written: an example's part comes from
the SHA-256 of the seed and its key (its image's ``image/key/sha256`` with ``by="content"``,
the default, or its source id with ``by="id"``; with `group_by`, the pattern's match in the file
name or source id), never from its position. The parts are named as a conversion names them
(`tfrconv.split_outputs`: ``data.record`` → ``data_train.record``, ``data_val.record``).
"""

from __future__ import annotations

import os
from typing import Any

from .. import keys as K
from ..errors import UsageError
from ..formats import split_outputs
from ..transforms.split import SplitAssigner, compile_group, parse_split
from .labels import object_labels, object_names, unnamed_ids
from .output import RecordSetWriter, publish_all
from .reading import IDENTITY_KEYS, Features, RecordSource, shard_key
from .reshard import copy_label_map

SPLIT_KEYS = IDENTITY_KEYS | {K.FILENAME}


def split_key(assigner: SplitAssigner, features: Features) -> str:
    """The key conversion's `SplitAssigner.key` gives the same example."""
    def text(key: str) -> str:
        found = features.get(key, (None, []))[1]
        return found[0].decode("utf-8", errors="replace") if found and found[0] else ""

    if assigner.group is not None:
        for name in (text(K.FILENAME), text(K.SOURCE_ID)):
            match = assigner.group.search(name)
            if match is not None:
                return "group:" + (match.group(1) if match.re.groups else match.group(0))
    if assigner.by == "content" and text(K.KEY_SHA256):
        return "sha256:" + text(K.KEY_SHA256)
    return "id:" + text(K.SOURCE_ID)


def split_records(inputs: Any, output: str, *, split: str, seed: int = 0, by: str = "content",
                  group_by: str | None = None, num_shards: int = 1, label_map: Any = None,
                  compression: str | None = None, on_error: str = "error"
                  ) -> dict[str, dict[str, Any]]:
    """Split the records of `inputs` into parts by `split` (``"train=0.8,val=0.2"``), written
    beside `output` under split names; {part: manifest}. `seed`, `by` ("content" or "id") and
    `group_by` as conversion's ``--split-seed``, ``--split-by`` and ``--group-by``."""
    if by not in ("content", "id"):
        raise UsageError(f"--split-by must be content or id, got {by!r}")
    shares = parse_split(split)
    assigner = SplitAssigner(shares, seed, by, compile_group(group_by) if group_by else None)
    source = RecordSource(inputs, on_error=on_error)
    paths = split_outputs(os.fspath(output), [name for name, _share in shares])
    book, origin = copy_label_map(source, label_map)
    names_by_id = book.names_by_id()
    writers = {part: RecordSetWriter(path, num_shards, compression)
               for part, path in paths.items()}
    try:
        for record, features in source.features(SPLIT_KEYS):
            names = object_names(features, names_by_id)
            if names is None:
                raise unnamed_ids(features, f"{record.path} record {record.index}")
            for name, label in zip(names, object_labels(features) or [None] * len(names)):
                book.learn(name, label)
            part = assigner.choose(split_key(assigner, features))
            writers[part].copy(record, shard_key(record, features), names)
        manifests = {part: writer.stage(
            book.map, command="split", inputs=source.paths,
            options={"split": dict(shares), "split_seed": seed, "split_by": by,
                     "group_by": group_by, "num_shards": num_shards},
            label_map_source=origin, skipped_records=source.skipped.count, split=part)
            for part, writer in writers.items()}
        publish_all(list(writers.values()))
    finally:
        for writer in writers.values():
            writer.discard()
    source.report_skipped()
    return manifests
