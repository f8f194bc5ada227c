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

The CSVs are read in chunks into a compact columnar index (integer codes, float32 boxes, int8
flags: 33 bytes a box row, plus the image ids) instead of one pandas frame grouped by image;
items are built one image at a time from it, so memory follows the number of box rows (about
100 bytes of peak a row, half the cost of reading the whole CSV with pandas) and never the
images.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
    hookimpl,
    tables,
)

BOX_COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")
LABEL_COLUMNS = ("ImageID", "LabelName")
# CSV column → Object attribute; each written only when its column exists.
ATTRIBUTES = (("IsOccluded", "occluded"), ("IsTruncated", "truncated"), ("IsGroupOf", "group_of"),
              ("IsDepiction", "depiction"), ("IsInside", "inside"))
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
CHUNK_ROWS = 1 << 18
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


# -- the index -----------------------------------------------------------------------------
class _Codes:
    """Strings → dense integer codes, shared by all chunks and both CSVs."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def add(self, name: str) -> int:
        code = self.index.get(name)
        if code is None:
            code = self.index[name] = len(self.names)
            self.names.append(name)
        return code

    def encode(self, values):
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        table = np.fromiter((self.add(str(u)) for u in uniques), dtype=np.int32,
                            count=len(uniques))
        out = np.full(len(codes), -1, dtype=np.int32)          # -1: an empty cell
        known = codes >= 0
        out[known] = table[codes[known]]
        return out


@dataclass
class _Rows:
    """One CSV as columns, sorted by image (stable: rows keep their file order per image)."""

    path: str
    image: Any                # int32 image codes
    label: Any                # int32 label codes
    line: Any                 # int32 CSV line of each row
    values: dict[str, Any]    # column → array (boxes: float32 coordinates, int8 flags)
    starts: Any = None        # per image rank r: rows starts[r]:starts[r + 1]

    def sort(self, rank) -> None:
        """Group rows by image rank, column by column so only one extra column is alive."""
        import numpy as np

        keys = rank[self.image]
        if len(keys) and not (keys[1:] >= keys[:-1]).all():   # the real files are in order
            order = np.argsort(keys, kind="stable")
            del keys
            self.image = self.image[order]
            self.label = self.label[order]
            self.line = self.line[order]
            for column in list(self.values):
                self.values[column] = self.values[column][order]
            del order
            keys = rank[self.image]
        self.starts = np.searchsorted(keys, np.arange(len(rank) + 1))


@dataclass
class _Index:
    images: _Codes
    labels: _Codes
    boxes: _Rows
    image_labels: _Rows | None
    ranked: Any                       # int32 image codes in ImageID order (pandas' groupby)
    extensions: Any                   # int8 per image code: IMAGE_EXTENSIONS index, or -1
    bad_rows: dict[int, tuple[str, str, int]]   # image code → (message, file, line)
    label_rows: dict[int, list[int]]  # label code → [row count, first line, which CSV (0/1)]


def _read_boxes(path: str, images: _Codes, labels: _Codes, bad: dict, label_rows: dict) -> _Rows:
    import numpy as np

    own_bad: dict[int, tuple[str, str, int]] = {}
    columns = tables.header(path, "box annotations CSV")
    missing = [c for c in BOX_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"not an Open Images box CSV: no column {', '.join(missing)} (found: "
                        f"{', '.join(columns[:12])})", file=path, line=1)
    present = [c for c, _attr in ATTRIBUTES if c in columns]
    parts: dict[str, list] = {k: [] for k in ("image", "label", "line", *BOX_COLUMNS[2:],
                                                 *present)}
    chunks = tables.chunks(path, "box annotations CSV", CHUNK_ROWS,
                            usecols=list(BOX_COLUMNS) + present,
                            dtype={"ImageID": str, "LabelName": str})
    for first, frame in chunks:
        lines = np.arange(first, first + len(frame), dtype=np.int32)
        image, problems = _image_codes(frame, images, path, lines)
        label = _label_codes(frame, labels, path, lines)
        no_label = frame["LabelName"].isna().to_numpy()
        problems.append((no_label, "box row without a LabelName"))
        for column in BOX_COLUMNS[2:]:
            values, not_number = tables.numbers(frame[column])
            problems.append((not_number, f"{column} is not a number"))
            problems.append((np.isnan(values) & ~not_number, f"box row without {column}"))
            parts[column].append(values.astype(np.float32))
        for column in present:
            values, not_number = tables.numbers(frame[column])
            values = np.where(np.isnan(values), -1.0, values)       # empty = unknown
            invalid = not_number | ~np.isin(values, (-1.0, 0.0, 1.0))
            problems.append((invalid, f"{column} must be 0, 1 or -1 (unknown)"))
            parts[column].append(np.where(invalid, -1, values).astype(np.int8))
        _flag_rows(problems, image, lines, path, own_bad)
        _count_labels(label, lines, label_rows, 0)
        parts["image"].append(image)
        parts["label"].append(label)
        parts["line"].append(lines)
    _renumber_lines(path, parts["line"], own_bad, label_rows, 0)
    for code, entry in own_bad.items():
        bad.setdefault(code, entry)
    return _columns(path, parts, BOX_COLUMNS[2:] + tuple(present))


def _flag_rows(problems, image, lines, path: str, bad: dict) -> None:
    """Mark the image of each row a problem mask selects as bad (its first problem kept)."""
    import numpy as np

    for mask, message in problems:
        for row in np.flatnonzero(mask):
            bad.setdefault(int(image[row]), (message, path, int(lines[row])))


def _read_image_labels(path: str, images: _Codes, labels: _Codes, bad: dict,
                       label_rows: dict) -> _Rows:
    import numpy as np

    columns = tables.header(path, "image labels CSV")
    missing = [c for c in LABEL_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"not an Open Images image-level label CSV: no column "
                        f"{', '.join(missing)} (found: {', '.join(columns[:12])})",
                        file=path, line=1)
    own_bad: dict[int, tuple[str, str, int]] = {}
    usecols = list(LABEL_COLUMNS) + (["Confidence"] if "Confidence" in columns else [])
    parts: dict[str, list] = {"image": [], "label": [], "line": [], "Confidence": []}
    for first, frame in tables.chunks(path, "image labels CSV", CHUNK_ROWS, usecols=usecols,
                                       dtype={"ImageID": str, "LabelName": str}):
        lines = np.arange(first, first + len(frame), dtype=np.int32)
        image, problems = _image_codes(frame, images, path, lines)
        label = _label_codes(frame, labels, path, lines)
        problems.append((frame["LabelName"].isna().to_numpy(), "label row without a LabelName"))
        if "Confidence" in frame:
            confidence, not_number = tables.numbers(frame["Confidence"])
            invalid = not_number | np.isnan(confidence) | (confidence < 0) | (confidence > 1)
            problems.append((invalid, "Confidence must be a number from 0 to 1"))
        else:
            confidence = np.ones(len(frame))                       # no column: all positive
        _flag_rows(problems, image, lines, path, own_bad)
        _count_labels(label, lines, label_rows, 1)
        parts["image"].append(image)
        parts["label"].append(label)
        parts["line"].append(lines)
        parts["Confidence"].append(confidence.astype(np.float32))
    _renumber_lines(path, parts["line"], own_bad, label_rows, 1)
    for code, entry in own_bad.items():
        bad.setdefault(code, entry)
    return _columns(path, parts, ("Confidence",))


def _image_codes(frame, images: _Codes, path: str, lines) -> tuple[Any, list]:
    """The rows' image codes, and the problem of rows whose ImageID no file can have (a NUL)."""
    import numpy as np

    ids = frame["ImageID"]
    empty = ids.isna().to_numpy()
    if empty.any():
        line = tables.line_of_row(path, int(lines[empty.argmax()]) - 2)
        raise DataError("row without an ImageID", file=path, line=line)
    known = len(images.names)
    codes = images.encode(ids)
    added = images.names[known:]           # checked once per distinct id, joined: cheap
    unusable = [known + i for i, name in enumerate(added) if "\x00" in name] \
        if "\x00" in "".join(added) else []
    return codes, [(np.isin(codes, unusable), "the ImageID contains a NUL byte")]


