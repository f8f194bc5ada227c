"""YOLO: `tfrconv yolo --data-dir DIR --output yolo.record [--split val] [--include-masks]`.

Reads the three layouts YOLO datasets arrive in (docs/formats/yolo.md):

- Ultralytics / Roboflow: a `data.yaml` with `path`, `train`/`val`/`test` (folders, list files
  of image paths, or lists of those) and `names` (a list, or a mapping {index: name});
- darknet: `obj.data` (classes, train, valid, names), `obj.names`, `train.txt`;
- bare folders: `images/` and `labels/` beside a `classes.txt` (or `obj.names`).

A label file belongs to an image by the Ultralytics rule (the last `/images/` of the path becomes
`/labels/`, the extension `.txt`), else it sits beside the image (darknet). An image without one
is a negative, as in Ultralytics. Lines are `class cx cy w h` (normalized) or, for segmentation,
`class x1 y1 x2 y2 ...` (a polygon: its extent is the box, and with --include-masks its pixels
the mask). Class index i is the (i+1)-th name, so label map ids are 1..N in the names' order.
Boxes stay normalized: the core reads the image's real size.
"""

from __future__ import annotations

import math
import os
import threading
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
    read_dataset_file,
    split_outputs,
)

# The image types Ultralytics lists; the core decides which it can write (JPEG, PNG).
IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
YAML_NAMES = ("data.yaml", "data.yml")
DARKNET_NAMES = ("obj.data",)
NAME_FILES = ("classes.txt", "obj.names", os.path.join("labels", "classes.txt"))
ULTRALYTICS_SPLITS = ("train", "val", "test")
DARKNET_SPLITS = ("train", "valid", "test")
FLAT_SPLIT = "all"                 # the one split of a flat images/ folder
DETECT_FILES = 5                   # label files parsed to recognise a folder

OPTIONS = (
    Option("data_dir", "the dataset folder (holding data.yaml, obj.data, or images/ and "
           "labels/ with classes.txt), or the .yaml / .data file itself", "path",
           required=True, metavar="DIR"),
    Option("split", "convert only this split (train, val, test; darknet: train, valid); "
           "default: every split, each to its own output", "str", metavar="NAME"),
    Option("include_masks", "write instance masks (PNG, values 0/1) from segmentation "
           "polygons; box lines get a rectangle", "bool", default=False),
)


class Source(NamedTuple):
    """Where one split's images are: a folder (searched recursively) or a list file."""

    path: str
    is_list: bool


class Dataset(NamedTuple):
    """A parsed dataset description: everything except the images and labels themselves."""

    root: str                          # relative image paths and source ids start here
    names: tuple[str, ...]             # class index i → names[i]
    splits: dict[str, tuple[Source, ...]]
    described_by: str                  # the data.yaml, obj.data or names file, for messages
    keypoint_values: int               # pose datasets: values after the box on each line


class YoloItem(NamedTuple):
    split: str
    image_path: str
    source_id: str
    image_root: str                    # the image must stay inside (--allow-outside-paths)


# -- finding and parsing the description ---------------------------------------------------
_cache: dict[tuple, Dataset] = {}
_cache_lock = threading.Lock()


def load_dataset(data_dir: str) -> Dataset:
    """The dataset's description, parsed once per run (keyed by the file's path and mtime)."""
    description = find_description(data_dir)
    try:
        stat = os.stat(description)
    except OSError as exc:
        raise DataError(f"cannot read it: {exc.strerror}", file=description) from None
    key = (os.path.abspath(description), stat.st_size, stat.st_mtime_ns, os.getcwd())
    with _cache_lock:
        dataset = _cache.get(key)
        if dataset is None:
            dataset = parse_description(description, data_dir)
            _cache.clear()
            _cache[key] = dataset
    return dataset


