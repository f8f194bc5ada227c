"""Records → COCO, in the layout of the COCO download (what `tfrconv coco` reads by default):

    DIR/annotations/instances_<split>.json   images, annotations, categories of one split
    DIR/<split>/<file_name>                  the stored image bytes

Image ids are the records' source ids when every one of them is a whole number (what COCO
conversions store), else 1, 2, ... in record order; annotation ids count from 1. Boxes are
``[x, y, width, height]`` in pixels; ``iscrowd`` and ``area`` are kept (area: the stored
``image/object/area``, else the mask's pixels, else the box's); PNG instance masks become
compressed RLE (pycocotools). Categories are the label map's, in id order.

Memory stays flat in the number of examples: entries are streamed to JSON-lines files inside
the temporary folder and each instances JSON is written from them at the end, entry by entry,
as the very text ``json.dumps(document, indent=1)`` gives.
"""

from __future__ import annotations

import io
import json
import shutil

from ..errors import DataError
from ..sample import Object, Sample
from ..seen import SeenHashes
from .export_common import ExportFolder, FileNames, require_image, require_size

FORMAT = "coco"
INFO = {"description": "exported by tfrconv records export"}
_PARTS = ".coco-parts"                    # the streamed entries, inside the temporary folder
_U64 = 1 << 64


class CocoExporter:
    """Streams each split's image and annotation entries to two files of JSON lines as the
    records go by (nothing of an example stays in memory once it is written); `finish` decides
    the image ids and categories, which depend on every example, and writes each split's
    instances JSON from those files."""

    def __init__(self, folder: ExportFolder, class_ids) -> None:
        self.folder = folder
        self.class_ids = class_ids
        self.names = FileNames()
        self.splits: dict[str, SplitParts] = {}
        self.images = 0
        self.ids = ImageIds()
        self.labels: set[str] = set()      # class names met (the categories without a map)

    def add(self, sample: Sample, split: str) -> None:
        data = require_image(sample)
        width, height = require_size(sample)
        self.images += 1
        name = self.names.name_for(sample, self.images)
        self.folder.write_bytes(data, split, name)
        parts = self.splits.get(split)
        if parts is None:
            parts = self.splits[split] = SplitParts(self.folder.path(_PARTS, split))
        number = self.ids.add(sample.source_id)
        parts.add_image([self.images, number, name, width, height])
        for obj in sample.objects:
            category = obj.label if self.class_ids is None else \
                self.class_ids.id_of(obj.label, sample)
            self.labels.add(obj.label)
            parts.add_annotation([self.images, number, category,
                                  annotation(obj, width, height, sample)])

    def finish(self, class_ids_from_names) -> None:
        class_ids = self.class_ids or class_ids_from_names(self.labels)
        numbered = self.ids.all_distinct_numbers()
        categories = [{"id": item_id, "name": name, "supercategory": ""}
                      for item_id, name in class_ids.names_in_id_order()]

        def image_id(position: int, number: int | None) -> int:
            return number if numbered else position

        def category_id(value) -> int:
            return value if self.class_ids is not None else class_ids.label_map.resolve(value)

        for split, parts in self.splits.items():
            parts.close()
            images = ({"id": image_id(position, number), "file_name": name, "width": width,
                       "height": height}
                      for position, number, name, width, height in parts.images())
            annotations = ({"id": count, "image_id": image_id(position, number),
                            "category_id": category_id(category), **entry}
                           for count, (position, number, category, entry)
                           in enumerate(parts.annotations(), 1))
            with open(self.folder.path("annotations", f"instances_{split}.json"), "w",
                      encoding="utf-8", newline="\n") as out:
                write_document(out, images, annotations, categories)
        shutil.rmtree(self.folder.path(_PARTS), ignore_errors=True)


class SplitParts:
    """One split's image and annotation entries as JSON lines, in two files."""

    def __init__(self, prefix: str) -> None:
        self.paths = (prefix + ".images.jsonl", prefix + ".annotations.jsonl")
        # Open for the whole export; closed in `finish` (on failure the folder goes anyway).
        self.files = [open(path, "w", encoding="utf-8")  # noqa: SIM115
                      for path in self.paths]

    def add_image(self, entry: list) -> None:
        self.files[0].write(json.dumps(entry) + "\n")

    def add_annotation(self, entry: list) -> None:
        self.files[1].write(json.dumps(entry) + "\n")

    def close(self) -> None:
        for fileobj in self.files:
            fileobj.close()

    def images(self):
        return _lines(self.paths[0])

    def annotations(self):
        return _lines(self.paths[1])


