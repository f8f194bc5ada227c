"""COCO: `tfrconv coco --annotations-file instances_val2017.json --output coco_val.record`.

One annotation file (one split) per run. Features equal the reference `create_coco_tf_record.py`
on data both can read, plus `class/label` (from the JSON's categories, or --label-map), the true
`image/format`, and the reference's shard rule (position in images[] modulo --num-shards).
Boxes of zero size or outside the image go through the core's box policies and are counted
instead of being dropped quietly; an unknown category_id is reported, not a KeyError.

The JSON is read once per run as a stream (`tfrconv.jsonstream`) into a compact index: per image
its byte span in the file and the spans of its own annotations, so memory stays flat however big
the file (train2017: 448 MB of JSON). Each item is parsed again from its spans when it is read,
segmentations included (decoded only with --include-masks). A file that is not plainly one JSON
object is parsed whole instead, which says what is wrong and where.
"""

from __future__ import annotations

import json
import math
import os
import re
from array import array
from typing import Any, NamedTuple

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    LabelMap,
    LabelMapItem,
    Object,
    Option,
    ParsedOnce,
    Sample,
    UsageError,
    hookimpl,
    jsonstream,
    masks,
    open_dataset_file,
)

OPTIONS = (
    Option("annotations_file", "COCO annotation JSON of one split, e.g. "
           "annotations/instances_val2017.json", "path", required=True, metavar="JSON"),
    Option("image_dir", "folder the images' file_name is relative to (default: the split "
           "folder beside annotations/, e.g. val2017/)", "path", metavar="DIR"),
    Option("include_masks", "write instance masks (PNG, values 0/1) from polygons and RLE",
           "bool", default=False),
    Option("skip_empty", "leave out images without annotations (default: kept as negatives)",
           "bool", default=False),
)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Annotation keys never used: dropped while parsing so huge files need less memory.
UNUSED_KEYS = ("keypoints", "num_keypoints", "caption")
MAX_MASK_PIXELS = 1 << 28          # a mask bigger than this is a broken size, not a photo
POLYGON_REACH = 16                 # vertices further than this many image sides away are junk
POLYGON_PERIMETER = 100            # ... and so is a polygon longer than this many (w + h)


class CocoItem(NamedTuple):
    """One image of images[] with its own annotations (picklable, small)."""

    position: int                  # index in images[]: the reference's shard rule
    image: Any                     # the images[] entry as parsed
    annotations: list              # its annotations[] entries
    category_names: dict           # category id → name, for the ids its annotations use


class CocoRef(NamedTuple):
    """One image of images[] by reference: byte spans in the file, parsed when read."""

    position: int
    image_span: tuple[int, int]
    annotation_spans: tuple[tuple[int, int], ...]
    category_names: dict


class CocoBoxes(NamedTuple):
    """One image of images[] for a box conversion, with what read_item would take from it and its
    annotations (all plain values, see BoxColumns): nothing to read or parse again."""

    position: int
    image_id: Any
    file_name: str
    width: int
    height: int
    objects: tuple                 # (name, x, y, w, h, area, iscrowd) per annotation


class UnmatchedAnnotations(NamedTuple):
    """Annotations that belong to no image: reported as one problem, never dropped quietly."""

    count: int
    examples: tuple[str, ...]


class CocoIndex(NamedTuple):
    items: Any                             # a list of CocoItem, or a StreamedItems
    unmatched: UnmatchedAnnotations | None
    categories: list[tuple[int, str]]      # as in the file (first occurrence of each id)
    used_category_ids: frozenset[int]


# -- parsing -------------------------------------------------------------------------------
def parse_index(path: str, boxes: bool = True) -> CocoIndex:
    index = stream_index(path, boxes=boxes)
    if index is None:              # not plainly JSON: parsed whole, errors located
        index = build_index(read_json(path, keep_masks=True), path)
    return index


class Indexes:
    """The parsed file of a run: with the boxes' columns (BoxColumns) for a conversion without
    masks, without them (less memory) for one with masks."""

    def __init__(self) -> None:
        self.boxes = ParsedOnce(parse_index, "json")
        self.masks = ParsedOnce(lambda path: parse_index(path, boxes=False), "json")

    def load(self, path: str, include_masks: bool = False) -> CocoIndex:
        return (self.masks if include_masks else self.boxes).load(path)

    def clear(self) -> None:
        self.boxes.clear()
        self.masks.clear()


INDEX = Indexes()


def load_index(opts) -> CocoIndex:
    """The parsed annotation file; parsed once and reused by every call of the same run."""
    return INDEX.load(opts.annotations_file, bool(opts.include_masks))