def find_description(data_dir: str) -> str:
    """The data.yaml, .data or names file that describes the dataset at `data_dir`."""
    if os.path.isfile(data_dir):
        if data_dir.endswith((".yaml", ".yml", ".data")):
            return data_dir
        raise UsageError(f"--data-dir {data_dir}: give the dataset folder, or its data.yaml "
                         "or obj.data")
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data-dir {data_dir}: no such folder")
    for folder in (data_dir, os.path.join(data_dir, "data")):
        for name in YAML_NAMES + DARKNET_NAMES:
            if os.path.isfile(os.path.join(folder, name)):
                return os.path.join(folder, name)
    yamls = sorted(n for n in os.listdir(data_dir) if n.endswith((".yaml", ".yml")))
    if len(yamls) == 1:
        return os.path.join(data_dir, yamls[0])
    if os.path.isdir(os.path.join(data_dir, "images")):
        for name in NAME_FILES:
            if os.path.isfile(os.path.join(data_dir, name)):
                return os.path.join(data_dir, name)
        raise UsageError(f"--data-dir {data_dir}: images/ and labels/ but no class names (add "
                         "a data.yaml, or a classes.txt with one name per line, index 0 first)")
    raise UsageError(f"--data-dir {data_dir}: no data.yaml, obj.data, or images/ folder with "
                     "classes.txt")


def parse_description(path: str, data_dir: str) -> Dataset:
    if path.endswith((".yaml", ".yml")):
        return parse_data_yaml(path)
    if path.endswith(".data"):
        return parse_darknet(path, data_dir)
    return bare_folders(path, data_dir)


def read_text(path: str, what: str) -> str:
    try:
        data = read_dataset_file(path)
    except FileNotFoundError:
        raise DataError(f"{what} not found", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the {what}: {exc.strerror or exc}", file=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=path,
                        line=line) from None


def key_line(text: str, key: str) -> int | None:
    """The line where a top-level `key:` (YAML) or `key =` (darknet) is written, for messages."""
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.split("#", 1)[0]
        if stripped[:1].isspace():
            continue
        head = stripped.split(":", 1)[0] if ":" in stripped else stripped.split("=", 1)[0]
        if head.strip().strip("'\"") == key:
            return number
    return None


def parse_data_yaml(path: str) -> Dataset:
    import yaml

    text = read_text(path, "data.yaml")
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(f"not valid YAML: {problem}", file=path,
                        line=None if mark is None else mark.line + 1,
                        column=None if mark is None else mark.column + 1) from None
    if not isinstance(doc, dict):
        raise DataError("not an Ultralytics data.yaml: expected keys such as path, train, val "
                        "and names", file=path)
    root = yaml_root(doc.get("path"), path, text)
    names = yaml_names(doc, path, text)
    splits = {}
    for split in ULTRALYTICS_SPLITS:
        value = doc.get(split)
        if value in (None, "", []):
            continue
        entries = value if isinstance(value, list) else [value]
        if not all(isinstance(entry, str) and entry for entry in entries):
            raise DataError(f"{split}: expected a folder or list file, or a list of them, found "
                            f"{value!r:.60}", file=path, line=key_line(text, split))
        splits[split] = tuple(resolve_source(root, entry, path, key_line(text, split))
                              for entry in entries)
    if not splits:
        raise DataError("no split: give train, val or test (a folder or list file of images)",
                        file=path)
    shape = doc.get("kpt_shape")
    keypoints = 0
    if shape is not None:
        if not (isinstance(shape, list) and shape and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
            raise DataError(f"kpt_shape must be a list of positive integers, found {shape!r:.40}",
                            file=path, line=key_line(text, "kpt_shape"))
        keypoints = math.prod(shape)
    return Dataset(root, names, splits, path, keypoints)


def yaml_root(value: Any, path: str, text: str) -> str:
    """`path:` as Ultralytics reads it: absolute, or relative to the yaml's folder or to the
    working folder; absent, or found nowhere (a yaml copied with its data), the yaml's folder."""
    here = os.path.dirname(os.path.abspath(path))
    if value in (None, ""):
        return here
    if not isinstance(value, str):
        raise DataError(f"path must be a folder name, found {value!r:.40}", file=path,
                        line=key_line(text, "path"))
    candidates = [value] if os.path.isabs(value) else [os.path.join(here, value),
                                                        os.path.abspath(value)]
    return next((os.path.normpath(c) for c in candidates if os.path.isdir(c)), here)


def yaml_names(doc: dict, path: str, text: str) -> tuple[str, ...]:
    names = doc.get("names")
    count = doc.get("nc")
    line = key_line(text, "names")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or count < 1):
        raise DataError(f"nc must be a positive integer, found {count!r:.40}", file=path,
                        line=key_line(text, "nc"))
    if names is None:
        if count is None:
            raise DataError("no names (the class names, index 0 first)", file=path)
        names = [f"class_{index}" for index in range(count)]      # as Ultralytics names them
    elif isinstance(names, dict):
        indices = sorted(names, key=lambda k: (not isinstance(k, int), str(k)))
        if any(isinstance(k, bool) or not isinstance(k, int) for k in indices) or \
                indices != list(range(len(indices))):
            raise DataError(f"names as a mapping needs the indices 0..{len(names) - 1}, found "
                            f"{', '.join(map(str, indices[:8]))}", file=path, line=line)
        names = [names[index] for index in indices]
    elif not isinstance(names, list):
        raise DataError(f"names must be a list or a mapping of index to name, found "
                        f"{names!r:.40}", file=path, line=line)
    if count is not None and count != len(names):
        raise DataError(f"nc is {count} but names has {len(names)} entries", file=path,
                        line=key_line(text, "nc"))
    return checked_names([None if n is None else str(n) for n in names], path, line)


