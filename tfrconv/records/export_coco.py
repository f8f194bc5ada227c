"""Records → COCO, in the layout of the COCO download (what `tfrconv coco` reads by default):

    DIR/annotations/instances_<split>.json   images, annotations, categories of one split
    DIR/<split>/<file_name>                  the stored image bytes

Image ids are the records' source ids when every one of them is a whole number (what COCO
conversions store), else 1, 2, ... in record order; annotation ids count from 1. Boxes are
``[x, y, width, height]`` in pixels; ``iscrowd`` and ``area`` are kept (area: the stored
``image/object/area``, else the mask's pixels, else the box's); PNG instance masks become
compressed RLE (pycocotools). Categories are the label map's, in id order.
"""

from __future__ import annotations

import io
import json

from ..errors import DataError
from ..sample import Object, Sample
from .export_common import ExportFolder, FileNames, require_image, require_size

FORMAT = "coco"


class CocoExporter:
    def __init__(self, folder: ExportFolder, class_ids) -> None:
        self.folder = folder
        self.class_ids = class_ids
        self.names = FileNames()
        # split -> (image entries, [(annotation entry, its image entry, class name, sample)])
        self.splits: dict[str, tuple[list[dict], list[tuple[dict, dict, str, Sample]]]] = {}
        self.images = 0

    def add(self, sample: Sample, split: str) -> None:
        data = require_image(sample)
        width, height = require_size(sample)
        self.images += 1
        name = self.names.name_for(sample, self.images)
        self.folder.write_bytes(data, split, name)
        images, annotations = self.splits.setdefault(split, ([], []))
        image = {"id": sample.source_id, "file_name": name, "width": width, "height": height}
        images.append(image)
        for obj in sample.objects:
            annotations.append((annotation(obj, width, height, sample), image, obj.label,
                                sample))

    def finish(self, class_ids_from_names) -> None:
        class_ids = self.class_ids or class_ids_from_names(
            {label for _images, anns in self.splits.values() for *_rest, label, _s in anns})
        all_images = [image for images, _anns in self.splits.values() for image in images]
        for image, new_id in zip(all_images, _image_ids([image["id"] for image in all_images])):
            image["id"] = new_id
        categories = [{"id": item_id, "name": name, "supercategory": ""}
                      for item_id, name in class_ids.names_in_id_order()]
        for split, (images, entries_of_split) in self.splits.items():
            entries = [{"id": number, "image_id": image["id"],
                        "category_id": class_ids.id_of(label, sample), **entry}
                       for number, (entry, image, label, sample)
                       in enumerate(entries_of_split, 1)]
            document = {"info": {"description": "exported by tfrconv records export"},
                        "licenses": [], "images": images, "annotations": entries,
                        "categories": categories}
            self.folder.write_text(json.dumps(document, indent=1) + "\n",
                                   "annotations", f"instances_{split}.json")


def _image_ids(source_ids: list[str]) -> list[int]:
    """The source ids as numbers when all are distinct whole numbers, else 1..N."""
    try:
        numbers = [int(value) for value in source_ids]
    except ValueError:
        numbers = []
    if numbers and len(set(numbers)) == len(numbers) and \
            all(str(n) == s.strip() for n, s in zip(numbers, source_ids)):
        return numbers
    return list(range(1, len(source_ids) + 1))


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