def read_json(path: str, *, keep_masks: bool) -> Any:
    """Parse the file; a broken file is one DataError naming it and the place."""
    unused = UNUSED_KEYS if keep_masks else UNUSED_KEYS + ("segmentation",)

    def trim(obj: dict) -> dict:
        if "image_id" in obj:             # an annotation: drop what we never write
            for key in unused:
                obj.pop(key, None)
        return obj

    try:
        with open(path, "rb") as fileobj:
            data = fileobj.read()
    except OSError as exc:
        raise DataError(f"cannot read the annotation file: {exc.strerror}", file=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_and_column(data, exc.start)
        raise DataError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); a COCO annotation "
                        "file is JSON", file=path, line=line, column=column) from None
    del data
    try:
        return json.loads(text, object_hook=trim)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        hint = " (the file ends early: truncated?)" if at_end else ""
        raise DataError(f"not valid JSON: {exc.msg}{hint}", file=path, line=exc.lineno,
                        column=exc.colno) from None
    except RecursionError:
        raise DataError("not a COCO annotation file: JSON nested too deeply", file=path) \
            from None
    except ValueError as exc:             # e.g. an integer literal beyond Python's digit limit
        raise DataError(f"not valid JSON: {exc}", file=path) from None


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of the byte at `offset`, the text before it
    being valid UTF-8 (JSON ends lines with \\n)."""
    start = data.rfind(b"\n", 0, offset) + 1
    before = data[start:offset].decode("utf-8-sig" if start == 0 else "utf-8")
    return data.count(b"\n", 0, offset) + 1, len(before) + 1


def build_index(doc: Any, path: str) -> CocoIndex:
    if not isinstance(doc, dict):
        raise DataError(f"not a COCO annotation file: the JSON is a {_json_type(doc)}, not an "
                        "object with images, annotations and categories", file=path)
    images = doc.get("images")
    if not isinstance(images, list):
        found = "no 'images' list" if images is None else f"'images' is a {_json_type(images)}"
        raise DataError(f"not a COCO annotation file: {found}", file=path)
    annotations = _list_field(doc, "annotations", path)
    categories = _read_categories(_list_field(doc, "categories", path), path)
    if annotations and not categories:
        raise DataError("the file has annotations but no categories", file=path)
    names = dict(categories)

    by_image: dict[Any, list] = {}
    unmatched: list[str] = []
    used: set[int] = set()
    for number, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            unmatched.append(f"annotations[{number}] is a {_json_type(annotation)}")
            continue
        image_key = _id_key(annotation.get("image_id"))
        if image_key is None:
            unmatched.append(f"annotation {_describe_id(annotation, number)} has no usable "
                             f"image_id ({annotation.get('image_id')!r:.40})")
            continue
        by_image.setdefault(image_key, []).append(annotation)
        category = _as_int(annotation.get("category_id"))
        if category in names:
            used.add(category)

    items = []
    image_keys = set()
    for position, image in enumerate(images):
        key = _id_key(image.get("id")) if isinstance(image, dict) else None
        own = by_image.get(key, []) if key is not None else []
        image_keys.add(key)
        ids = {_as_int(a.get("category_id")) for a in own}
        items.append(CocoItem(position, image, own,
                              {cid: names[cid] for cid in ids if cid in names}))
    for key, own in by_image.items():
        if key not in image_keys:
            unmatched.extend(f"annotation {_describe_id(a, None)} has image_id {key!r}, which "
                             "is not in images[]" for a in own)
    report = UnmatchedAnnotations(len(unmatched), tuple(unmatched[:3])) if unmatched else None
    return CocoIndex(items, report, categories, frozenset(used))


# -- the streamed index ----------------------------------------------------------------------
STREAMED = frozenset({"images", "annotations"})


class Codes:
    """Dense integer codes for hashable values (image ids, category ids), in first-seen order."""

    def __init__(self) -> None:
        self.codes: dict[Any, int] = {}
        self.values: list = []

    def __call__(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code


def stream_index(path: str, boxes: bool = True) -> CocoIndex | None:
    """The index read as a stream, or None when the file is not plainly one JSON object;
    with `boxes`, it keeps BoxColumns too."""
    try:
        return _stream_index(path, boxes)
    except jsonstream.NotStreamable:
        return None
    except OSError as exc:
        raise DataError(f"cannot read the annotation file: {exc.strerror}", file=path) from None


def _stream_index(path: str, boxes: bool) -> CocoIndex:
    keys, categories_seen = Codes(), Codes()
    image_starts, image_ends, image_codes = array("q"), array("q"), array("q")
    starts, ends, codes, category_codes = array("q"), array("q"), array("q"), array("q")
    bad: list[str] = []                    # annotations without a usable image_id, in order
    bad_count = 0
    plain = BoxColumns() if boxes else None
    add_image = plain.add_image if plain else _ignore
    add_annotation = plain.add_annotation if plain else _ignore
    found: dict[str, Any] = {}
    # Numbers with a fraction or exponent stay their text (bytes) in images and annotations:
    # checked by the JSON scanner, converted (float(text), as json does) only where read.
    for key, value in jsonstream.members(path, STREAMED, parse_float=str.encode):
        if key == "categories" and key in found:
            raise jsonstream.NotStreamable("categories given twice")
        if key not in STREAMED or not hasattr(value, "__next__"):
            found[key] = value
            continue
        found[key] = []
        if key == "images":
            for image, start, end in value:
                image_key = _id_key(image.get("id")) if isinstance(image, dict) else None
                image_starts.append(start)
                image_ends.append(end)
                image_codes.append(keys(image_key))
                add_image(image if image_key is not None else None)
            continue
        image_codes_of, category_codes_of = keys.codes, categories_seen.codes
        for number, (annotation, start, end) in enumerate(value):
            found[key] = [None]            # non-empty: "annotations and not categories"
            problem = None
            if not isinstance(annotation, dict):
                problem = f"annotations[{number}] is a {_json_type(annotation)}"
            else:
                image_key = annotation.get("image_id")
                if type(image_key) is not int:
                    image_key = _id_key(image_key)
                if image_key is None:
                    problem = (f"annotation {_describe_id(annotation, number)} has no usable "
                               f"image_id ({_float(annotation.get('image_id'))!r:.40})")
            if problem is not None:
                bad_count += 1
                if len(bad) < 3:
                    bad.append(problem)
                continue
            starts.append(start)
            ends.append(end)
            code = image_codes_of.get(image_key)
            codes.append(keys(image_key) if code is None else code)
            category = annotation.get("category_id")
            if type(category) is not int:
                category = _as_int(_float(category))
            code = category_codes_of.get(category)
            category_codes.append(categories_seen(category) if code is None else code)
            add_annotation(annotation)
    # The same checks, in the same order, as build_index on the whole document.
    images = found.get("images")
    if not isinstance(images, list):
        found_what = "no 'images' list" if images is None else \
            f"'images' is a {_json_type(images)}"
        raise DataError(f"not a COCO annotation file: {found_what}", file=path)
    annotations = _list_field(found, "annotations", path)
    categories = _read_categories(_list_field(found, "categories", path), path)
    if (annotations or bad_count) and not categories:
        raise DataError("the file has annotations but no categories", file=path)
    names = dict(categories)
    used = frozenset(c for c in categories_seen.values if c in names)
    items = StreamedItems(image_starts, image_ends, image_codes, starts, ends, codes,
                          category_codes, categories_seen.values, names, keys.values, plain)
    unmatched = items.unmatched(bad, bad_count, keys.values, path)
    return CocoIndex(items, unmatched, categories, used)


def _ignore(_value: Any) -> None:
    pass


class StreamedItems:
    """The images of a streamed index as CocoRef items, made one at a time (sized)."""

    def __init__(self, image_starts, image_ends, image_codes, starts, ends, codes,
                 category_codes, category_values: list, names: dict, key_values: list,
                 plain: BoxColumns | None) -> None:
        import numpy as np

        key_count = len(key_values)
        self.key_values, self.plain = key_values, plain
        self.image_starts, self.image_ends = image_starts, image_ends
        self.image_codes = image_codes
        self.starts, self.ends, self.category_codes = starts, ends, category_codes
        # category code → (category id, name), or None for ids that are no category
        self.categories = [(value, names[value]) if value in names else None
                           for value in category_values]
        codes = _int64(codes)
        # Annotations grouped by image key, each group in file order (a stable sort).
        self.order = np.argsort(codes, kind="stable").astype(np.int64)
        counts = np.bincount(codes, minlength=key_count)
        self.group_ends = np.cumsum(counts)
        self.group_starts = self.group_ends - counts
        self.codes = codes
        self.key_count = key_count

    def __len__(self) -> int:
        return len(self.image_codes)

    def count(self, skip_empty: bool) -> int:
        """How many images (with annotations only, when `skip_empty`)."""
        if not skip_empty:
            return len(self)
        sizes = (self.group_ends - self.group_starts)[_int64(self.image_codes)]
        return int((sizes > 0).sum())

    def annotation_numbers(self, position: int):
        code = self.image_codes[position]
        return self.order[self.group_starts[code]:self.group_ends[code]].tolist()

    def __iter__(self):
        return self.items()

    def items(self, skip_empty: bool = False, boxes: bool = False):
        """The images as CocoRef items (without annotations too unless `skip_empty`); with
        `boxes` (a conversion without masks), plain ones as CocoBoxes."""
        categories, starts, ends = self.categories, self.starts, self.ends
        category_codes = self.category_codes
        plain = self.plain
        boxes = boxes and plain is not None
        if boxes:
            file_names, sizes, values, crowds = plain.file_names, plain.sizes, plain.values, \
                plain.crowds
        key_values, image_codes = self.key_values, self.image_codes
        for position in range(len(image_codes)):
            numbers = self.annotation_numbers(position)
            if skip_empty and not numbers:
                continue
            file_name = file_names[position] if boxes else None
            if file_name is not None:
                objects = []
                for n in numbers:
                    category, crowd = categories[category_codes[n]], crowds[n]
                    if category is None or crowd < 0:
                        break
                    at = 5 * n
                    objects.append((category[1], *values[at:at + 5], crowd))
                else:
                    yield CocoBoxes(position, key_values[image_codes[position]], file_name,
                                    sizes[2 * position], sizes[2 * position + 1],
                                    tuple(objects))
                    continue
            category_names = dict(filter(None, (categories[category_codes[n]]
                                                for n in numbers)))
            yield CocoRef(position, (self.image_starts[position], self.image_ends[position]),
                          tuple((starts[n], ends[n]) for n in numbers), category_names)

    def unmatched(self, bad: list[str], bad_count: int, key_values: list,
                  path: str) -> UnmatchedAnnotations | None:
        """build_index's report: annotations without a usable image_id first, then those whose
        image_id is not in images[] (grouped by id in first-seen order, each group in file
        order, as a dict of lists would give them)."""
        import numpy as np

        is_image = np.zeros(self.key_count, dtype=bool)
        is_image[_int64(self.image_codes)] = True
        lost = np.flatnonzero(~is_image[self.codes])
        examples = list(bad)
        if len(lost) and len(examples) < 3:
            # Grouped by the first annotation of each image_id, then in file order.
            first = self.order[self.group_starts[self.codes[lost]]]
            shown = lost[np.lexsort((lost, first))][:3 - len(examples)]
            reader = jsonstream.SpanReader(path)
            try:
                for number in shown.tolist():
                    annotation = reader.read(self.starts[number], self.ends[number])
                    key = key_values[self.codes[number]]
                    examples.append(f"annotation {_describe_id(annotation, None)} has image_id "
                                    f"{key!r}, which is not in images[]")
            finally:
                reader.close()
        count = bad_count + len(lost)
        return UnmatchedAnnotations(count, tuple(examples[:3])) if count else None


SIZE_LIMIT = 1 << 62               # image sizes BoxColumns keeps (an int64 column)


class BoxColumns:
    """What a conversion without masks reads of each image and annotation, kept from the index's
    own parse where the values are plain: those read_item's checks pass as they stand (ints and
    floats, a non-empty file_name, iscrowd 0 or 1, an area given). Workers then build the
    sample from these (CocoBoxes) instead of reading and parsing the spans again; anything
    else is marked and goes the spans' way, where read_item says what is wrong with it."""

    def __init__(self) -> None:
        self.file_names: list[str | None] = []     # None: the image is not plain
        self.sizes = array("q")                    # width, height of each image
        self.values = array("d")                   # x, y, w, h, area of each annotation
        self.crowds = array("b")                   # iscrowd, -1: the annotation is not plain

    def add_image(self, image: Any) -> None:
        """`image` as parsed, None when it has no usable id."""
        file_name = width = height = None
        if isinstance(image, dict):
            file_name, width, height = image.get("file_name"), image.get("width"), \
                image.get("height")
        if type(file_name) is str and type(width) is int and type(height) is int and \
                0 < width < SIZE_LIMIT and 0 < height < SIZE_LIMIT and file_name.strip() and \
                "\x00" not in file_name:
            self.file_names.append(file_name)
            self.sizes.extend((width, height))
        else:
            self.file_names.append(None)
            self.sizes.extend((0, 0))

    def add_annotation(self, annotation: dict) -> None:
        """`annotation` as the index parsed it: numbers with a fraction are their text."""
        bbox, crowd, area = annotation.get("bbox"), annotation.get("iscrowd", 0), \
            annotation.get("area")
        if type(bbox) is list and len(bbox) == 4 and type(crowd) is int and crowd in (0, 1) \
                and type(area) in _NUMBER_TYPES:
            x, y, w, h = bbox
            if type(x) in _NUMBER_TYPES and type(y) in _NUMBER_TYPES and \
                    type(w) in _NUMBER_TYPES and type(h) in _NUMBER_TYPES:
                try:
                    self.values.extend((float(x), float(y), float(w), float(h), float(area)))
                except OverflowError:       # an int beyond floats: read_item's to report
                    pass
                else:
                    self.crowds.append(crowd)
                    return
        self.values.extend((0.0, 0.0, 0.0, 0.0, 0.0))
        self.crowds.append(-1)