def checked_names(names: list, path: str, line: int | None,
                  lines: list[int] | None = None) -> tuple[str, ...]:
    """Names must be non-empty and distinct: the OD API tells classes apart by name."""
    if not names:
        raise DataError("no class names", file=path, line=line)
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        where = lines[index] if lines else line
        if not name or not name.strip():
            raise DataError(f"class {index} has an empty name", file=path, line=where)
        if name in seen:
            raise DataError(f"classes {seen[name]} and {index} are both named {name!r}; the OD "
                            "API tells classes apart by name", file=path, line=where)
        seen[name] = index
    return tuple(names)


def resolve_source(root: str, entry: str, path: str, line: int | None) -> Source:
    """A split's folder or list file; Roboflow's `../train/images` is also tried without its
    `../`, as Ultralytics does."""
    candidates = [os.path.normpath(os.path.join(root, entry))]
    if entry.startswith("../"):
        candidates.append(os.path.normpath(os.path.join(root, entry[3:])))
    for candidate in candidates:
        if os.path.isdir(candidate):
            return Source(candidate, False)
        if os.path.isfile(candidate):
            return Source(candidate, True)
    raise DataError(f"{entry}: no such folder or list file (looked for {candidates[0]})",
                    file=path, line=line)


def parse_darknet(path: str, data_dir: str) -> Dataset:
    """obj.data: `key = value` lines. Its paths are relative to darknet's working folder, which
    is the --data-dir, the .data file's folder, or the folder above it."""
    text = read_text(path, "darknet .data file")
    values: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        key, equals, value = content.partition("=")
        if not equals:
            raise DataError(f"expected 'key = value', found {content[:60]!r}", file=path,
                            line=number)
        values[key.strip()] = (value.strip(), number)
    here = os.path.dirname(os.path.abspath(path))
    bases = list(dict.fromkeys([os.path.abspath(data_dir) if os.path.isdir(data_dir) else here,
                                here, os.path.dirname(here)]))
    if "names" not in values:
        raise DataError("no 'names =' line (the file of class names)", file=path)
    names_value, names_line = values["names"]
    names_path = find_in(bases, names_value)
    if names_path is None:
        raise DataError(f"names = {names_value}: not found (looked in {', '.join(bases)})",
                        file=path, line=names_line)
    names = read_names(names_path)
    if "classes" in values:
        count, count_line = values["classes"]
        if not count.isdigit() or int(count) != len(names):
            raise DataError(f"classes = {count} but {names_path} has {len(names)} names",
                            file=path, line=count_line)
    root = next(base for base in bases if os.path.exists(os.path.join(base, names_value)))
    splits = {}
    for split in DARKNET_SPLITS:
        if split not in values or not values[split][0]:
            continue
        value, line = values[split]
        found = find_in(bases, value)
        if found is None:
            raise DataError(f"{split} = {value}: not found (looked in {', '.join(bases)})",
                            file=path, line=line)
        splits[split] = (Source(found, os.path.isfile(found)),)
    if not splits:
        raise DataError("no 'train =' or 'valid =' line (the list files of images)", file=path)
    return Dataset(root, names, splits, path, 0)


