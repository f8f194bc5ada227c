"""Open Images: `tfrconv oid --annotations-csv train-annotations-bbox.csv --images-dir train
--output oid_train.record --num-shards 100`.

Reads the box CSV (ImageID, LabelName, XMin, XMax, YMin, YMax, and IsOccluded, IsTruncated,
IsGroupOf, IsDepiction, IsInside when present; coordinates already 0..1), optionally the
image-level label CSV (ImageID, LabelName, Confidence) and the class descriptions (MID → name,
which also make the label map: name = MID, display_name = the human name). Features equal the
reference `create_oid_tf_record.py`; beyond it: height, width, format and sha256 are written,
negative image-level labels keep confidence 0 (image/class/confidence, image/neg_category_ids)
instead of passing for positives, PNG images work, images are read as binary, an id without an
image file follows --on-missing-image, and a non-hex ImageID gets the stable-hash shard instead
of crashing. Shards of hex ids are `int(ImageID, 16) % N`, as the reference.

The CSVs are streamed (tfrconv.csvstream: the csv module, no pandas): one pass counts the
labels (for the label-map check) and the images, and finds whether the rows are in ImageID order
(Open Images' own files are). Then items are built as the rows stream past, grouped by image:
from the file again when in order, else from the rows sorted once (tfrconv.spill: in memory up to
SPILL_LIMIT rows, past it in sorted runs on disk). Nothing is kept per row, and per image only
an 8-byte hash of its id while the images are counted.
"""

from __future__ import annotations

import heapq
import itertools
import os
import re
import threading
from array import array
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    ImageLabel,
    LabelMap,
    LabelMapItem,
    Object,
    Option,
    Sample,
    UsageError,
    csvstream,
    hookimpl,
    spill,
    tables,
)

BOX_COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")
LABEL_COLUMNS = ("ImageID", "LabelName")
# CSV column → Object attribute; each written only when its column exists.
ATTRIBUTES = (("IsOccluded", "occluded"), ("IsTruncated", "truncated"), ("IsGroupOf", "group_of"),
              ("IsDepiction", "depiction"), ("IsInside", "inside"))
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
SPILL_LIMIT = spill.DEFAULT_LIMIT        # rows of an out-of-order CSV held in memory
HEX_ID = re.compile(r"[0-9a-fA-F]+")

OPTIONS = (
    Option("annotations_csv", "box annotations CSV (ImageID, LabelName, XMin, XMax, YMin, YMax; "
           "0..1 coordinates; IsOccluded, IsTruncated, IsGroupOf, IsDepiction, IsInside "
           "optional)", "path", required=True, metavar="CSV"),
    Option("images_dir", "folder of <ImageID>.jpg (.jpeg, .png) images", "path", required=True,
           metavar="DIR"),
    Option("image_labels_csv", "image-level labels CSV (ImageID, LabelName, Confidence: 1 "
           "present, 0 verified absent)", "path", metavar="CSV"),
    Option("class_descriptions", "class descriptions CSV (MID,name, e.g. "
           "class-descriptions-boxable.csv): builds the label map when --label-map is not given",
           "path", metavar="CSV"),
    Option("annotated_only", "convert only images named in a CSV; by default every image in "
           "--images-dir is converted, those without annotations as negatives (as the reference)",
           "bool", default=False),
    Option("unknown_attributes", "how -1 (unknown) in the Is* columns is written: keep writes -1 "
           "as the reference does (the decoder reads group_of -1 as true); zero writes 0",
           "choice", choices=("keep", "zero"), default="keep"),
)


# -- reading the CSVs ----------------------------------------------------------------------
# A row, as read and as spilled: (ImageID, row number, problem or None, entry). The entry is what
# the item holds: boxes (label, line, xmin, xmax, ymin, ymax, flags), labels (label, confidence).
# A problem is (rank, row number, message, line): an image with several takes the lowest rank
# (the order of the checks below), then the first row.
_FLAGS = {"0": 0, "1": 1, "-1": -1, "": -1}            # the usual cells; empty = unknown
_PLAIN_CELL = r"-?[0-9]+(?:\.[0-9]+)?"
_FLAG_CELL = "(?:0|1|-1|)"
_NAN = float("nan")