def _label_codes(frame, labels: _Codes, path: str, lines):
    """The rows' label codes; a LabelName with a control character stops the run (the label
    map is checked against the labels before any image is read)."""
    known = len(labels.names)
    codes = labels.encode(frame["LabelName"])
    for offset, name in enumerate(labels.names[known:]):
        control = tables.control_character(name)
        if control is not None:
            row = int((codes == known + offset).argmax())
            raise DataError(f"LabelName {name!r} contains a control character ({control})",
                            file=path, line=tables.line_of_row(path, int(lines[row]) - 2))
    return codes


def _renumber_lines(path: str, lines: list, bad: dict, label_rows: dict, which: int) -> None:
    """Rows were numbered as if each were on its own line; where blank lines or quoted line
    breaks moved them, put the lines an editor shows in their place."""
    rows = sum(len(chunk) for chunk in lines)
    table = tables.row_lines(path, rows)
    if not rows or table[-1] == rows + 1:
        return
    for number, chunk in enumerate(lines):
        lines[number] = table[chunk - 2].astype(chunk.dtype)
    for code, (message, where, line) in bad.items():
        bad[code] = (message, where, int(table[line - 2]))
    for entry in label_rows.values():
        if entry[2] == which:
            entry[1] = int(table[entry[1] - 2])


