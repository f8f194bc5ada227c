"""Oxford-IIIT Pet: `tfrconv pets --data-dir oxford-iiit-pet --output-dir out [--faces-only |
--full-body] [--mask-type png|numerical] [--num-shards 10]`.

Reads `images/`, `annotations/xmls/` (head boxes), `annotations/trimaps/` and the image lists
(`annotations/trainval.txt`, `test.txt` or `list.txt`) and writes train and val files as the
reference `create_pet_tf_record.py` does: `pet_faces_{train,val}.record-?????-of-00010`, or
`pets_fullbody_with_masks_{train,val}...` with --full-body, with the same 70/30 split (Python
random, seed 42), the same shard of every image (its index in the split list modulo N) and the
same features. The class is the breed from the file name (the XML says only cat or dog).

Where the reference drops images with a warning (no XML, not a JPEG, a bad trimap) tfrconv skips
and counts them, names them in the summary and the report, and fails when nothing is left, so a
run can no longer produce empty files without a word. PNG images, which the OD API reads,
are converted instead of refused.
"""

from __future__ import annotations

import io
import os
import re

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    Object,
    Option,
    Sample,
    UsageError,
    hookimpl,
    open_dataset_file,
    parse_annotation_xml,
    read_dataset_file,
    xml_number,
)

# The reference's breed rule, applied to the image file name.
BREED = re.compile(r"([A-Za-z_]+)(_[0-9]+\.jpg)", re.IGNORECASE)
TRAIN_FRACTION = 0.7
SEED = 42
BACKGROUND = 2                 # trimap values: 1 pet, 2 background, 3 border
OUTPUT_NAMES = {False: "pet_faces", True: "pets_fullbody_with_masks"}

OPTIONS = (
    Option("data_dir", "the dataset folder holding images/ and annotations/", "path",
           required=True, metavar="DIR"),
    Option("output_dir", "folder for the record files (named as the reference names them)",
           "path", required=True, metavar="DIR"),
    Option("faces_only", "head boxes from the XML (the default)", "bool"),
    Option("full_body", "whole-pet box and mask from the trimap instead of the head box",
           "bool", default=False),
    Option("mask_type", "full-body masks as one PNG per object (png) or a flat float list "
           "(numerical)", "choice", choices=("png", "numerical"), default="png"),
    Option("split", "reference: trainval.txt shuffled with seed 42, the first 0.7 of it train, "
           "the rest val (as the reference); official: trainval.txt and test.txt as they are "
           "(outputs ..._trainval and ..._test)", "choice",
           choices=("reference", "official"), default="reference"),
)


# -- layout and split ----------------------------------------------------------------------
def _annotations(opts) -> str:
    return os.path.join(opts.data_dir, "annotations")


def _full_body(opts) -> bool:
    if opts.full_body and opts.faces_only:
        raise UsageError("pets: --faces-only and --full-body exclude each other")
    return bool(opts.full_body) or opts.faces_only is False


def read_list(path: str) -> list[str]:
    """First word of every line, as the reference's read_examples_list (blank lines kept as ''
    so a shuffle sees the same list); '#' comment lines of list.txt are left out."""
    try:
        with open_dataset_file(path, encoding="utf-8-sig") as fileobj:
            lines = fileobj.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the image list: {exc}", file=path) from None
    return [(line.split() or [""])[0] for line in lines if not line.startswith("#")]


def splits(opts) -> dict[str, list[str]]:
    """Split name → image names in output order ('' entries are placeholders, not images)."""
    if not os.path.isdir(opts.data_dir):
        raise UsageError(f"--data-dir {opts.data_dir}: no such folder")
    folder = _annotations(opts)
    trainval = os.path.join(folder, "trainval.txt")
    if opts.split == "official":
        test = os.path.join(folder, "test.txt")
        missing = [p for p in (trainval, test) if not os.path.isfile(p)]
        if missing:
            raise UsageError(f"--split official needs {' and '.join(missing)}")
        return {"trainval": read_list(trainval), "test": read_list(test)}
    import random  # the trainval split only

    names = _reference_list(opts, trainval)
    random.Random(SEED).shuffle(names)     # same sequence as random.seed(42); random.shuffle
    cut = int(TRAIN_FRACTION * len(names))
    return {"train": names[:cut], "val": names[cut:]}


def _reference_list(opts, trainval: str) -> list[str]:
    """trainval.txt (the reference's list); else list.txt; else every image in images/."""
    if os.path.isfile(trainval):
        return read_list(trainval)
    listing = os.path.join(_annotations(opts), "list.txt")
    if os.path.isfile(listing):
        return read_list(listing)
    images = os.path.join(opts.data_dir, "images")
    if not os.path.isdir(images):
        raise UsageError(f"{opts.data_dir}: no annotations/trainval.txt, annotations/list.txt "
                         "or images/ folder (is this the Oxford-IIIT Pet folder?)")
    return sorted(os.path.splitext(n)[0] for n in os.listdir(images)
                  if n.lower().endswith(".jpg"))


def outputs(opts, output) -> dict[str, str]:
    base = OUTPUT_NAMES[_full_body(opts)]
    return {split: os.path.join(opts.output_dir, f"{base}_{split}.record")
            for split in splits(opts)}


def list_items(opts) -> list[tuple[str, str, int]]:
    """(image name, split, index in the split list); the index is the reference's shard key."""
    _full_body(opts)
    return [(name, split, index) for split, names in splits(opts).items()
            for index, name in enumerate(names) if name]


def classes(opts) -> list[str]:
    names = [name for listed in splits(opts).values() for name in listed if name]
    return sorted({m.group(1) for m in map(BREED.match, (n + ".jpg" for n in names)) if m})