class _RowReader:
    """What the box and label readers share: the CSV opened and its columns checked, and each
    row's ImageID and LabelName with the problems they can have."""
    what = kind = row = ""                      # in messages: the file, its kind, a row
    required: tuple = ()

    def __init__(self, path: str) -> None:
        self.path = path
        self.records = csvstream.CsvRecords(path, self.what)
        columns = self.records.columns
        missing = [c for c in self.required if c not in columns]
        if missing:
            raise DataError(f"not an Open Images {self.kind}: no column {', '.join(missing)} "
                            f"(found: {', '.join(self.records.header[:12])})", file=path, line=1)
        self.image, self.label = columns["ImageID"], columns["LabelName"]

    def identity(self, number: int, line: int, cells: list[str]) -> tuple:
        """(ImageID, LabelName, problem or None); a row without an ImageID is refused."""
        image_id, label = cells[self.image], cells[self.label]
        if not image_id:
            raise DataError("row without an ImageID", file=self.path, line=line)
        problem = None
        if "\x00" in image_id:
            problem = (0, number, "the ImageID contains a NUL byte", line)
        elif not label:
            problem = (1, number, f"{self.row} row without a LabelName", line)
        return image_id, label, problem


class _BoxReader(_RowReader):
    what, kind, row, required = "box annotations CSV", "box CSV", "box", BOX_COLUMNS

    def __init__(self, path: str) -> None:
        super().__init__(path)
        columns = self.records.columns
        self.coordinates = [(columns[c], 2 + 2 * k, f"{c} is not a number",
                             f"box row without {c}") for k, c in enumerate(BOX_COLUMNS[2:])]
        present = [c for c, _attr in ATTRIBUTES if c in columns]
        self.flags = [(columns[c], 10 + present.index(c), f"{c} must be 0, 1 or -1 (unknown)")
                      if c in columns else None for c, _attr in ATTRIBUTES]
        # The usual row, checked in one match of its cells joined: four plain decimals (float()
        # reads them as pandas does) and five flags 0, 1, -1 or empty.
        self.usual = None
        if len(present) == len(ATTRIBUTES):
            self.usual = itemgetter(*(columns[c] for c in BOX_COLUMNS[2:] + tuple(present)))
        self.usual_cells = re.compile(",".join([_PLAIN_CELL] * 4 + [_FLAG_CELL] * 5)).fullmatch

    def parse(self, number: int, line: int, cells: list[str]) -> tuple:
        """The row: the usual one the quick way, any other through `parse_fully`."""
        image_id, label = cells[self.image], cells[self.label]
        if self.usual is None or not image_id or not label or "\x00" in image_id:
            return self.parse_fully(number, line, cells)
        values = self.usual(cells)
        if not self.usual_cells(",".join(values)):
            return self.parse_fully(number, line, cells)
        xmin, xmax, ymin, ymax = array("f", map(float, values[:4])).tolist()
        return image_id, number, None, (label, line, xmin, xmax, ymin, ymax,
                                        tuple(map(_FLAGS.__getitem__, values[4:])))

    def parse_fully(self, number: int, line: int, cells: list[str]) -> tuple:
        image_id, label, problem = self.identity(number, line, cells)
        box = []
        for index, rank, not_number, empty in self.coordinates:
            value = csvstream.number(cells[index])
            if value is None:
                problem = problem or (rank, number, not_number, line)
                value = _NAN
            elif value != value:
                problem = problem or (rank + 1, number, empty, line)
            box.append(value)
        flags = []
        for column in self.flags:
            if column is None:
                flags.append(None)
                continue
            index, rank, message = column
            value = _FLAGS.get(cells[index])
            if value is None:
                value = csvstream.number(cells[index])
                if value is not None and value != value:
                    value = -1                                       # empty: unknown
                elif value in (-1.0, 0.0, 1.0):
                    value = int(value)
                else:
                    problem = problem or (rank, number, message, line)
                    value = -1
            flags.append(value)
        xmin, xmax, ymin, ymax = array("f", box).tolist()
        return image_id, number, problem, (label, line, xmin, xmax, ymin, ymax, tuple(flags))


