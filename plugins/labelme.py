"""LabelMe: `tfrconv labelme --data-dir DIR --output labelme.record`.

One LabelMe JSON per image anywhere under DIR (subfolders included, in sorted order), as the
labelme tool saves them: `shapes` (label, points, shape_type, group_id, flags), `imagePath`
(relative to the JSON), `imageData` (the image itself, base64, or null) and
`imageHeight`/`imageWidth`. Rectangles and polygons become objects (a polygon's box is its
extent); shapes sharing a label and a non-null `group_id` are one object (one box around them,
one mask); circles, lines, points, line strips and masks are not detection objects and are left
out (docs/formats/labelme.md). With --include-masks, polygons and rectangles are also written as
instance masks at the annotated image size. The image is `imageData` when the JSON embeds it
(as labelme itself reads it), else the file at `imagePath`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from typing import Any, NamedTuple

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    Object,
    Option,
    Sample,
    UsageError,
    hookimpl,
    masks,
    open_dataset_file,
    read_dataset_file,
)

OPTIONS = (
    Option("data_dir", "folder of LabelMe .json files (subfolders included); each names its "
           "image by imagePath or embeds it as imageData", "path", required=True,
           metavar="DIR"),
    Option("include_masks", "write instance masks (PNG, values 0/1) from polygons and "
           "rectangles", "bool", default=False),
)

BOX_SHAPES = frozenset({"rectangle", "polygon"})
# labelme's other shape types: no area to box (line, point, linestrip, points), or not a box
# the tool drew (circle, mask). Left out of the records, as the format page says.
OTHER_SHAPES = frozenset({"circle", "line", "point", "points", "linestrip", "mask"})


# -- listing -------------------------------------------------------------------------------
def data_dir(opts) -> str:
    if not os.path.isdir(opts.data_dir):
        raise UsageError(f"--data-dir {opts.data_dir}: no such folder")
    return opts.data_dir


def list_items(opts) -> list[str]:
    """Every .json file under the folder, as a path relative to it ('/'-separated), sorted
    folder by folder; hidden files and folders are left out, symlinked folders not followed,
    and so are tfrconv's own manifests (an output written inside the dataset)."""
    root = data_dir(opts)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = os.path.relpath(folder, root)
        for name in sorted(files):
            if name.lower().endswith(".json") and not name.startswith(".") and \
                    not name.endswith(".manifest.json"):
                found.append(name if relative == "." else
                             f"{relative.replace(os.sep, '/')}/{name}")
    if not found:
        raise DataError("no LabelMe .json files in this folder or its subfolders", file=root)
    return found


# -- reading one JSON ----------------------------------------------------------------------
class Shape(NamedTuple):
    label: str
    kind: str
    points: list[tuple[float, float]]
    group: Any


def read_item(item: str, opts) -> Sample:
    path = os.path.join(opts.data_dir, item)
    text = read_text(path)
    doc = parse_json(text, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise DataError("not a LabelMe annotation: no 'shapes' list", file=path)
    width = _dimension(doc, "imageWidth", path)
    height = _dimension(doc, "imageHeight", path)
    if opts.include_masks and (width is None or height is None):
        raise DataError("no imageWidth and imageHeight, which --include-masks needs", file=path)
    shapes = [_shape(entry, number, text, path) for number, entry in enumerate(doc["shapes"])]
    objects = [_object(group, width, height, opts.include_masks, path)
               for group in _instances(shapes)]

    image_path = doc.get("imagePath")
    if image_path is not None and (not isinstance(image_path, str) or "\x00" in image_path):
        raise DataError(f"imagePath must be a file name, found {image_path!r:.60}", file=path)
    json_dir = os.path.dirname(item)
    relative = _image_relative(json_dir, image_path) if image_path else None
    source_id = relative or item
    filename = os.path.basename(relative) if relative else os.path.basename(item)
    embedded = doc.get("imageData")
    if embedded is not None:
        return Sample(source_id=source_id, filename=filename,
                      image_bytes=_decode_image_data(embedded, path), width=width,
                      height=height, objects=objects, origin=path)
    if not image_path:
        raise DataError("neither imagePath nor imageData names the image", file=path)
    return Sample(source_id=source_id, filename=filename,
                  image_path=os.path.join(opts.data_dir, *relative.split("/")), width=width,
                  height=height, objects=objects, origin=path, image_root=opts.data_dir)


def read_text(path: str) -> str:
    try:
        data = read_dataset_file(path)
    except OSError as exc:
        raise DataError(f"cannot read the annotation: {exc.strerror or exc}", file=path) \
            from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", errors="replace")) + 1
        raise DataError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); a LabelMe file is "
                        "JSON", file=path, line=data.count(b"\n", 0, exc.start) + 1,
                        column=column) from None


def parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno,
                        column=exc.colno) from None
    except (RecursionError, ValueError) as exc:
        raise DataError(f"not valid JSON: {type(exc).__name__}", file=path) from None


def _dimension(doc: dict, key: str, path: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1 or \
            not float(value).is_integer():
        raise DataError(f"{key} must be a positive integer, found {value!r:.40}", file=path)
    return int(value)


def _image_relative(json_dir: str, image_path: str) -> str:
    """imagePath (relative to the JSON; Windows separators too) as a '/'-separated path
    relative to the data folder; '..' parts are kept for the core's outside-the-folder check."""
    joined = os.path.normpath(os.path.join(json_dir, image_path.replace("\\", "/")))
    return joined.replace(os.sep, "/")


def _decode_image_data(value: Any, path: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise DataError("imageData must be the image as a base64 string, or null", file=path)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DataError("imageData is not valid base64", file=path) from None


def _shape(entry: Any, number: int, text: str, path: str) -> Shape | None:
    """One entry of shapes[]; None for the shape types that are not detection objects."""

    def fail(message: str):
        raise DataError(f"shapes[{number}]{label_part}: {message}", file=path,
                        line=shape_line(text, number))

    label_part = ""
    if not isinstance(entry, dict):
        fail("must be an object")
    label = entry.get("label")
    if isinstance(label, str) and label.strip():
        label_part = f" ({label.strip()!r:.60})"
    kind = entry.get("shape_type") or "polygon"      # labelme's default for old files
    if kind in OTHER_SHAPES:
        return None
    if kind not in BOX_SHAPES:
        fail(f"unknown shape_type {kind!r:.40}")
    if not label_part:
        fail("no label")
    raw = entry.get("points")
    points = []
    for point in raw if isinstance(raw, list) else [None]:
        if not (isinstance(point, list) and len(point) == 2 and
                all(_finite(v) for v in point)):
            fail(f"points must be [x, y] pairs of numbers, found {point!r:.40}")
        points.append((float(point[0]), float(point[1])))
    needed = 2 if kind == "rectangle" else 3
    if len(points) < needed:
        fail(f"a {kind} needs at least {needed} points, found {len(points)}")
    return Shape(label.strip(), kind, points, entry.get("group_id"))


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and \
        math.isfinite(value)


def _instances(shapes: list[Shape | None]) -> list[list[Shape]]:
    """Shapes grouped into objects: one per shape, except that shapes with the same label and
    group_id (labelme's way of drawing one object in parts) are one, where the first is."""
    groups: dict[Any, list[Shape]] = {}
    ordered: list[list[Shape]] = []
    for shape in shapes:
        if shape is None:
            continue
        if shape.group is None:
            ordered.append([shape])
            continue
        key = (shape.label, json.dumps(shape.group, sort_keys=True))
        if key not in groups:
            groups[key] = []
            ordered.append(groups[key])
        groups[key].append(shape)
    return ordered


def _object(parts: list[Shape], width, height, include_masks: bool, path: str) -> Object:
    xs = [x for shape in parts for x, _ in shape.points]
    ys = [y for shape in parts for _, y in shape.points]
    mask = _mask(parts, width, height, path) if include_masks else None
    return Object(parts[0].label, min(xs), min(ys), max(xs), max(ys), mask=mask)


def _mask(parts: list[Shape], width: int, height: int, path: str):
    """The union of the parts' polygons (a rectangle is its corners' extent)."""
    polygons = []
    for shape in parts:
        if shape.kind == "rectangle":
            xs, ys = [x for x, _ in shape.points], [y for _, y in shape.points]
            polygons.append(masks.rectangle(min(xs), min(ys), max(xs), max(ys)))
        else:
            polygons.append([v for point in shape.points for v in point])
    try:
        return masks.polygon_mask(polygons, width, height)
    except masks.MaskError as exc:
        raise DataError(str(exc), file=path) from None


def shape_line(text: str, number: int) -> int | None:
    """The line where shapes[number] starts, found by walking the top-level object with the
    json module's own scanner (errors only: a valid file is parsed once, by json.loads)."""
    decoder = json.JSONDecoder()
    space = re.compile(r"[ \t\n\r]*")

    def skip(position: int) -> int:
        return space.match(text, position).end()

    try:
        position = skip(0)
        if not text.startswith("{", position):
            return None
        position = skip(position + 1)
        while position < len(text) and text[position] != "}":
            key, position = decoder.raw_decode(text, position)
            position = skip(skip(position) + 1)                  # past ':'
            if key != "shapes":
                _value, position = decoder.raw_decode(text, position)
                position = skip(skip(position) + 1)              # past ','
                continue
            position = skip(position + 1)                        # past '['
            for _ in range(number):
                _value, position = decoder.raw_decode(text, position)
                position = skip(skip(position) + 1)
            return text.count("\n", 0, position) + 1
    except (ValueError, IndexError, AttributeError):
        return None
    return None


# -- detection -----------------------------------------------------------------------------
_KEYS = re.compile(rb'"(shapes|imagePath|imageData)"\s*:')
PEEK_BYTES = 1 << 16
DETECT_FILES = 5


def _json_files(path: str, depth: int = 2) -> list[str]:
    """Up to DETECT_FILES .json files in the folder and DEPTH levels below, sorted."""
    found: list[str] = []
    folders = [path]
    for _ in range(depth + 1):
        below = []
        for folder in folders:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                full = os.path.join(folder, name)
                if name.startswith("."):
                    continue
                if name.lower().endswith(".json") and os.path.isfile(full):
                    found.append(full)
                    if len(found) == DETECT_FILES:
                        return found
                elif os.path.isdir(full) and not os.path.islink(full):
                    below.append(full)
        folders = below
    return found


def _looks_like_labelme(path: str) -> bool:
    try:
        with open_dataset_file(path) as fileobj:          # never a pipe: detection must not hang
            head = fileobj.read(PEEK_BYTES)
    except OSError:
        return False
    keys = {match.group(1) for match in _KEYS.finditer(head)}
    return b"shapes" in keys and bool(keys & {b"imagePath", b"imageData"})


def detect(path: str) -> Detection:
    if not os.path.isdir(path):
        return Detection(0.0, f"{path} is not a folder of LabelMe .json files")
    files = _json_files(path)
    if not files:
        return Detection(0.0, f"no .json files in {path} or two levels below")
    matching = [f for f in files if _looks_like_labelme(f)]
    if not matching:
        return Detection(0.0, f"none of {len(files)} .json files has LabelMe's 'shapes' and "
                         "'imagePath'/'imageData'")
    shown = os.path.relpath(matching[0], path)
    return Detection(0.9 if len(matching) == len(files) else 0.6,
                     f"{shown} is a LabelMe annotation ({len(matching)} of {len(files)} "
                     ".json files looked at are)")


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="labelme",
        help="LabelMe JSON, one per image (rectangles and polygons; masks; embedded images)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
    ))