# A number as the streamed index has it: an int, or its text when it has a fraction or exponent
# (float() of the text is the float json would have made).
_NUMBER_TYPES = frozenset({int, bytes})


def _float(value: Any) -> Any:
    """A value of the streamed index as json.loads has it (see _stream_index)."""
    return float(value) if type(value) is bytes else value


def _int64(values: array):
    import numpy as np

    return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


def _list_field(doc: dict, key: str, path: str) -> list:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"'{key}' must be a list, found a {_json_type(value)}", file=path)
    return value


def _read_categories(entries: list, path: str) -> list[tuple[int, str]]:
    categories: dict[int, str] = {}
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DataError(f"categories[{number}] is a {_json_type(entry)}, not an object",
                            file=path)
        category_id = _as_int(entry.get("id"))
        name = entry.get("name")
        if category_id is None:
            raise DataError(f"categories[{number}] has no integer id ({entry.get('id')!r:.40})",
                            file=path)
        if not isinstance(name, str) or not name:
            raise DataError(f"category {category_id} has no name", file=path)
        previous = categories.setdefault(category_id, name)
        if previous != name:
            raise DataError(f"category id {category_id} appears twice, as {previous!r} and "
                            f"{name!r}", file=path)
    return list(categories.items())


def _id_key(value: Any) -> int | str | None:
    """Image ids are integers (or, in some exports, strings); anything else is unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, str)):
        return value
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _describe_id(annotation: dict, number: int | None) -> str:
    value = annotation.get("id")
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value)
    return f"annotations[{number}]" if number is not None else "(without id)"


def _json_type(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
            float: "number", bytes: "number", type(None): "null"}.get(type(value),
                                                                       type(value).__name__)


# -- the format ----------------------------------------------------------------------------
_image_dirs: dict[tuple, str] = {}


def image_dir(opts, fresh: bool = False) -> str:
    """--image-dir, else the split folder beside annotations/ (coco/val2017 for
    coco/annotations/instances_val2017.json), as the COCO download unpacks; looked for again
    when `fresh` (list_items, once per run), else remembered (read_item, once per image)."""
    key = (opts.annotations_file, opts.image_dir)
    found = None if fresh else _image_dirs.get(key)
    if found is None:
        found = _find_image_dir(opts)
        if len(_image_dirs) > 16:
            _image_dirs.clear()
        _image_dirs[key] = found
    return found


def _find_image_dir(opts) -> str:
    if opts.image_dir:
        if not os.path.isdir(opts.image_dir):
            raise UsageError(f"--image-dir {opts.image_dir}: no such folder")
        return opts.image_dir
    folder = os.path.dirname(os.path.abspath(opts.annotations_file))
    stem = os.path.splitext(os.path.basename(opts.annotations_file))[0]
    split = stem.split("_", 1)[1] if "_" in stem else stem
    candidates = [os.path.join(os.path.dirname(folder), split), os.path.join(folder, split),
                  os.path.join(os.path.dirname(folder), "images", split),
                  os.path.join(os.path.dirname(folder), "images")]
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    if _holds_images(folder):          # Roboflow: train/_annotations.coco.json beside the images
        return folder
    raise UsageError(f"give --image-dir (the folder of the images; none of "
                     f"{', '.join(candidates[:2])} exists)")


def _holds_images(folder: str) -> bool:
    try:
        return any(name.lower().endswith(IMAGE_EXTENSIONS) for name in os.listdir(folder))
    except OSError:
        return False


def list_items(opts):
    index = load_index(opts)
    image_dir(opts, fresh=True)             # a wrong folder fails now, not per image
    if isinstance(index.items, StreamedItems):
        return CocoItems(index, bool(opts.skip_empty), bool(opts.include_masks))
    items: list = [item for item in index.items
                   if not (opts.skip_empty and not item.annotations)]
    if index.unmatched is not None:
        items.append(index.unmatched)
    return items


class CocoItems:
    """list_items of a streamed index: its images (those with annotations, with --skip-empty),
    then the unmatched annotations' report; made as they are iterated."""

    def __init__(self, index: CocoIndex, skip_empty: bool, include_masks: bool) -> None:
        self.index = index
        self.skip_empty = skip_empty
        self.include_masks = include_masks

    def __len__(self) -> int:
        return self.index.items.count(self.skip_empty) + (self.index.unmatched is not None)

    def __iter__(self):
        yield from self.index.items.items(self.skip_empty, boxes=not self.include_masks)
        if self.index.unmatched is not None:
            yield self.index.unmatched