class _LabelReader(_RowReader):
    what, kind, row = "image labels CSV", "image-level label CSV", "label"
    required = LABEL_COLUMNS

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.confidence = self.records.columns.get("Confidence")     # none: all positive

    def parse(self, number: int, line: int, cells: list[str]) -> tuple:
        image_id, label, problem = self.identity(number, line, cells)
        confidence = 1.0
        if self.confidence is not None:
            confidence = csvstream.number(cells[self.confidence])
            if confidence is None or not 0 <= confidence <= 1:        # NaN fails too
                problem = problem or (2, number, "Confidence must be a number from 0 to 1",
                                      line)
                confidence = _NAN
        return image_id, number, problem, (label, array("f", (confidence,))[0])


class _Source:
    """One CSV's rows grouped by image, in ImageID order: read again from the file when it is
    in that order (Open Images' own files are), else from its rows sorted once (spilled to
    temporary files past SPILL_LIMIT rows)."""

    def __init__(self, reader, which: int, label_rows: dict, ids: _ImageCount) -> None:
        self.reader, self.path, self.which = reader, reader.path, which
        self.sorted: spill.SortedSpill | None = None
        if not self._scan(label_rows, ids, sort=False):
            self._scan(label_rows, ids, sort=True)

    def _scan(self, label_rows: dict, ids: _ImageCount, sort: bool) -> bool:
        """One pass: the labels' row counts and first lines, every ImageID (hashed, to count
        the images), every row into the sort when `sort`. False, early, when not `sort` and the
        rows are not in ImageID order."""
        reader, counts = self.reader, {}
        rows = spill.SortedSpill(SPILL_LIMIT) if sort else None
        previous = ""
        records = iter(reader.records)
        try:
            for number, (line, cells) in enumerate(records):
                image_id, label = cells[reader.image], cells[reader.label]
                if not image_id:
                    raise DataError("row without an ImageID", file=self.path, line=line)
                if label:
                    entry = counts.get(label)
                    if entry is None:
                        self._check_label(label, line)
                        counts[label] = [1, line, self.which]
                    else:
                        entry[0] += 1
                if rows is not None:
                    rows.add(reader.parse(number, line, cells))
                if image_id != previous:
                    if image_id < previous and rows is None:
                        return False             # (the ids seen are seen again: no harm)
                    ids.add(image_id)
                    previous = image_id
        except DataError:
            if rows is not None:
                rows.close()
            for _record in records:      # a file that cannot be read (a quote that never
                pass                     # closes) is reported before its rows, as pandas does
            raise
        for label, (count, line, which) in counts.items():
            entry = label_rows.get(label)
            if entry is None:
                label_rows[label] = [count, line, which]
            else:
                entry[0] += count
        self.sorted = rows.finish() if rows is not None else None
        return True

    def _check_label(self, label: str, line: int) -> None:
        """A LabelName with a control character stops the run before any image is read."""
        control = tables.control_character(label)
        if control is not None:
            raise DataError(f"LabelName {label!r} contains a control character ({control})",
                            file=self.path, line=line)

    def groups(self) -> Iterator[tuple[str, list[tuple]]]:
        if self.sorted is not None:
            rows = iter(self.sorted)
        else:
            parse = self.reader.parse
            rows = (parse(number, line, cells)
                    for number, (line, cells) in enumerate(self.reader.records))
        for image_id, group in itertools.groupby(rows, key=itemgetter(0)):
            yield image_id, list(group)

    def close(self) -> None:
        if self.sorted is not None:
            self.sorted.close()