def find_in(bases: list[str], value: str) -> str | None:
    if os.path.isabs(value):
        return value if os.path.exists(value) else None
    for base in bases:
        candidate = os.path.normpath(os.path.join(base, value))
        if os.path.exists(candidate):
            return candidate
    return None


def read_names(path: str) -> tuple[str, ...]:
    """One class name per line, index 0 first; blank lines at the end are ignored."""
    lines = read_text(path, "names file").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    names = [line.strip() for line in lines]
    return checked_names(names, path, None, list(range(1, len(names) + 1)))


def bare_folders(names_path: str, data_dir: str) -> Dataset:
    """images/ (flat: one split; else one split per subfolder) beside labels/."""
    names = read_names(names_path)
    images = os.path.join(os.path.abspath(data_dir), "images")
    entries = sorted(os.scandir(images), key=lambda e: e.name)
    if any(e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS) for e in entries):
        splits = {FLAT_SPLIT: (Source(images, False),)}
    else:
        splits = {e.name: (Source(e.path, False),) for e in entries
                  if e.is_dir() and not e.name.startswith(".")}
    if not splits:
        raise UsageError(f"--data-dir {data_dir}: images/ holds no images and no split folders")
    return Dataset(os.path.abspath(data_dir), names, splits, names_path, 0)


# -- listing -------------------------------------------------------------------------------
def chosen_splits(opts) -> list[str]:
    dataset = load_dataset(opts.data_dir)
    if opts.split is None:
        return list(dataset.splits)
    if opts.split not in dataset.splits:
        raise UsageError(f"--split {opts.split}: {dataset.described_by} has the splits "
                         f"{', '.join(dataset.splits)}")
    return [opts.split]


def list_items(opts) -> list[YoloItem]:
    dataset = load_dataset(opts.data_dir)
    items = []
    for split in chosen_splits(opts):
        for source in dataset.splits[split]:
            listed = list_file(source.path, dataset.root) if source.is_list else \
                list_folder(source.path)
            for image_path in listed:
                items.append(YoloItem(split, image_path, source_id(image_path, dataset.root),
                                      dataset.root if source.is_list else source.path))
    return items


def list_folder(folder: str) -> list[str]:
    """Every image under `folder`, in path order."""
    found = []
    for current, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [os.path.join(current, name) for name in files
                  if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def list_file(path: str, root: str) -> list[str]:
    """The image paths of a list file. Relative ones are read against the list's folder or the
    dataset root, whichever holds the first image that exists (darknet lists name paths from
    its working folder, Ultralytics ones from the list's)."""
    entries = []
    for number, line in enumerate(read_text(path, "image list").split("\n"), start=1):
        entry = line.strip()
        if "\x00" in entry:                # no file can have it: os calls would raise
            raise DataError("an image path contains a NUL byte", file=path, line=number)
        if entry and not entry.startswith("#"):
            entries.append(entry)
    bases = list(dict.fromkeys([os.path.dirname(path), root]))
    chosen = bases[0]
    for entry in entries[:50]:
        if os.path.isabs(entry):
            continue
        base = next((b for b in bases if os.path.exists(os.path.join(b, entry))), None)
        if base is not None:
            chosen = base
            break
    return [os.path.normpath(entry if os.path.isabs(entry) else os.path.join(chosen, entry))
            for entry in entries]


def source_id(image_path: str, root: str) -> str:
    relative = os.path.relpath(image_path, root)
    if relative.startswith(".."):
        return image_path.replace(os.sep, "/")
    return relative.replace(os.sep, "/")


# -- reading -------------------------------------------------------------------------------
def label_candidates(image_path: str) -> list[str]:
    """Where an image's label file may be: Ultralytics' rule, darknet's, beside the image."""
    stem = os.path.splitext(image_path)[0]
    candidates = []
    for folder in ("images", "JPEGImages"):
        marker = f"{os.sep}{folder}{os.sep}"
        if marker in stem:
            head, tail = stem.rsplit(marker, 1)
            candidates.append(f"{head}{os.sep}labels{os.sep}{tail}.txt")
    candidates.append(stem + ".txt")
    return candidates


def read_label_file(image_path: str) -> tuple[str | None, str]:
    """(label path, text); (None, "") when the image has no label file: a negative."""
    for candidate in label_candidates(image_path):
        try:
            data = read_dataset_file(candidate)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DataError(f"cannot read the label file: {exc.strerror or exc}",
                            file=candidate) from None
        try:
            return candidate, data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"not a text label file (byte 0x{data[exc.start]:02x})",
                            file=candidate, line=data.count(b"\n", 0, exc.start) + 1) from None
    return None, ""