def _count_labels(label, lines, label_rows: dict, which: int) -> None:
    import numpy as np

    codes, first, counts = np.unique(label, return_index=True, return_counts=True)
    for code, index, count in zip(codes.tolist(), first.tolist(), counts.tolist()):
        if code < 0:
            continue
        entry = label_rows.get(code)
        if entry is None:
            label_rows[code] = [count, int(lines[index]), which]
        else:
            entry[0] += count


def _columns(path: str, parts: dict[str, list], value_columns: Sequence[str]) -> _Rows:
    import numpy as np

    def joined(key, dtype):
        chunks = parts.pop(key)                # the chunks go as soon as they are joined
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)

    return _Rows(path, joined("image", np.int32), joined("label", np.int32),
                 joined("line", np.int32),
                 {c: joined(c, np.float32) for c in value_columns})


def _scan_images(folder: str, images: _Codes):
    """Per image code, the IMAGE_EXTENSIONS index of its file in the folder (-1: none found).
    With several files for one id the earliest extension wins: .jpg, as the reference."""
    from array import array

    import numpy as np

    preference = {extension: rank for rank, extension in enumerate(IMAGE_EXTENSIONS)}
    codes, ranks = array("i"), array("b")           # compact: a folder may hold millions
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, extension = os.path.splitext(entry.name)
                if extension in preference and entry.is_file():
                    codes.append(images.add(stem))
                    ranks.append(preference[extension])
    except OSError as exc:
        raise UsageError(f"--images-dir {folder}: {exc.strerror or exc}") from None
    found = np.full(len(images.names), len(IMAGE_EXTENSIONS), dtype=np.int8)
    np.minimum.at(found, np.frombuffer(codes, dtype=np.int32),
                  np.frombuffer(ranks, dtype=np.int8))
    found[found == len(IMAGE_EXTENSIONS)] = -1
    return found