def _image_files(folder: str, ids: _ImageCount) -> spill.SortedSpill:
    """(ImageID, IMAGE_EXTENSIONS index) of every image file in the folder, sorted: the
    earliest extension of an id first (.jpg wins, as the reference)."""
    preference = {extension: rank for rank, extension in enumerate(IMAGE_EXTENSIONS)}
    files = spill.SortedSpill(SPILL_LIMIT)
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, extension = os.path.splitext(entry.name)
                if extension in preference and entry.is_file():
                    files.add((stem, preference[extension]))
                    ids.add(stem)
    except OSError as exc:
        files.close()
        raise UsageError(f"--images-dir {folder}: {exc.strerror or exc}") from None
    return files.finish()


class _ImageCount:
    """How many different ImageIDs all sources name, in about 8 bytes an image: their hashes
    gathered in batches, each folded into one sorted array of distinct hashes (numpy, only
    for large sets)."""

    BATCH = 1 << 20

    def __init__(self) -> None:
        self.batch = array("q")
        self.seen = None                     # sorted distinct hashes, once a batch was full

    def add(self, image_id: str) -> None:
        self.batch.append(hash(image_id))
        if len(self.batch) >= self.BATCH:
            self._fold()

    def total(self) -> int:
        if self.seen is None:
            return len(set(self.batch))
        self._fold()
        return len(self.seen)

    def _fold(self) -> None:
        import numpy as np

        hashes = np.frombuffer(self.batch, dtype=np.int64)
        if self.seen is not None:
            hashes = np.concatenate((self.seen, hashes))
            self.seen = None
        else:
            hashes = hashes.copy()
        self.batch = array("q")
        hashes.sort()
        keep = np.empty(len(hashes), dtype=bool)
        keep[:1] = True
        np.not_equal(hashes[1:], hashes[:-1], out=keep[1:])
        self.seen = hashes[keep]


class _Index:
    """Everything one pass over the CSVs learns: the sources, the image files, the number of
    images and each label's row count and first line (label → [count, line, which CSV])."""

    def __init__(self, opts) -> None:
        if not os.path.isdir(opts.images_dir):
            raise UsageError(f"--images-dir {opts.images_dir}: no such folder")
        self.label_rows: dict[str, list[int]] = {}
        self.sources: list[_Source] = []
        self.files: spill.SortedSpill | None = None
        ids = _ImageCount()
        try:
            self.sources.append(_Source(_BoxReader(opts.annotations_csv), 0, self.label_rows,
                                        ids))
            if opts.image_labels_csv:
                self.sources.append(_Source(_LabelReader(opts.image_labels_csv), 1,
                                            self.label_rows, ids))
            if not opts.annotated_only:
                self.files = _image_files(opts.images_dir, ids)
        except BaseException:
            self.close()
            raise
        self.count = ids.total()

    def close(self) -> None:
        for source in self.sources:
            source.close()
        if self.files is not None:
            self.files.close()


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def _index(opts) -> _Index:
    """The index for these options, built once and reused by list_items and classes."""
    key = (opts.annotations_csv, opts.image_labels_csv, opts.images_dir, opts.annotated_only,
           SPILL_LIMIT,
           *(_stamp(p) for p in (opts.annotations_csv, opts.image_labels_csv, opts.images_dir)))
    with _cache_lock:
        if _cache.get("key") != key:
            if "index" in _cache:
                _cache.pop("index").close()
            _cache.clear()
            _cache["index"] = _Index(opts)
            _cache["key"] = key
        return _cache["index"]


def _stamp(path: str | None):
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