def _lines(path: str):
    with open(path, encoding="utf-8") as fileobj:
        for line in fileobj:
            yield json.loads(line)


class ImageIds:
    """Whether the records' source ids are distinct whole numbers (COCO conversions store the
    image ids there), decided one id at a time: 16 bytes per image, not the ids themselves."""

    def __init__(self) -> None:
        self.numbers = SeenHashes()
        self.other_numbers: set[int] = set()       # negative, or beyond 64 bits: rare
        self.usable = True

    def add(self, source_id: str) -> int | None:
        """The id as a number (None when it is not one); remembers a repeat."""
        try:
            number = int(source_id)
        except ValueError:
            number = None
        if number is None or str(number) != source_id.strip():
            self.usable = False
            return None
        if 0 <= number < _U64:
            fresh = self.numbers.add(number)
        else:
            fresh = number not in self.other_numbers
            self.other_numbers.add(number)
        self.usable = self.usable and fresh
        return number

    def all_distinct_numbers(self) -> bool:
        return self.usable and (len(self.numbers) + len(self.other_numbers)) > 0


def write_document(out, images, annotations, categories) -> None:
    """The instances document, text for text as ``json.dumps(document, indent=1) + "\\n"``
    would give it, from entries that arrive one at a time."""
    out.write('{\n "info": ' + _nested(INFO, 1) + ',\n "licenses": [],\n "images": ')
    _write_array(out, images)
    out.write(',\n "annotations": ')
    _write_array(out, annotations)
    out.write(',\n "categories": ')
    _write_array(out, categories)
    out.write("\n}\n")


def _write_array(out, entries) -> None:
    """A member's list at depth 1, an entry at a time."""
    first = True
    for entry in entries:
        out.write("[\n  " if first else ",\n  ")
        out.write(_nested(entry, 2))
        first = False
    out.write("[]" if first else "\n ]")


def _nested(value, depth: int) -> str:
    """`value` as json.dumps(indent=1) writes it `depth` levels down (JSON strings hold no raw
    line breaks, so indenting every line is safe)."""
    return json.dumps(value, indent=1).replace("\n", "\n" + " " * depth)


def annotation(obj: Object, width: int, height: int, sample: Sample) -> dict:
    x, y = obj.xmin * width, obj.ymin * height
    w, h = (obj.xmax - obj.xmin) * width, (obj.ymax - obj.ymin) * height
    entry: dict = {"bbox": [_round(x), _round(y), _round(w), _round(h)],
                   "iscrowd": int(obj.is_crowd or 0)}
    area = obj.area
    if obj.mask is not None:
        rle, mask_area = _rle(obj.mask, width, height, sample)
        entry["segmentation"] = rle
        area = mask_area if area is None else area
    entry["area"] = float(area) if area is not None else _round(w * h)
    return entry


def _rle(png: bytes, width: int, height: int, sample: Sample) -> tuple[dict, float]:
    import numpy as np
    from PIL import Image
    from pycocotools import mask as mask_api

    try:
        with Image.open(io.BytesIO(png)) as image:
            pixels = np.asarray(image.convert("L"))
    except Exception as exc:                 # Pillow raises many kinds on bad bytes
        raise DataError(f"an instance mask is not a readable PNG: {exc}",
                        file=sample.origin) from None
    if pixels.shape != (height, width):
        raise DataError(f"an instance mask is {pixels.shape[1]}x{pixels.shape[0]}, the image "
                        f"{width}x{height}", file=sample.origin)
    binary = np.asfortranarray((pixels > 0).astype(np.uint8))
    rle = mask_api.encode(binary)
    area = float(mask_api.area(rle))
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}, area


def _round(value: float) -> float:
    """Pixels to 1/10,000 of a pixel: float32 noise (47.99999809) reads as 48.0."""
    return round(float(value), 4)