_readers: dict[tuple, jsonstream.SpanReader] = {}


def resolve(item: CocoRef, path: str, with_masks: bool = True) -> CocoItem:
    """The image and its annotations parsed again from their spans in the file; without
    `with_masks`, polygon segmentations are cut out unparsed (see without_polygons)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    reader = _readers.get(key)
    if reader is None:
        for old in _readers.values():
            old.close()
        _readers.clear()
        reader = _readers[key] = jsonstream.SpanReader(path)
    pieces = reader.read_bytes((item.image_span, *item.annotation_spans))
    if with_masks:
        image, *annotations = jsonstream.parse_many(pieces)
        return CocoItem(item.position, image, annotations, item.category_names)
    cut = [without_polygons(piece) for piece in pieces[1:]]
    image, *annotations = jsonstream.parse_many([pieces[0], *cut])
    for number, annotation in enumerate(annotations):
        if cut[number] is not pieces[number + 1] and not (
                isinstance(annotation, dict) and annotation.get("segmentation") == []):
            annotations[number] = json.loads(pieces[number + 1])     # it was not its own
    return CocoItem(item.position, image, annotations, item.category_names)


# An annotation's polygons: "segmentation": then a value of brackets and number characters.
_POLYGONS = re.compile(rb'"segmentation"[ \t\n\r]*:[ \t\n\r]*(\[[\[\]0-9.,eE+\- \t\n\r]*\])')


def without_polygons(annotation: bytes) -> bytes:
    """The annotation's JSON with its polygon segmentation replaced by [] (unread without
    --include-masks: its numbers were most of the parsing), or the same object when it cannot
    be cut for sure.

    The streamed index parsed every annotation whole, so the text is valid JSON. A list of
    number lists has only the characters matched above; the match is taken only when its
    brackets balance (a shorter match, cut off by a string or null inside, cannot) and
    "segmentation" occurs once (read_item then checks the parsed object has it, as [])."""
    found = _POLYGONS.search(annotation)
    if found is None or annotation.count(b'"segmentation"') != 1:
        return annotation
    start, end = found.span(1)
    if annotation.count(b"[", start, end) != annotation.count(b"]", start, end):
        return annotation
    return annotation[:start] + b"[]" + annotation[end:]


def read_item(item, opts) -> Sample:
    path = opts.annotations_file
    if isinstance(item, UnmatchedAnnotations):
        shown = "; ".join(item.examples) + (" ..." if item.count > len(item.examples) else "")
        raise DataError(f"{item.count} annotations belong to no image of images[]: {shown}",
                        file=path)
    if isinstance(item, CocoBoxes):
        return _boxes_sample(item, path, image_dir(opts))
    if isinstance(item, CocoRef):
        item = resolve(item, path, with_masks=bool(opts.include_masks))
    image = item.image
    where = f"images[{item.position}]"
    if not isinstance(image, dict):
        raise DataError(f"{where} is a {_json_type(image)}, not an object", file=path)
    image_id = _id_key(image.get("id"))
    if image_id is None:
        raise DataError(f"{where} has no usable id ({image.get('id')!r:.40})", file=path)
    where = f"image {image_id}"
    file_name = image.get("file_name")
    if not isinstance(file_name, str) or not file_name.strip():
        raise DataError(f"{where} has no file_name", file=path)
    if "\x00" in file_name:               # no file can have it: os calls would raise
        raise DataError(f"{where}: the file_name {file_name!r:.60} contains a NUL byte",
                        file=path)
    width = _dimension(image, "width", where, path)
    height = _dimension(image, "height", where, path)
    if opts.include_masks and (width is None or height is None):
        raise DataError(f"{where} has no width and height, which --include-masks needs",
                        file=path)
    objects = [_object(annotation, item, image_id, width, height, opts.include_masks, path)
               for annotation in item.annotations]
    folder = image_dir(opts)
    return Sample(source_id=str(image_id), filename=file_name,
                  image_path=_image_path(folder, file_name), width=width, height=height,
                  objects=objects, shard_key=item.position, image_root=folder,
                  origin=f"{path}: image {image_id} ({file_name})")


def _boxes_sample(item: CocoBoxes, path: str, folder: str) -> Sample:
    """read_item's sample of a CocoBoxes item (its values passed read_item's checks)."""
    objects = [Object(name, x, y, x + w, y + h, is_crowd=crowd, area=area)
               for name, x, y, w, h, area, crowd in item.objects]
    file_name = item.file_name
    return Sample(source_id=str(item.image_id), filename=file_name,
                  image_path=_image_path(folder, file_name), width=item.width,
                  height=item.height, objects=objects, shard_key=item.position,
                  image_root=folder, origin=f"{path}: image {item.image_id} ({file_name})")


def _image_path(folder: str, file_name: str) -> str:
    """file_name under the image folder; exports that prefix it with their own folder
    (images/x.jpg, /data/upload/3/x.jpg) fall back to the bare name when that exists."""
    primary = os.path.join(folder, file_name)
    if not os.path.exists(primary):
        bare = os.path.join(folder, os.path.basename(file_name.replace("\\", "/")))
        if os.path.exists(bare):
            return bare
    return primary


def _dimension(image: dict, key: str, where: str, path: str) -> int | None:
    value = image.get(key)
    if value is None:
        return None
    number = _as_int(value) if not isinstance(value, str) else None
    if number is None or number < 1:
        raise DataError(f"{where}: {key} must be a positive integer, found {value!r:.40}",
                        file=path)
    return number


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:                  # an int beyond any float
        return None


def _object(annotation: dict, item: CocoItem, image_id, width, height, include_masks: bool,
            path: str) -> Object:
    def what() -> str:                     # only on the way to an error: most objects have none
        return f"annotation {_describe_id(annotation, None)} of image {image_id}"

    bbox = annotation.get("bbox")
    coords = _coordinates(bbox)
    if coords is None:
        raise DataError(f"{what()}: bbox must be [x, y, width, height] numbers, found "
                        f"{bbox!r:.60}", file=path)
    x, y, w, h = coords
    raw_category = annotation.get("category_id")
    category = raw_category if type(raw_category) is int else _as_int(raw_category)
    name = item.category_names.get(category)
    if name is None:
        raise DataError(f"{what()}: category_id {raw_category!r:.40} is not one of the file's "
                        "categories", file=path)
    is_crowd = annotation.get("iscrowd", 0)
    if isinstance(is_crowd, str) or is_crowd not in (0, 1):
        raise DataError(f"{what()}: iscrowd must be 0 or 1, found {is_crowd!r:.40}", file=path)
    area = annotation.get("area")
    if area is None:
        area = w * h                       # exports without area: the box's
    elif type(area) is not float and _number(area) is None:
        raise DataError(f"{what()}: area must be a number, found {area!r:.40}", file=path)
    mask = None
    if include_masks:
        mask = mask_png(annotation.get("segmentation"), width, height, what(), path)
    return Object(name, x, y, x + w, y + h, is_crowd=int(is_crowd), area=float(area),
                  mask=mask)


_PLAIN_NUMBERS = frozenset({int, float})   # bool is an int subclass, not a number here


def _coordinates(bbox: Any) -> tuple[float, float, float, float] | None:
    """[x, y, width, height] as floats, or None unless it is four numbers."""
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None
    x, y, w, h = bbox
    if type(x) is float and type(y) is float and type(w) is float and type(h) is float:
        return x, y, w, h
    coords = tuple(_number(v) for v in bbox)
    return None if None in coords else coords


# -- masks ---------------------------------------------------------------------------------
def decode_mask(segmentation: Any, width: int, height: int, what: str, path: str):
    """A 2-D uint8 0/1 mask from polygons or RLE (uncompressed or compressed), the way
    pycocotools' annToRLE reads them; the reference's merge-by-max gives the same pixels."""
    import numpy as np
    from pycocotools import mask as mask_api

    rle = mask_rle(segmentation, width, height, what, path)
    if rle is None:
        return np.zeros((height, width), dtype=np.uint8)
    decoded = _pycocotools(lambda: mask_api.decode(rle), what, path)
    # Kept in pycocotools' column-major order: the PNG encoder copies only the mask's
    # non-zero rows and columns out of it, where a row-major copy here cost as much as zlib.
    return decoded.reshape(height, width).astype(np.uint8, copy=False)


def mask_png(segmentation: Any, width: int, height: int, what: str, path: str):
    """decode_mask's mask as its PNG (what the record holds), without decoding the whole
    image (tfrconv.masks.rle_png); the all-zero mask of sub-3-point polygons as an array."""
    rle = mask_rle(segmentation, width, height, what, path)
    if rle is None:
        return decode_mask(segmentation, width, height, what, path)
    return masks.rle_png(rle)


def mask_rle(segmentation: Any, width: int, height: int, what: str, path: str):
    """The segmentation as one pycocotools RLE of the image's size (compressed counts), or
    None for polygons that all have fewer than 3 points (they cover nothing)."""
    from pycocotools import mask as mask_api

    if width * height > MAX_MASK_PIXELS:
        raise DataError(f"{what}: {width}x{height} is too large for instance masks", file=path)
    if segmentation is None or segmentation == []:
        raise DataError(f"{what}: no segmentation, which --include-masks needs", file=path)
    if isinstance(segmentation, list):
        polygons = _polygons(segmentation, width, height, what, path)
        if not polygons:
            return None
        rle = _pycocotools(lambda: mask_api.merge(
            mask_api.frPyObjects(polygons, height, width)), what, path)
    elif isinstance(segmentation, dict):
        rle = _rle(segmentation, width, height, what, path)
    else:
        raise DataError(f"{what}: segmentation must be polygons or RLE, found a "
                        f"{_json_type(segmentation)}", file=path)
    size = [int(v) for v in rle["size"]]
    if size != [height, width]:
        raise DataError(f"{what}: the mask is {size[1]}x{size[0]}, the image "
                        f"{width}x{height}", file=path)
    return rle


def _polygons(segmentation: list, width: int, height: int, what: str, path: str) -> list:
    reach = POLYGON_REACH * max(width, height) + 1024
    limit = POLYGON_PERIMETER * (width + height)
    polygons = []
    for polygon in segmentation:
        if isinstance(polygon, list) and len(polygon) >= 6 and \
                set(map(type, polygon)) <= _PLAIN_NUMBERS:
            values, perimeter = _plain_polygon(polygon, reach)
            if values is None:
                raise DataError(f"{what}: a polygon must be a list of finite coordinates near "
                                f"the image, found {polygon!r:.60}", file=path)
        else:
            values = [_number(v) for v in polygon] if isinstance(polygon, list) else [None]
            if any(v is None or not math.isfinite(v) or abs(v) > reach for v in values):
                raise DataError(f"{what}: a polygon must be a list of finite coordinates near "
                                f"the image, found {polygon!r:.60}", file=path)
            if len(values) < 6:
                continue                   # under 3 points: no area (pycocotools misreads 4)
            xs, ys = values[0:len(values) - 1:2], values[1::2]
            perimeter = sum(max(abs(xs[i] - xs[i - 1]), abs(ys[i] - ys[i - 1]))
                            for i in range(len(ys)))
        if perimeter > limit:              # pycocotools rasterizes every edge pixel
            raise DataError(f"{what}: a polygon is {perimeter:.0f} pixels long on a "
                            f"{width}x{height} image", file=path)
        polygons.append(values)
    return polygons


def _plain_polygon(polygon: list, reach: float) -> tuple[list | None, float]:
    """_polygons' checks with numpy, for a list of ints and floats only: the values as floats
    (None when one is not finite or beyond `reach`) and the perimeter, summed in the same
    order as the loop above (so the same float)."""
    import numpy as np

    try:
        array = np.array(polygon, dtype=np.float64)
    except OverflowError:                  # an int beyond any float
        return None, 0.0
    if not np.isfinite(array).all() or (np.abs(array) > reach).any():
        return None, 0.0
    xs, ys = array[0:len(array) - 1:2], array[1::2]
    edges = np.maximum(np.abs(xs - np.roll(xs, 1)), np.abs(ys - np.roll(ys, 1)))
    return array.tolist(), sum(edges.tolist())


def _rle(segmentation: dict, width: int, height: int, what: str, path: str):
    from pycocotools import mask as mask_api

    counts, size = segmentation.get("counts"), segmentation.get("size")
    if not (isinstance(size, list) and [_as_int(v) for v in size] == [height, width]):
        raise DataError(f"{what}: RLE size {size!r:.40} is not the image's [height, width] "
                        f"[{height}, {width}]", file=path)
    if isinstance(counts, str):
        counts = rle_counts_from_string(counts)
        if counts is None:
            raise DataError(f"{what}: the compressed RLE string is corrupt", file=path)
    elif not isinstance(counts, list) or any(
            isinstance(c, (bool, str)) or _as_int(c) is None or c < 0 for c in counts):
        raise DataError(f"{what}: RLE counts must be non-negative integers or a compressed "
                        "string", file=path)
    counts = [int(c) for c in counts]
    if sum(counts) != width * height:   # pycocotools would leave the rest uninitialised
        raise DataError(f"{what}: the RLE runs cover {sum(counts)} pixels, the image "
                        f"{width * height}", file=path)
    return _pycocotools(lambda: mask_api.frPyObjects(
        {"counts": counts, "size": [height, width]}, height, width), what, path)


def rle_counts_from_string(text: str) -> list[int] | None:
    """The run lengths of COCO's compressed RLE string (6-bit groups, LEB128-like, runs from the
    third on stored as differences), or None when the string is corrupt."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                return None                # a group promises more characters than there are
            code = ord(text[position]) - 48
            if not 0 <= code < 64:
                return None
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position += 1
            shift += 5
            if not more and code & 0x10:
                value |= -1 << shift       # sign-extend
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            return None
        counts.append(value)
    return counts


