"""`write_report`: read record sets once, aggregate, compare, chart, write one HTML page.

One streaming pass over every split's records (the one tolerant reader,
`tfrconv.tfrecord.scan_records`, and `tfrconv.features.decode_typed`): each example goes to its
split's `SplitStats`, its image bytes to the `DuplicateIndex`, and, when a conversion problem
names it, to a thumbnail. Memory stays flat except for one hash and one name per image.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .. import features as F
from .. import keys as K
from ..errors import UsageError
from .aggregate import BOX_TITLES, SplitStats
from .compare import Difference, compare_counts, compare_numbers
from .conversion_problems import ProblemCatalogue
from .duplicates import DuplicateIndex

SPLIT_NAME = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")
MAX_CLASSES_CHARTED = 40
MAX_SIZES_CHARTED = 12
COARSE_GRID = 4            # centre cells compared between splits (4 x 4)


@dataclass(frozen=True)
class SplitInput:
    name: str
    records: str           # a record file, shard glob or folder


@dataclass
class Report:
    """What a report found; `path` is the HTML page, `summary` what report.json holds."""

    path: str
    summary: dict[str, Any]
    differences: list[Difference] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def parse_splits(records) -> list[SplitInput]:
    """`records` as splits: a path or glob, a list of them (each may be ``NAME=PATH``), or a
    ``{name: path}`` dict. Unnamed splits are named after their files (``train.record-*`` →
    ``train``)."""
    if isinstance(records, (str, os.PathLike)):
        records = [records]
    pairs = list(records.items()) if isinstance(records, dict) else \
        [_named(os.fspath(r)) for r in records]
    if not pairs:
        raise UsageError("no record sets to report on")
    seen: dict[str, int] = {}
    splits = []
    for name, pattern in pairs:
        name = name or _name_from_path(pattern)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        splits.append(SplitInput(name, os.fspath(pattern)))
    return splits


def _named(text: str) -> tuple[str | None, str]:
    match = SPLIT_NAME.match(text)
    if match and not os.path.exists(text):
        return match.group(1), match.group(2)
    return None, text


def _name_from_path(pattern: str) -> str:
    from ..manifest import sidecar_base

    base = os.path.basename(pattern.rstrip("/\\")) or pattern
    for marker in ("-?????-of-", "-*", "*", "?", "["):
        base = base.split(marker, 1)[0]
    base = re.sub(r"-\d{5}-of-\d{5}$", "", base)
    return sidecar_base(base) or base or "records"


def write_report(records, out: str | os.PathLike, *, label_map=None, problems=(),
                 near_duplicates: bool = False, title: str | None = None) -> Report:
    """Write ``OUT/index.html`` (and ``OUT/report.json``) for one or more record sets.

    `label_map`: a `LabelMap`, a path, or None for the one beside the first split's records;
    `problems`: `--report` JSONL files of the conversions (manifests beside the records are
    read anyway); `near_duplicates`: also decode every image (1/8 scale) for an average hash.
    """
    started = time.perf_counter()
    splits = parse_splits(records)
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out: {out} is a file, not a folder")
    label_map = _label_map(label_map, splits[0].records)
    catalogue = ProblemCatalogue()
    for path in problems or ():
        catalogue.read_jsonl(os.fspath(path))
    duplicates = DuplicateIndex(near=near_duplicates)
    manifests: set[str] = set()         # a record set named twice is read twice, counted once
    stats = [_read_split(split, label_map, catalogue, duplicates, manifests,
                         counted=bool(problems)) for split in splits]
    read = time.perf_counter()
    differences = split_differences(stats)
    summary = {
        "splits": [s.as_dict() for s in stats],
        "label_map": label_map_table(label_map, stats),
        "differences": [d.__dict__ for d in differences],
        "duplicates": duplicates.summary(),
        "problems": {"counts": dict(sorted(catalogue.counts.items())),
                     "skipped_images": catalogue.skipped_images},
    }
    from .page import render_page

    page = render_page(title or "tfrconv report: " + ", ".join(s.name for s in stats), stats,
                       summary, differences, catalogue, duplicates,
                       charted_classes(stats), label_map)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "index.html")
    _write_text(path, page)
    _write_text(os.path.join(out, "report.json"),
                json.dumps(summary, indent=2, ensure_ascii=False, default=sorted) + "\n")
    done = time.perf_counter()
    return Report(path, summary, differences,
                  {"read": round(read - started, 3), "page": round(done - read, 3)})


def _label_map(label_map, first_records: str):
    from ..labelmap import read_label_map_file

    if label_map is None:
        from ..manifest import find_label_map

        found = find_label_map(first_records)
        return read_label_map_file(found, validate=False) if found else None
    if isinstance(label_map, (str, os.PathLike)):
        return read_label_map_file(label_map, validate=False)
    return label_map


def _read_split(split: SplitInput, label_map, catalogue: ProblemCatalogue,
                duplicates: DuplicateIndex, manifests: set[str], *, counted: bool) -> SplitStats:
    from ..manifest import find_manifest
    from ..tfrecord import record_paths, scan_records

    stats = SplitStats(split.name, label_map)
    manifest_path = find_manifest(split.records)
    if manifest_path is not None and os.path.abspath(manifest_path) not in manifests:
        manifests.add(os.path.abspath(manifest_path))
        catalogue.read_manifest(_read_json(manifest_path), manifest_path, counted=counted)
    for path in record_paths(split.records):
        stats.files.append(path)
        for record in scan_records(path):
            if record.payload is None:
                stats.add_error(f"{path} record {record.index}", record.error)
                continue
            try:
                features = F.decode_typed(record.payload)
            except ValueError as exc:
                stats.add_error(f"{path} record {record.index}", str(exc))
                continue
            stats.add(features)
            source_id = F.text(F.first(features, K.SOURCE_ID, b""))
            filename = F.text(F.first(features, K.FILENAME, b""))
            data = F.first(features, K.ENCODED)
            if isinstance(data, bytes) and data:
                stated = F.first(features, K.KEY_SHA256)
                duplicates.add(split.name, source_id or filename or
                               f"{os.path.basename(path)} record {record.index}", data,
                               stated if isinstance(stated, bytes) else None)
            if catalogue.entries:
                names = [n for n in (source_id, filename) if n]
                names += [os.path.splitext(os.path.basename(n))[0] for n in names]
                names += [os.path.basename(n) for n in names]
                wanted = catalogue.wants(names)
                if wanted:
                    catalogue.attach(wanted, features, split.name, label_map)
    return stats


def _read_json(path: str) -> dict:
    from ..errors import DataError

    try:
        with open(path, encoding="utf-8") as fileobj:
            data = json.load(fileobj)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the manifest: {exc}", file=path) from None
    return data if isinstance(data, dict) else {}


def _write_text(path: str, text: str) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as fileobj:
        fileobj.write(text)
    os.replace(temporary, path)


# -- derived tables ------------------------------------------------------------------------
def charted_classes(stats: list[SplitStats]) -> list[str]:
    """The classes with the most objects over all splits, at most MAX_CLASSES_CHARTED."""
    totals: dict[str, int] = {}
    for split in stats:
        for name, (objects, _images) in split.classes.items():
            totals[name] = totals.get(name, 0) + objects
    return sorted(totals, key=lambda n: (-totals[n], n))[:MAX_CLASSES_CHARTED]


def label_map_table(label_map, stats: list[SplitStats]) -> dict[str, Any]:
    """Every label map item with its objects per split (unused: none anywhere), and every
    class in the data that the label map does not know (unseen)."""
    in_data: dict[str, list[int]] = {}
    for index, split in enumerate(stats):
        for name, (objects, _images) in split.classes.items():
            in_data.setdefault(name, [0] * len(stats))[index] += objects
    if label_map is None:
        return {"source": None, "items": [], "unseen": sorted(in_data)}
    items, matched = [], set()
    for item in sorted(label_map, key=lambda i: i.id):
        names = {item.name, *( [item.display_name] if item.display_name else []),
                 f"id {item.id}"}
        per_split = [0] * len(stats)
        for name in names & set(in_data):
            matched.add(name)
            per_split = [a + b for a, b in zip(per_split, in_data[name])]
        items.append({"id": item.id, "name": item.name, "display_name": item.display_name,
                      "objects": per_split, "unused": not any(per_split)})
    unseen = sorted(name for name in in_data if name not in matched
                    and label_map.resolve(name) is None)
    return {"source": label_map.source, "items": items, "unseen": unseen}


def split_differences(stats: list[SplitStats]) -> list[Difference]:
    """Every split after the first compared with the first (the reference, usually train)."""
    found: list[Difference | None] = []
    if len(stats) < 2:
        return []
    reference = stats[0]
    for split in stats[1:]:
        pair = (split.name, reference.name)
        found.append(compare_counts("objects per class", *pair,
                                    {n: c[0] for n, c in split.classes.items()},
                                    {n: c[0] for n, c in reference.classes.items()}))
        found.append(compare_numbers("boxes per image", *pair, split.per_image.cells(),
                                     reference.per_image.cells()))
        for name, what in BOX_TITLES.items():
            found.append(compare_numbers(what, *pair, split.boxes[name].cells(),
                                         reference.boxes[name].cells()))
        found.append(compare_counts("box centres (4 x 4 cells)", *pair,
                                    _coarse(split), _coarse(reference)))
        found.append(compare_counts("image sizes", *pair, dict(split.sizes),
                                    dict(reference.sizes)))
        found.append(compare_counts("image formats", *pair, dict(split.formats),
                                    dict(reference.formats)))
    return [d for d in found if d is not None]


def _coarse(split: SplitStats) -> dict[tuple[int, int], int]:
    size = split.centres.size
    cells: dict[tuple[int, int], int] = {}
    for row, counts in enumerate(split.centres.counts):
        for column, count in enumerate(counts):
            key = (row * COARSE_GRID // size, column * COARSE_GRID // size)
            cells[key] = cells.get(key, 0) + count
    return cells
