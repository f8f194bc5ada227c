"""KITTI object: `tfrconv kitti --data-dir kitti --output kitti.record`.

Reads `training/image_2/` and `training/label_2/` (the KITTI object download unpacked in one
folder), the `training/` folder itself, or the reference's layout with the images under
`data_object_image_2/training/image_2/`. Like the reference `create_kitti_tf_record.py` it writes
a train and a val file in one run (`kitti_train.record`, `kitti_val.record`), puts frames whose
number is below --validation-set-size into val, keeps the --classes it is given (any case), and
drops every box that overlaps a DontCare region when `dontcare` is among them. Features equal
the reference's (float `truncated`, `alpha`, `3d_bbox/*`, `difficult` all 0) except that
`image/format` is the image's true format and filename/source_id are the image's file name
instead of the full path of the machine that converted it.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    LabelMap,
    Object,
    Option,
    Sample,
    UsageError,
    hookimpl,
    load_label_map,
    read_dataset_file,
)
from tfrconv import keys as K

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DONTCARE = "dontcare"
RECORD_EXTENSIONS = (".record", ".tfrecord", ".tfrecords")

OPTIONS = (
    Option("data_dir", "the KITTI object folder (holding training/), or training/ itself "
           "(image_2/, label_2/)", "path", required=True, metavar="DIR"),
    Option("classes", "classes to keep, comma-separated, any case; with 'dontcare' every box "
           "that overlaps a DontCare region is dropped too", "list",
           default="car,pedestrian,dontcare", metavar="A,B,...", aliases=("--classes-to-use",)),
    Option("validation_set_size", "frames numbered below N go to the val output, the rest to "
           "train (the reference rule; 0 = all train)", "int", default=500, metavar="N"),
)

# Columns of a label line (KITTI devkit readme), after the type.
COLUMNS = ("truncated", "occluded", "alpha", "left", "top", "right", "bottom", "height",
           "width", "length", "x", "y", "z", "rotation_y")
# Per-object features the reference writes from those columns: key → column.
EXTRA_FEATURES = (
    (K.OBJECT_ALPHA, "alpha"),
    (K.OBJECT_3D_BBOX_HEIGHT, "height"),
    (K.OBJECT_3D_BBOX_WIDTH, "width"),
    (K.OBJECT_3D_BBOX_LENGTH, "length"),
    (K.OBJECT_3D_BBOX_X, "x"),
    (K.OBJECT_3D_BBOX_Y, "y"),
    (K.OBJECT_3D_BBOX_Z, "z"),
    (K.OBJECT_3D_BBOX_ROT_Y, "rotation_y"),
)


class KittiLabel(NamedTuple):
    """One parsed label line: the lower-cased type and the 14 numbers after it."""

    type: str
    values: dict[str, float]
    line: int

    def box(self) -> tuple[float, float, float, float]:
        v = self.values
        return v["left"], v["top"], v["right"], v["bottom"]


class KittiItem(NamedTuple):
    name: str                     # the image file name (or the label's stem + .png)
    image_path: str | None
    label_path: str | None
    image_dir: str
    label_dir: str


# -- layout --------------------------------------------------------------------------------
def layout(data_dir: str) -> tuple[str, str]:
    """(image folder, label folder) for the object root, training/, or the reference layout."""
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data-dir {data_dir}: no such folder")
    labels = [os.path.join(data_dir, "label_2"), os.path.join(data_dir, "training", "label_2"),
              os.path.join(data_dir, "data_object_label_2", "training", "label_2")]
    images = [os.path.join(data_dir, "image_2"), os.path.join(data_dir, "training", "image_2"),
              os.path.join(data_dir, "data_object_image_2", "training", "image_2")]
    parent = os.path.dirname(os.path.abspath(data_dir))
    if os.path.basename(os.path.abspath(data_dir)) == "training":
        images.append(os.path.join(parent, "data_object_image_2", "training", "image_2"))
    label_dir = next((d for d in labels if os.path.isdir(d)), None)
    found_images = next((d for d in images if os.path.isdir(d)), None)
    if label_dir is None:
        hint = " (the KITTI test set has no labels)" if os.path.isdir(
            os.path.join(data_dir, "testing")) or data_dir.rstrip("/").endswith("testing") \
            else ""
        raise UsageError(f"--data-dir {data_dir}: no training/label_2/ or label_2/ folder{hint}")
    if found_images is None:
        raise UsageError(f"--data-dir {data_dir}: labels in {label_dir} but no image folder "
                         f"(looked for {', '.join(images[:3])})")
    return found_images, label_dir


def _frame(name: str) -> int | None:
    """The frame number of a file name (the part before the first dot), if it is one."""
    stem = name.split(".", 1)[0]
    return int(stem) if stem.isascii() and stem.isdigit() else None


def _key(name: str):
    number = _frame(name)
    return number if number is not None else name.split(".", 1)[0]


def list_items(opts) -> list[KittiItem]:
    image_dir, label_dir = layout(opts.data_dir)
    selected_classes(opts)                          # a bad --classes fails before any work
    _check_split_size(opts)
    images = sorted(n for n in os.listdir(image_dir) if not n.startswith(".")
                    and n.lower().endswith(IMAGE_EXTENSIONS)
                    and os.path.isfile(os.path.join(image_dir, n)))
    labels = {}
    for name in sorted(os.listdir(label_dir)):
        if name.endswith(".txt") and not name.startswith("."):
            labels.setdefault(_key(name), name)
    items = []
    matched = set()
    for name in images:
        label = labels.get(_key(name))
        if label is not None:
            matched.add(_key(name))
        items.append(KittiItem(name, os.path.join(image_dir, name),
                               None if label is None else os.path.join(label_dir, label),
                               image_dir, label_dir))
    # A label without its image is reported (missing image), never dropped without a word.
    for key, label in sorted(labels.items(), key=lambda kv: kv[1]):
        if key not in matched:
            items.append(KittiItem(label[:-4] + ".png", None, os.path.join(label_dir, label),
                                   image_dir, label_dir))
    return items


def _check_split_size(opts) -> None:
    if opts.validation_set_size < 0:
        raise UsageError(f"--validation-set-size must be 0 or more, got "
                         f"{opts.validation_set_size}")


# -- reading -------------------------------------------------------------------------------
def parse_labels(path: str) -> list[KittiLabel]:
    """Every object line of a label file. Blank lines are skipped; a short or non-numeric line
    is a DataError naming the file and the line."""
    try:
        data = read_dataset_file(path)
    except FileNotFoundError:
        raise DataError("label file not found", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the label file: {exc.strerror}", file=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not a text label file (bad byte at offset {exc.start})", file=path) \
            from None
    labels = []
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 1 + len(COLUMNS):
            raise DataError(f"expected 15 values (type, truncated, occluded, alpha, 4 box, 3 "
                            f"dimensions, 3 location, rotation_y), found {len(fields)}",
                            file=path, line=number)
        values = {}
        for column, token in zip(COLUMNS, fields[1:]):
            try:
                values[column] = float(token)
            except ValueError:
                raise DataError(f"{column} is not a number: {token[:40]!r}", file=path,
                                line=number) from None
        labels.append(KittiLabel(fields[0].lower(), values, number))
    return labels


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether two (left, top, right, bottom) boxes share area: the reference's IoU > 0."""
    if any(math.isnan(v) for v in (*a, *b)):
        return False
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width > 0 and height > 0