def _build_index(opts) -> _Index:
    import numpy as np

    if not os.path.isdir(opts.images_dir):
        raise UsageError(f"--images-dir {opts.images_dir}: no such folder")
    images, labels = _Codes(), _Codes()
    bad: dict[int, tuple[str, str, int]] = {}
    label_rows: dict[int, list[int]] = {}
    boxes = _read_boxes(opts.annotations_csv, images, labels, bad, label_rows)
    image_labels = None
    if opts.image_labels_csv:
        image_labels = _read_image_labels(opts.image_labels_csv, images, labels, bad, label_rows)
    extensions = None if opts.annotated_only else _scan_images(opts.images_dir, images)
    ranked = np.asarray(sorted(range(len(images.names)), key=images.names.__getitem__),
                        dtype=np.int32)
    rank = np.empty(len(ranked), dtype=np.int64)
    rank[ranked] = np.arange(len(ranked))
    boxes.sort(rank)
    if image_labels is not None:
        image_labels.sort(rank)
    images.index = {}                    # only needed while reading; ~100 bytes an image
    return _Index(images, labels, boxes, image_labels, ranked, extensions, bad, label_rows)


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def _index(opts) -> _Index:
    """The index for these options, built once and reused by list_items and classes."""
    key = (opts.annotations_csv, opts.image_labels_csv, opts.images_dir, opts.annotated_only,
           *(_stamp(p) for p in (opts.annotations_csv, opts.image_labels_csv, opts.images_dir)))
    with _cache_lock:
        if _cache.get("key") != key:
            _cache.clear()
            _cache["index"] = _build_index(opts)
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
class OidItems(Sequence):
    """The images in ImageID order, each item built on demand: (id, file, boxes, labels, bad).

    An item is small and self-contained (plain tuples), so it pickles to a worker process.
    """

    def __init__(self, index: _Index) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.ranked)

    def __getitem__(self, rank):
        if isinstance(rank, slice):
            return [self[i] for i in range(*rank.indices(len(self)))]
        index = self._index
        code = int(index.ranked[rank])
        image_id = index.images.names[code]
        filename = None
        if index.extensions is not None and index.extensions[code] >= 0:
            filename = image_id + IMAGE_EXTENSIONS[index.extensions[code]]
        bad = index.bad_rows.get(code)
        if bad is not None:                    # the image's rows are not used: no need to read
            return image_id, filename, (), (), bad
        return image_id, filename, _box_rows(index, rank), _label_rows(index, rank), None

    def __iter__(self) -> Iterator[tuple]:
        for rank in range(len(self)):
            yield self[rank]


def _box_rows(index: _Index, rank: int) -> tuple:
    """(label, line, xmin, xmax, ymin, ymax, flags) per box row of the image, in file order."""
    rows = index.boxes
    start, stop = int(rows.starts[rank]), int(rows.starts[rank + 1])
    if start == stop:
        return ()
    names = index.labels.names
    window = slice(start, stop)
    coords = [rows.values[c][window].tolist() for c in ("XMin", "XMax", "YMin", "YMax")]
    flags = [rows.values[c][window].tolist() if c in rows.values else [None] * (stop - start)
             for c, _attr in ATTRIBUTES]
    return tuple((names[label], line, *box, flag)
                 for label, line, box, flag in zip(rows.label[window].tolist(),
                                                   rows.line[window].tolist(), zip(*coords),
                                                   zip(*flags)))


def _label_rows(index: _Index, rank: int) -> tuple:
    rows = index.image_labels
    if rows is None:
        return ()
    window = slice(int(rows.starts[rank]), int(rows.starts[rank + 1]))
    names = index.labels.names
    return tuple((names[label], confidence) for label, confidence in
                 zip(rows.label[window].tolist(), rows.values["Confidence"][window].tolist()))


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
    for code, (count, line, which) in index.label_rows.items():
        out[index.labels.names[code]] = f"{count} rows, first {paths[which]}:{line}"
    return out


def default_label_map(opts):
    """The class descriptions as a label map (ids in file order), else one built from the data."""
    if not opts.class_descriptions:
        return None
    return read_class_descriptions(opts.class_descriptions)


def read_class_descriptions(path: str) -> LabelMap:
    """`MID,display name` rows (no header, or a LabelName,DisplayName header) → LabelMap."""
    frame = tables.read(path, "class descriptions", header=None, dtype=str)
    if frame.shape[1] < 2:
        raise DataError("class descriptions need two columns: MID,display name", file=path,
                        line=1)
    rows = frame.iloc[:, :2].itertuples(index=False, name=None)
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