class Label(NamedTuple):
    """One label line: the class index, the normalized box, the polygon if it is one."""

    class_index: int
    box: tuple[float, float, float, float]     # xmin, ymin, xmax, ymax in 0..1
    polygon: tuple[float, ...] | None           # x1, y1, x2, y2, ... in 0..1
    line: int


def parse_labels(text: str, path: str, num_classes: int, keypoint_values: int = 0
                 ) -> tuple[list[Label], list[DataError]]:
    """The label lines, and a DataError (file and line) for each line that cannot be read:
    one bad line is one bad object, not a bad image."""
    labels, errors = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            labels.append(parse_line(fields, path, number, num_classes, keypoint_values))
        except DataError as exc:
            errors.append(exc)
    return labels, errors


def parse_line(fields: list[str], path: str, number: int, num_classes: int,
               keypoint_values: int) -> Label:
    class_index = parse_class(fields[0], path, number, num_classes)
    values = []
    for position, token in enumerate(fields[1:], start=2):
        try:
            values.append(float(token))
        except ValueError:
            raise DataError(f"field {position} is not a number: {token[:40]!r}", file=path,
                            line=number) from None
    if keypoint_values and len(values) == 4 + keypoint_values:
        values = values[:4]
    if len(values) == 4:
        cx, cy, w, h = values
        return Label(class_index, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), None,
                     number)
    if len(values) >= 6 and len(values) % 2 == 0:
        xs, ys = values[0::2], values[1::2]
        return Label(class_index, (min(xs), min(ys), max(xs), max(ys)), tuple(values), number)
    expected = (f"'class cx cy w h' and {keypoint_values} keypoint values" if keypoint_values
                else "'class cx cy w h' or a polygon 'class x1 y1 x2 y2 x3 y3 ...'")
    raise DataError(f"expected {expected}, found {len(fields)} fields", file=path, line=number)


def parse_class(token: str, path: str, line: int, num_classes: int) -> int:
    """The class index, 0..N-1; anything else (-1 included) is an error, never wrapped."""
    try:
        value = float(token)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise DataError(f"the class {token[:40]!r} is not a class index", file=path, line=line)
    if not 0 <= value < num_classes:
        raise DataError(f"class index {int(value)} is outside 0..{num_classes - 1} (the "
                        f"dataset has {num_classes} names)", file=path, line=line)
    return int(value)


def read_item(item: YoloItem, opts) -> Sample:
    dataset = load_dataset(opts.data_dir)
    label_path, text = read_label_file(item.image_path)
    labels, errors = parse_labels(text, label_path, len(dataset.names),
                                  dataset.keypoint_values) if label_path else ([], [])
    masks: list = [None] * len(labels)
    if opts.include_masks and labels:
        masks = masks_for(labels, item.image_path, label_path)
        errors += [mask for mask in masks if isinstance(mask, DataError)]
    objects = [Object(dataset.names[label.class_index], *label.box, mask=mask)
               for label, mask in zip(labels, masks) if not isinstance(mask, DataError)]
    return Sample(source_id=item.source_id, filename=os.path.basename(item.image_path),
                  image_path=item.image_path, objects=objects, normalized=True,
                  split=item.split, image_root=item.image_root, object_errors=errors,
                  origin=label_path or item.image_path)