def keep(labels: list[KittiLabel], classes: list[str]) -> list[KittiLabel]:
    """The reference's filter: the chosen classes; with dontcare, also no box that overlaps a
    DontCare region (and never the DontCare boxes themselves)."""
    chosen = [label for label in labels if label.type in classes]
    if DONTCARE not in classes:
        return chosen
    regions = [label.box() for label in chosen if label.type == DONTCARE]
    return [label for label in chosen if label.type != DONTCARE
            and not any(overlaps(label.box(), region) for region in regions)]


def read_item(item: KittiItem, opts) -> Sample:
    if item.label_path is None:
        frame = _frame(item.name)
        expected = f"{frame:06d}.txt" if frame is not None else item.name.split(".")[0] + ".txt"
        raise DataError(f"no label file for image {item.name} (expected "
                        f"{os.path.join(item.label_dir, expected)})",
                        file=os.path.join(item.image_dir, item.name))
    objects = []
    for label in keep(parse_labels(item.label_path), selected_classes(opts)):
        values = label.values
        objects.append(Object(
            label.type, *label.box(), difficult=False, truncated=float(values["truncated"]),
            extra={key: float(values[column]) for key, column in EXTRA_FEATURES}))
    frame = _frame(item.name)
    split = "val" if frame is not None and frame < opts.validation_set_size else "train"
    image_path = item.image_path or os.path.join(item.image_dir, item.name)
    return Sample(source_id=item.name, filename=item.name, image_path=image_path,
                  objects=objects, split=split, origin=item.label_path,
                  image_root=item.image_dir)


# -- options, outputs, label map -----------------------------------------------------------
def selected_classes(opts) -> list[str]:
    classes = list(dict.fromkeys(c.strip().lower() for c in opts.classes if c.strip()))
    if not [c for c in classes if c != DONTCARE]:
        raise UsageError("--classes: name at least one class to keep (e.g. car,pedestrian)")
    return classes


def classes(opts) -> list[str]:
    """The kept classes: checked against the label map before any file is read."""
    return [c for c in selected_classes(opts) if c != DONTCARE]


def default_label_map(opts):
    """The builtin `kitti` map (car 1, pedestrian 2) when it covers --classes; otherwise one
    generated from --classes in the order given (ids 1..N)."""
    wanted = classes(opts)
    builtin = load_label_map("kitti")
    if all(builtin.resolve(name) is not None for name in wanted):
        return "kitti"
    return LabelMap.from_names(wanted, source="generated from --classes")


def outputs(opts, output: str | None) -> dict[str, str]:
    """`kitti.record` → kitti_train.record and kitti_val.record; a name without a record
    extension gets the reference's `<output>_train.tfrecord` and `<output>_val.tfrecord`."""
    if not output:
        return {}
    base, extension = os.path.splitext(output)
    if extension.lower() in RECORD_EXTENSIONS:
        return {"train": f"{base}_train{extension}", "val": f"{base}_val{extension}"}
    return {"train": f"{output}_train.tfrecord", "val": f"{output}_val.tfrecord"}


def detect(path: str) -> Detection:
    try:
        image_dir, label_dir = layout(path)
    except UsageError as exc:
        if os.path.isdir(path):
            return Detection(0.0, f"no KITTI label_2/ folder with its image_2/ ({exc.message})")
        return Detection(0.0, f"{path} is not a folder")
    names = sorted(n for n in os.listdir(label_dir) if n.endswith(".txt"))[:5]
    if not names:
        return Detection(0.0, f"{label_dir} has no .txt label files")
    for name in names:
        try:
            parse_labels(os.path.join(label_dir, name))
        except DataError as exc:
            return Detection(0.0, f"{label_dir} does not hold KITTI labels: {exc}")
    return Detection(0.9, f"{label_dir} holds KITTI object labels, images in {image_dir}")


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="kitti",
        help="KITTI object detection (training/image_2 + label_2; writes train and val)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        default_label_map=default_label_map,
        classes=classes,
        outputs=outputs,
        object_fields=frozenset({"difficult"}),
    ))