# -- items ---------------------------------------------------------------------------------
class OidItems:
    """The images in ImageID order, each item built as the CSVs stream past:
    (id, file, boxes, labels, bad). An item is small and self-contained (plain tuples), so it
    pickles to a worker process."""

    def __init__(self, index: _Index) -> None:
        self._index = index

    def __len__(self) -> int:
        return self._index.count

    def __iter__(self) -> Iterator[tuple]:
        index = self._index
        streams = [_tagged(source.groups(), source.which) for source in index.sources]
        if index.files is not None:
            streams.append(_tagged(((stem, next(ranks)[1]) for stem, ranks in
                                    itertools.groupby(index.files, key=itemgetter(0))), 2))
        paths = [source.path for source in index.sources]
        for image_id, parts in itertools.groupby(heapq.merge(*streams), key=itemgetter(0)):
            rows: list[list[tuple]] = [[], []]
            filename = None
            for _id, which, payload in parts:
                if which == 2:
                    filename = image_id + IMAGE_EXTENSIONS[payload]
                else:
                    rows[which] = payload
            yield _item(image_id, filename, rows, paths)


def _tagged(groups: Iterator[tuple[str, Any]], which: int) -> Iterator[tuple[str, int, Any]]:
    """(ImageID, which stream, payload): ids are distinct within a stream, so merged streams
    never compare payloads."""
    for image_id, payload in groups:
        yield image_id, which, payload


def _item(image_id: str, filename: str | None, rows: list[list[tuple]], paths: list[str]):
    """(id, file, box entries, label entries, None), or (id, file, (), (), (message, path,
    line)) for an image with a bad row (the box CSV's first)."""
    for which, group in enumerate(rows):
        problems = [row[2] for row in group if row[2] is not None]
        if problems:
            _rank, _number, message, line = min(problems)
            return image_id, filename, (), (), (message, paths[which], line)
    return (image_id, filename, tuple(row[3] for row in rows[0]),
            tuple(row[3] for row in rows[1]), None)


def list_items(opts) -> OidItems:
    return OidItems(_index(opts))


def read_item(item, opts) -> Sample:
    image_id, filename, boxes, labels, bad = item
    if bad is not None:
        message, path, line = bad
        shown = image_id if image_id.isprintable() else repr(image_id)
        raise DataError(f"image {shown}: {message}", file=path, line=line)
    filename = filename or _find_image(opts.images_dir, image_id)
    zero_unknown = opts.unknown_attributes == "zero"
    objects = []
    for label, _line, xmin, xmax, ymin, ymax, flags in boxes:
        attributes = {}
        for (_column, attr), value in zip(ATTRIBUTES, flags):
            if value is not None:
                attributes[attr] = 0 if (value == -1 and zero_unknown) else value
        objects.append(Object(label, xmin, ymin, xmax, ymax, **attributes))
    origin = f"{opts.annotations_csv}:{boxes[0][1]}" if boxes else None
    return Sample(
        source_id=image_id, filename=filename,
        image_path=os.path.join(opts.images_dir, filename), objects=objects,
        image_labels=[ImageLabel(label, confidence) for label, confidence in labels],
        normalized=True, shard_key=int(image_id, 16) if HEX_ID.fullmatch(image_id) else None,
        origin=origin, image_root=opts.images_dir)


def _find_image(folder: str, image_id: str) -> str:
    """<id> with the first image extension that exists; else <id>.jpg (then: missing image)."""
    for extension in IMAGE_EXTENSIONS:
        if os.path.isfile(os.path.join(folder, image_id + extension)):
            return image_id + extension
    return image_id + ".jpg"


# -- classes, label map, detection ---------------------------------------------------------
def classes(opts) -> dict[str, str]:
    """Every MID in the CSVs, with where it first occurs (for the label-map check)."""
    index = _index(opts)
    paths = (opts.annotations_csv, opts.image_labels_csv)
    out = {}
    for label, (count, line, which) in index.label_rows.items():
        out[label] = f"{count} rows, first {paths[which]}:{line}"
    return out


def default_label_map(opts):
    """The class descriptions as a label map (ids in file order), else one built from the data."""
    if not opts.class_descriptions:
        return None
    return read_class_descriptions(opts.class_descriptions)