def masks_for(labels: list[Label], image_path: str, label_path: str) -> list:
    """One 0/1 mask per label at the image's size: the polygon, or the box as a rectangle,
    rasterised as the COCO format's masks are (`tfrconv.masks`); a DataError in place of the
    mask of a polygon that cannot be one."""
    from PIL import Image

    try:
        with Image.open(image_path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return [None] * len(labels)       # the core reports the unreadable image itself
    if width * height > masks.MAX_MASK_PIXELS:
        raise DataError(f"{width}x{height} is too large for instance masks", file=image_path)
    found = []
    for label in labels:
        if label.polygon is None:
            x0, y0, x1, y1 = label.box
            normalized = (x0, y0, x1, y0, x1, y1, x0, y1)
        else:
            normalized = label.polygon
        if not all(math.isfinite(v) and abs(v) <= masks.POLYGON_REACH for v in normalized):
            found.append(DataError("a polygon point is not a number near the image (0..1)",
                                   file=label_path, line=label.line))
            continue
        pixels = [v * (width if i % 2 == 0 else height) for i, v in enumerate(normalized)]
        try:
            found.append(masks.polygon_mask([pixels], width, height))
        except masks.MaskError as exc:
            found.append(DataError(str(exc), file=label_path, line=label.line))
    return found


# -- label map, classes, outputs -----------------------------------------------------------
def classes(opts) -> list[str]:
    """The names in index order (`ordered_classes`: the generated label map, and `labelmap
    from-data`, give class index i the id i + 1); checked against a given label map before any
    image is read."""
    return list(load_dataset(opts.data_dir).names)


def outputs(opts, output: str | None) -> dict[str, str]:
    """One split: --output as given. Several: `out.record` → out_train.record, out_val.record."""
    splits = chosen_splits(opts)
    if len(splits) == 1:
        return {splits[0]: output} if output else {}
    return split_outputs(output, splits)


def splits(path: str) -> dict[str, dict[str, Any]]:
    """The splits the dataset at `path` declares, each as the options that convert it."""
    return {split: {"data_dir": path, "split": split} for split in load_dataset(path).splits}


# -- detection -----------------------------------------------------------------------------
def detect(path: str) -> Detection:
    if os.path.isfile(path):
        if not path.endswith((".yaml", ".yml", ".data")):
            return Detection(0.0, f"{path} is not a data.yaml or obj.data")
        try:
            dataset = load_dataset(path)
        except (DataError, UsageError) as exc:
            return Detection(0.0, f"not a YOLO description: {exc}")
        return Detection(0.95, f"{path} describes a YOLO dataset ({len(dataset.names)} "
                         f"classes; splits {', '.join(dataset.splits)})",
                         options={"data_dir": path})
    if not os.path.isdir(path):
        return Detection(0.0, f"{path} does not exist")
    try:
        description = find_description(path)
    except UsageError:
        description = None
    if description is not None and not os.path.basename(description).endswith(
            (".txt", ".names")):
        try:
            dataset = load_dataset(path)
        except DataError as exc:
            return Detection(0.0, f"{os.path.basename(description)} is not a YOLO "
                             f"description: {exc}")
        return Detection(0.95, f"{os.path.relpath(description, path)} describes a YOLO dataset "
                         f"({len(dataset.names)} classes; splits {', '.join(dataset.splits)})")
    labels = os.path.join(path, "labels")
    if not (os.path.isdir(os.path.join(path, "images")) and os.path.isdir(labels)):
        return Detection(0.0, "no data.yaml, obj.data, or images/ and labels/ folders")
    reason = label_folder_problem(labels)
    if reason:
        return Detection(0.0, reason)
    if description is None:
        return Detection(0.5, "images/ and labels/ with YOLO label lines, but no class names "
                         "(add a data.yaml, or classes.txt with one name per line)")
    return Detection(0.9, f"images/ and labels/ with YOLO label lines; names in "
                     f"{os.path.relpath(description, path)}")


def label_folder_problem(labels: str) -> str | None:
    """Why a labels/ folder does not hold YOLO label files (None when its first few do)."""
    found = []
    for current, subfolders, files in os.walk(labels):
        subfolders.sort()
        found += [os.path.join(current, n) for n in sorted(files)
                  if n.endswith(".txt") and n != "classes.txt"]
        if len(found) >= DETECT_FILES:
            break
    if not found:
        return f"{labels} has no .txt label files"
    for label_path in found[:DETECT_FILES]:
        try:
            _labels, errors = parse_labels(read_text(label_path, "label file"), label_path,
                                           num_classes=1 << 30)
        except DataError as exc:
            errors = [exc]
        if errors:
            return f"{labels} does not hold YOLO labels: {errors[0]}"
    return None


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="yolo",
        help="YOLO (Ultralytics data.yaml, darknet obj.data, or images/ + labels/)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        classes=classes,
        ordered_classes=True,
        outputs=outputs,
        splits=splits,
    ))
