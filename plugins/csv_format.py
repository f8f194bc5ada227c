"""CSV (the community `generate_tfrecord.py` convention): `tfrconv csv --csv-file labels.csv
--image-dir images --output train.record`.

One row per box: `filename,width,height,class,xmin,ymin,xmax,ymax` in pixels (as labelImg's
xml_to_csv.py, Roboflow and many tutorials write it); rows of one file make one example.
`xmin_rel, ymin_rel, xmax_rel, ymax_rel` (0..1) win when all four exist, `--relative` reads the
plain columns as 0..1, and `--columns class=label,filename=image` maps other column names.
A row with a file name and no class or coordinates is an image without objects (a negative).

Features equal the community script's on data both can read, except `image/format`, which is the
true format (the script writes `jpg` for everything). The label map is `--label-map`, else built
from the classes present (sorted, ids from 1) and written beside the output; a class missing from
the given map is one clear error naming the CSV lines, before any image is read, instead of the
scripts' `TypeError: None`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    Object,
    Option,
    Sample,
    UsageError,
    hookimpl,
    tables,
)

FIELDS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax",
          "xmin_rel", "ymin_rel", "xmax_rel", "ymax_rel")
PIXEL_BOX = ("xmin", "ymin", "xmax", "ymax")
RELATIVE_BOX = ("xmin_rel", "ymin_rel", "xmax_rel", "ymax_rel")
SHOWN_LINES = 5

OPTIONS = (
    Option("csv_file", "the CSV: one row per box, filename,width,height,class,xmin,ymin,xmax,"
           "ymax", "path", required=True, metavar="CSV"),
    Option("image_dir", "folder the file names are relative to", "path", required=True,
           metavar="DIR"),
    Option("columns", "map fields to your column names: FIELD=COLUMN,... (fields: "
           + ", ".join(FIELDS) + ")", "list", metavar="FIELD=COLUMN,..."),
    Option("relative", "xmin, ymin, xmax, ymax are 0..1 fractions of the image, not pixels",
           "bool", default=False),
)


# -- columns -------------------------------------------------------------------------------
def column_names(opts) -> dict[str, str]:
    """Field → column name: the convention, with --columns applied."""
    names = {field: field for field in FIELDS}
    for pair in opts.columns or ():
        field, sep, column = pair.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise UsageError(f"--columns: {pair!r} is not FIELD=COLUMN")
        if field not in FIELDS:
            raise UsageError(f"--columns: unknown field {field!r} (fields: {', '.join(FIELDS)})")
        names[field] = column
    return names


def _layout(path: str, opts) -> tuple[dict[str, str], bool]:
    """The columns to read (field → column in the file) and whether boxes are 0..1."""
    header = tables.header(path, "CSV")
    stripped = {name.strip(): name for name in header}
    wanted = column_names(opts)
    found = {field: stripped[column] for field, column in wanted.items() if column in stripped}
    relative_columns = all(f in found for f in RELATIVE_BOX)
    needed = ["filename", "class"] + ([] if relative_columns else list(PIXEL_BOX))
    missing = [f for f in needed if f not in found]
    if missing:
        listed = ", ".join(repr(wanted[f]) for f in missing)
        raise DataError(f"no column {listed} (columns: {', '.join(header[:15])}); expected "
                        "filename,width,height,class,xmin,ymin,xmax,ymax or map yours with "
                        "--columns FIELD=COLUMN", file=path, line=1)
    box = RELATIVE_BOX if relative_columns else PIXEL_BOX
    keep = ["filename", "class", *box] + [f for f in ("width", "height") if f in found]
    return {f: found[f] for f in keep}, relative_columns or bool(opts.relative)


# -- parsing -------------------------------------------------------------------------------
def _parse(opts) -> dict[str, Any]:
    """Read the CSV once: items grouped by file (sorted by name, as the script's groupby) and
    each class's lines. A small plain file is read without pandas (`tables.small_rows`)."""
    path = opts.csv_file
    columns, normalized = _layout(path, opts)
    small = tables.small_rows(path)
    table = None if small is None else _small_table(small, columns)
    if table is None:
        table = _pandas_table(path, columns)
    return _grouped(path, columns, normalized, *table)


def _small_table(small, columns: dict[str, str]):
    """(filenames, labels, coords, not_number, lines) from the csv module's records, as the
    pandas reading gives them; None when a cell needs pandas (an empty file name, a number
    that is not plain)."""
    head, rows = small
    index = {name: i for i, name in enumerate(head)}
    filenames = [row[index[columns["filename"]]].strip() for row in rows]
    if "" in filenames:
        return None                       # pandas' reading names the line in its error
    labels = [row[index[columns["class"]]].strip() or None for row in rows]
    coords, not_number = {}, {}
    for field in _number_fields(columns):
        values = tables.plain_numbers([row[index[columns[field]]] for row in rows])
        if values is None:
            return None
        coords[field], not_number[field] = values, [False] * len(rows)
    return filenames, labels, coords, not_number, range(2, len(rows) + 2)


def _number_fields(columns: dict[str, str]) -> list[str]:
    return [f for f in columns if f.startswith(("xmin", "ymin", "xmax", "ymax"))] + \
        [f for f in ("width", "height") if f in columns]


def _pandas_table(path: str, columns: dict[str, str]):
    """(filenames, labels, coords, not_number, lines) read by pandas."""
    import numpy as np

    # Every column is read (no usecols), so a row with extra fields, typically an unquoted comma
    # in a class name, is an error naming its line instead of being silently cut.
    frame = tables.read(path, "CSV", dtype=str, index_col=False)
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise DataError("the CSV has a header but no rows", file=path, line=1)
    lines = tables.row_lines(path, len(frame))
    filenames = frame[columns["filename"]].str.strip()
    empty_name = filenames.isna() | (filenames == "")
    if empty_name.any():
        raise DataError("row without a filename", file=path, line=int(lines[empty_name.argmax()]))
    labels = frame[columns["class"]].str.strip().replace("", np.nan)
    coords, not_number = {}, {}
    for field in _number_fields(columns):
        coords[field], not_number[field] = tables.numbers(frame[columns[field]])
    return filenames.tolist(), labels.tolist(), coords, not_number, lines.tolist()


def _grouped(path: str, columns: dict[str, str], normalized: bool, filenames, labels, coords,
             not_number, lines) -> dict[str, Any]:
    box_fields = [f for f in columns if f.startswith(("xmin", "ymin", "xmax", "ymax"))]
    groups: dict[str, dict[str, Any]] = {}
    where: dict[str, list[int]] = {}
    for row, (filename, label) in enumerate(zip(filenames, labels)):
        line = int(lines[row])
        group = groups.setdefault(filename, {"line": line, "boxes": [], "size": None,
                                             "error": None})
        check_class_name(label, path, line)
        error = ("the file name contains a NUL byte" if "\x00" in filename
                 else _row_error(row, label, box_fields, columns, coords, not_number))
        size = _row_size(row, coords, not_number, columns)
        if error is None and isinstance(size, str):
            error = size
        elif error is None and size is not None:
            if group["size"] is not None and group["size"][0] != size:
                error = (f"the rows disagree on the image size ({group['size'][0][0]}x"
                         f"{group['size'][0][1]} on line {group['size'][1]})")
            group["size"] = group["size"] or (size, line)
        if isinstance(label, str):        # even on a bad row: the label map must know it
            where.setdefault(label, []).append(line)
        if error is not None:
            group["error"] = group["error"] or (error, line)
        elif isinstance(label, str):
            group["boxes"].append((line, label, *(float(coords[f][row]) for f in box_fields)))
    items = []
    for filename in sorted(groups):
        group = groups[filename]
        size = group["size"][0] if group["size"] else (None, None)
        items.append((filename, group["line"], *size, tuple(group["boxes"]), group["error"]))
    return {"items": items, "where": where, "normalized": normalized}


def check_class_name(label, path: str, line: int) -> None:
    """A class with a control character stops the run: the label map is built from the classes
    before any image is read, so skipping its image could not keep the name out of it."""
    control = tables.control_character(label) if isinstance(label, str) else None
    if control is not None:
        raise DataError(f"class {label!r} contains a control character ({control})", file=path,
                        line=line)


def _row_error(row, label, box_fields, columns, coords, not_number) -> str | None:
    import math

    for field in box_fields:
        if not_number[field][row]:
            return f"{columns[field]} is not a number"
    present = [not math.isnan(coords[f][row]) for f in box_fields]
    if not isinstance(label, str):
        return None if not any(present) else "a box without a class"
    if not all(present):
        missing = [columns[f] for f, ok in zip(box_fields, present) if not ok]
        return f"class {label!r} has no {', '.join(missing)}"
    return None


def _row_size(row, coords, not_number, columns):
    """(width, height) the row states; None when it states none (0 or empty, as VIA writes);
    a message when it is not a whole number."""
    import math

    if "width" not in coords or "height" not in coords:
        return None
    values = []
    for field in ("width", "height"):
        value = coords[field][row]
        if not_number[field][row] or (not math.isnan(value) and not float(value).is_integer()):
            return f"{columns[field]} is not a whole number of pixels"
        values.append(None if math.isnan(value) or value <= 0 else int(value))
    return None if None in values else tuple(values)


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def _parsed(opts) -> dict[str, Any]:
    try:
        info = os.stat(opts.csv_file)
        stamp = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = None
    key = (opts.csv_file, stamp, tuple(opts.columns or ()), opts.relative)
    with _cache_lock:
        if _cache.get("key") != key:
            _cache.clear()
            _cache["parsed"] = _parse(opts)
            _cache["key"] = key
        return _cache["parsed"]


# -- the format ----------------------------------------------------------------------------
def list_items(opts) -> list[tuple]:
    if not os.path.isdir(opts.image_dir):
        raise UsageError(f"--image-dir {opts.image_dir}: no such folder")
    parsed = _parsed(opts)
    return [(*item, parsed["normalized"]) for item in parsed["items"]]


def read_item(item, opts) -> Sample:
    filename, line, width, height, boxes, error, normalized = item
    if error is not None:
        message, error_line = error
        shown = filename if filename.isprintable() else repr(filename)
        raise DataError(f"{shown}: {message}", file=opts.csv_file, line=error_line)
    objects = [Object(label, xmin, ymin, xmax, ymax)
               for _line, label, xmin, ymin, xmax, ymax in boxes]
    return Sample(source_id=filename, filename=filename,
                  image_path=os.path.join(opts.image_dir, filename), width=width, height=height,
                  objects=objects, normalized=normalized, origin=f"{opts.csv_file}:{line}",
                  image_root=opts.image_dir)


def classes(opts) -> dict[str, str]:
    """Class → the CSV lines it is on, so a label-map mismatch can name them."""
    out = {}
    for label, lines in _parsed(opts)["where"].items():
        shown = ", ".join(map(str, lines[:SHOWN_LINES]))
        more = f" and {len(lines) - SHOWN_LINES} more" if len(lines) > SHOWN_LINES else ""
        out[label] = f"{opts.csv_file} line{'s' if len(lines) > 1 else ''} {shown}{more}"
    return out


def detect(path: str) -> Detection:
    if os.path.isfile(path):
        return _detect_csv(path)
    if not os.path.isdir(path):
        return Detection(0.0, f"{path} does not exist")
    csvs = sorted(n for n in os.listdir(path) if n.lower().endswith(".csv"))
    if not csvs:
        return Detection(0.0, f"no .csv file in {path}")
    for name in csvs:
        found = _detect_csv(os.path.join(path, name))
        if found.matched:
            return found
    return Detection(0.0, f"no CSV in {path} has the columns filename, class, xmin, ymin, xmax, "
                     "ymax")


def _detect_csv(path: str) -> Detection:
    try:
        header = {c.strip() for c in tables.header(path, "CSV")}
    except DataError as exc:
        return Detection(0.0, str(exc))
    has_box = set(PIXEL_BOX) <= header or set(RELATIVE_BOX) <= header
    if {"filename", "class"} <= header and has_box:
        sized = {"width", "height"} <= header
        folder = os.path.dirname(path) or "."
        images = os.path.join(folder, "images")
        return Detection(0.9 if sized else 0.8, f"{path} has the generate_tfrecord.py columns "
                         "(filename, class, xmin, ymin, xmax, ymax)",
                         options={"csv_file": path,
                                  "image_dir": images if os.path.isdir(images) else folder})
    return Detection(0.0, f"{path} lacks the columns filename, class, xmin, ymin, xmax, ymax "
                     "(another layout can be read with --columns)")


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="csv",
        help="CSV, one row per box (generate_tfrecord.py convention, or your columns)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        classes=classes,
    ))