# -- reading -------------------------------------------------------------------------------
def read_item(item, opts) -> Sample:
    name, split, index = item
    full_body = _full_body(opts)
    xml_path = os.path.join(_annotations(opts), "xmls", name + ".xml")
    if not os.path.isfile(xml_path):
        raise DataError("no XML annotation for this image (the reference skips it too)",
                        file=xml_path)
    root = parse_annotation_xml(xml_path)      # lxml: every message names its line
    filename = (root.findtext("filename") or "").strip() or name + ".jpg"
    match = BREED.match(filename)
    if match is None:
        raise DataError(f"file name {filename!r} does not give a breed (<Breed>_<number>.jpg)",
                        file=xml_path)
    breed = match.group(1)
    size = root.find("size")
    width = _number(size, "width", xml_path) if size is not None else None
    height = _number(size, "height", xml_path) if size is not None else None
    width, height = (int(width) if width else None), (int(height) if height else None)
    body = _trimap_box_and_mask(name, opts, width, height) if full_body else None
    objects = []
    for element in root.iterfind("object"):
        difficult = int(_number(element, "difficult", xml_path) or 0)
        if body is not None:
            xmin, ymin, xmax, ymax, mask = body
        else:
            box = element.find("bndbox")
            if box is None:
                raise DataError("an <object> has no <bndbox>", file=xml_path,
                                line=element.sourceline)
            coords = [_number(box, tag, xml_path) for tag in ("xmin", "ymin", "xmax", "ymax")]
            if any(c is None for c in coords):
                raise DataError("<bndbox> needs xmin, ymin, xmax and ymax", file=xml_path,
                                line=box.sourceline)
            (xmin, ymin, xmax, ymax), mask = coords, None
        objects.append(Object(
            breed, xmin, ymin, xmax, ymax, difficult=bool(difficult),
            truncated=int(_number(element, "truncated", xml_path) or 0),
            pose=(element.findtext("pose") or "").strip() or "Unspecified", mask=mask))
    images = os.path.join(opts.data_dir, "images")
    image_path = os.path.join(images, filename)
    if not os.path.exists(image_path) and os.path.exists(os.path.join(images, name + ".jpg")):
        image_path = os.path.join(images, name + ".jpg")
    return Sample(source_id=filename, filename=filename, image_path=image_path, width=width,
                  height=height, objects=objects, split=split, shard_key=index,
                  mask_type=opts.mask_type, origin=xml_path, image_root=images)


def _number(element, tag: str, path: str):
    """The first <tag> child's number, as findtext() finds it (None when absent or blank)."""
    return xml_number(element.find(tag), tag, path)


def _trimap_box_and_mask(name: str, opts, width: int | None, height: int | None):
    """The reference's full-body rule: rows and columns holding any non-background pixel give
    the box (max = the last such index, inclusive); the mask is trimap != background."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    path = os.path.join(_annotations(opts), "trimaps", name + ".png")
    try:
        data = read_dataset_file(path)
    except FileNotFoundError:
        raise DataError("no trimap for this image (needed by --full-body)", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the trimap: {exc.strerror or exc}", file=path) from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise DataError(f"the trimap is {image.format}, not PNG", file=path)
            trimap = np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot decode the trimap: {exc}", file=path) from None
    if trimap.ndim != 2:
        raise DataError(f"the trimap must have one channel, it has shape {trimap.shape}",
                        file=path)
    if width and height and trimap.shape != (height, width):
        raise DataError(f"the trimap is {trimap.shape[1]}x{trimap.shape[0]} but the XML says "
                        f"{width}x{height}", file=path)
    foreground = trimap != BACKGROUND
    columns = np.flatnonzero(foreground.any(axis=0))
    rows = np.flatnonzero(foreground.any(axis=1))
    if not len(columns):
        raise DataError("the trimap has no pet pixel (every value is background)", file=path)
    mask = foreground.astype(np.uint8)
    return (float(columns.min()), float(rows.min()), float(columns.max()), float(rows.max()),
            mask)


def default_label_map(opts) -> str:
    return "pets"                        # the OD API's pet_label_map.pbtxt: 37 breeds


# -- detection -----------------------------------------------------------------------------
def detect(path: str) -> Detection:
    images = os.path.join(path, "images")
    annotations = os.path.join(path, "annotations")
    if not os.path.isdir(images) or not os.path.isdir(annotations):
        return Detection(0.0, "no images/ and annotations/ folders (Oxford-IIIT Pet layout)")
    names = [n for n in sorted(os.listdir(images)) if n.lower().endswith(".jpg")][:20]
    if not names:
        return Detection(0.0, f"{images} has no .jpg images")
    if not any(BREED.match(n) for n in names):
        return Detection(0.0, f"image names in {images} are not <Breed>_<number>.jpg")
    parts = [p for p in ("xmls", "trimaps", "trainval.txt", "list.txt")
             if os.path.exists(os.path.join(annotations, p))]
    if not parts:
        return Detection(0.0, f"{annotations} has no xmls/, trimaps/, trainval.txt or list.txt")
    return Detection(0.5 + 0.1 * len(parts), "Oxford-IIIT Pet layout: images/ named by breed, "
                     f"annotations/ with {', '.join(parts)}")


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="pets",
        help="Oxford-IIIT Pet (head boxes, or full-body boxes and masks from the trimaps)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        default_label_map=default_label_map,
        classes=classes,
        outputs=outputs,
        object_fields=frozenset({"difficult", "truncated", "pose"}),
        uses_output=False,
        default_num_shards=10,
        # As the reference: an image without XML, or one the OD API cannot use, is skipped (and
        # counted, and a run where every image is skipped fails). --on-error error to be strict.
        default_policies={"bad_annotation": "skip", "bad_image": "skip"},
    ))