def _pycocotools(call, what: str, path: str):
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - pycocotools raises bare Exception, ValueError...
        raise DataError(f"{what}: pycocotools cannot read the segmentation: {exc}",
                        file=path) from None


# -- label map, classes, detection ---------------------------------------------------------
def default_label_map(opts) -> LabelMap:
    """The file's categories with their ids, as the OD API's category index would have them."""
    index = load_index(opts)
    path = opts.annotations_file
    if not index.categories:
        raise DataError("the file has no categories to build a label map from (give "
                        "--label-map)", file=path)
    names = dict(index.categories)
    for category_id, name in index.categories:
        if category_id < 1 and category_id in index.used_category_ids:
            raise DataError(f"category {name!r} has id {category_id}; the OD API reserves 0 for "
                            "the background and needs ids from 1 (give --label-map)", file=path)
    label_map = LabelMap([LabelMapItem(cid, name) for cid, name in index.categories if cid >= 1],
                         source=f"categories of {path}")
    for category_id in sorted(index.used_category_ids):
        name = names[category_id]
        if label_map.resolve(name) != category_id:
            raise DataError(f"categories {category_id} and {label_map.resolve(name)} are both "
                            f"named {name!r}; the OD API tells classes apart by name (give "
                            "--label-map)", file=path)
    return label_map