def read_class_descriptions(path: str) -> LabelMap:
    """`MID,display name` rows (no header, or a LabelName,DisplayName header) → LabelMap."""
    records = csvstream.CsvRecords(path, "class descriptions")   # the "header": row 1
    width = len(records.header)
    if width < 2:
        raise DataError("class descriptions need two columns: MID,display name", file=path,
                        line=1)
    rows = [records.header[:2]]
    for _line, cells in records:          # all read first: a broken file is reported first
        if len(cells) > width:
            line, column, why = tables.malformed_place(path, f"Expected {width} fields") or (
                _line, None, f"a row has more than the first row's {width} fields")
            raise DataError(f"cannot read the class descriptions: {why}", file=path,
                            line=line, column=column)
        rows.append(cells[:2])
    items: list[LabelMapItem] = []
    seen: dict[str, int] = {}
    for line, (mid, name) in enumerate(rows, start=1):
        if line == 1 and str(mid).strip().lower() in ("labelname", "label_name", "mid"):
            continue
        if not isinstance(mid, str) or not mid.strip():
            raise DataError("row without a MID", file=path, line=line)
        mid = mid.strip()
        if mid in seen:
            raise DataError(f"MID {mid} appears twice (first on line {seen[mid]})", file=path,
                            line=line)
        seen[mid] = line
        display = name.strip() if isinstance(name, str) and name.strip() else None
        items.append(LabelMapItem(len(items) + 1, mid, display))
    if not items:
        raise DataError("the class descriptions list no class", file=path)
    return LabelMap(items, source=path)


def detect(path: str) -> Detection:
    if os.path.isfile(path):
        return _detect_csv(path)
    if not os.path.isdir(path):
        return Detection(0.0, f"{path} does not exist")
    csvs = sorted(n for n in os.listdir(path) if n.lower().endswith(".csv"))
    if not csvs:
        return Detection(0.0, f"no .csv file in {path} (Open Images needs a box annotations CSV)")
    best = max((_detect_csv(os.path.join(path, name)) for name in csvs),
               key=lambda found: found.confidence)
    if best.matched:
        return best
    return Detection(0.0, f"no CSV in {path} has the columns ImageID, LabelName, XMin, XMax, "
                     "YMin, YMax")


def _convert_options(box_csv: str) -> dict:
    """Options that convert a detected folder: the box CSV, the image folder named after its
    split (train-annotations-bbox.csv → train/), else images/ or the folder itself, and the
    class descriptions when a file of that name is beside it."""
    folder = os.path.dirname(box_csv) or "."
    split = os.path.basename(box_csv).split("-", 1)[0]
    images = next((os.path.join(folder, name) for name in (split, "images")
                   if os.path.isdir(os.path.join(folder, name))), folder)
    options = {"annotations_csv": box_csv, "images_dir": images}
    descriptions = sorted(n for n in os.listdir(folder) if "class-descriptions" in n
                          and n.endswith(".csv"))
    if descriptions:
        options["class_descriptions"] = os.path.join(folder, descriptions[0])
    return options


def _detect_csv(path: str) -> Detection:
    try:
        columns = tables.header(path, "CSV")
    except DataError as exc:
        return Detection(0.0, str(exc))
    if all(c in columns for c in BOX_COLUMNS):
        return Detection(0.95, f"{path} has the Open Images box columns (ImageID, LabelName, "
                         "XMin, XMax, YMin, YMax)", options=_convert_options(path))
    if all(c in columns for c in LABEL_COLUMNS) and "Confidence" in columns:
        return Detection(0.5, f"{path} is an Open Images image-level label CSV (no boxes)")
    return Detection(0.0, f"{path} lacks the Open Images columns ImageID, LabelName, XMin, "
                     "XMax, YMin, YMax")


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="oid",
        help="Open Images CSVs (boxes, image-level labels, class descriptions)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        default_label_map=default_label_map,
        classes=classes,
    ))