def classes(opts) -> list[str]:
    """Names of the categories annotations use: checked against --label-map before reading."""
    index = load_index(opts)
    names = dict(index.categories)
    return sorted({names[cid] for cid in index.used_category_ids})


_JSON_KEYS = re.compile(rb'"(images|annotations|categories)"\s*:\s*\[')
PEEK_BYTES = 1 << 20


def _peek(path: str) -> set[str]:
    try:
        with open_dataset_file(path) as fileobj:         # never a pipe: detection must not hang
            head = fileobj.read(PEEK_BYTES)
    except OSError:
        return set()
    return {m.group(1).decode() for m in _JSON_KEYS.finditer(head)}


def detect(path: str) -> Detection:
    if os.path.isfile(path):
        keys = _peek(path)
        if "images" in keys and keys & {"annotations", "categories"}:
            return Detection(0.9, f"{path} is COCO JSON ({', '.join(sorted(keys))} lists)",
                             options={"annotations_file": path})
        return Detection(0.0, f"{path} has no COCO 'images' and 'annotations' lists near its "
                         "start")
    if not os.path.isdir(path):
        return Detection(0.0, f"{path} does not exist")
    folders = [path, os.path.join(path, "annotations")]
    candidates = sorted(
        (os.path.join(folder, name) for folder in folders if os.path.isdir(folder)
         for name in os.listdir(folder) if name.endswith(".json")),
        key=lambda p: (not os.path.basename(p).startswith("instances_"), p))
    found = []
    for candidate in candidates[:20]:
        keys = _peek(candidate)
        if "images" in keys and keys & {"annotations", "categories"}:
            found.append(os.path.relpath(candidate, path))
    if len(found) == 1:
        return Detection(0.9, f"{found[0]} is COCO JSON (--annotations-file {found[0]})",
                         options={"annotations_file": os.path.join(path, found[0])})
    if found:
        return Detection(0.9, f"{len(found)} COCO annotation files ({', '.join(found)}): one "
                         "split per run, choose it with --annotations-file")
    if candidates:
        return Detection(0.0, f"none of the .json files in {path} or {path}/annotations has "
                         "COCO 'images' and 'annotations' lists")
    return Detection(0.0, f"no .json annotation file in {path} or {path}/annotations")


def splits(path: str) -> dict[str, dict]:
    """COCO's own layout as splits: annotations/instances_{split}.json with its images in
    {split}/ (train2017 → train; the year is kept when two years would share a name)."""
    folder = os.path.join(path, "annotations")
    if not os.path.isdir(folder):
        return {}
    found = {}
    for name in sorted(os.listdir(folder)):
        if not (name.startswith("instances_") and name.endswith(".json")):
            continue
        split = name[len("instances_"):-len(".json")]
        if os.path.isdir(os.path.join(path, split)) and \
                "images" in _peek(os.path.join(folder, name)):
            found[split] = {"annotations_file": os.path.join(folder, name),
                            "image_dir": os.path.join(path, split)}
    short = {re.sub(r"\d{4}$", "", split) or split: split for split in found}
    if len(short) == len(found):
        return {name: found[split] for name, split in short.items()}
    return found


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="coco",
        help="COCO instances JSON (one split per run; boxes, crowd flags, areas, masks)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        splits=splits,
        default_label_map=default_label_map,
        classes=classes,
        object_fields=frozenset({"is_crowd", "area"}),
    ))
