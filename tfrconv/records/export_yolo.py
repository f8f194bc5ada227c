"""Records → YOLO, in the Ultralytics layout:

    DIR/data.yaml                   one key per split (``train: images/train``), nc, and
                                    names in class-index order
    DIR/images/<split>/<name>       the stored image bytes
    DIR/labels/<split>/<stem>.txt   one line per box: ``class cx cy w h``, normalized

Class indices count from 0 in label-map id order (ids 1, 2, 5 → 0, 1, 2). YOLO has no crowd
regions: crowd objects (``is_crowd`` 1) are left out, and counted. data.yaml has no ``path``:
Ultralytics then reads the splits relative to the yaml's folder.
"""

from __future__ import annotations

import json

from ..sample import Sample
from .export_common import ClassIds, ExportFolder, FileNames, require_image

FORMAT = "yolo"
# YOLO class ids are needed while writing labels: the exporter needs the class ids up front.
NEEDS_CLASSES_FIRST = True


class YoloExporter:
    def __init__(self, folder: ExportFolder, class_ids: ClassIds) -> None:
        self.folder = folder
        ordered = class_ids.names_in_id_order()
        self.class_ids = class_ids
        self.index_of_id = {item_id: index for index, (item_id, _name) in enumerate(ordered)}
        self.names = [name for _id, name in ordered]
        self.files = FileNames()
        self.splits: list[str] = []
        self.images = 0
        self.crowd_skipped = 0

    def add(self, sample: Sample, split: str) -> None:
        data = require_image(sample)
        self.images += 1
        name = self.files.name_for(sample, self.images)
        if split not in self.splits:
            self.splits.append(split)
        self.folder.write_bytes(data, "images", split, name)
        lines = []
        for obj in sample.objects:
            if obj.is_crowd:
                self.crowd_skipped += 1
                continue
            index = self.index_of_id[self.class_ids.id_of(obj.label, sample)]
            values = ((obj.xmin + obj.xmax) / 2, (obj.ymin + obj.ymax) / 2,
                      obj.xmax - obj.xmin, obj.ymax - obj.ymin)
            lines.append(f"{index} " + " ".join(f"{value:.6f}" for value in values) + "\n")
        self.folder.write_text("".join(lines), "labels", split, name.rsplit(".", 1)[0] + ".txt")

    def finish(self, _class_ids_from_names=None) -> None:
        self.folder.write_text(data_yaml(self.splits, self.names), "data.yaml")

    def notes(self) -> list[str]:
        if not self.crowd_skipped:
            return []
        return [f"{self.crowd_skipped} crowd objects left out (YOLO has no crowd regions)"]


def data_yaml(splits: list[str], names: list[str]) -> str:
    """Names as JSON strings, which YAML reads as they are (quotes, colons, non-ASCII)."""
    lines = ["# written by tfrconv records export; paths relative to this file's folder"]
    lines += [f"{split}: images/{split}" for split in splits]
    lines.append(f"nc: {len(names)}")
    lines.append("names: [" + ", ".join(json.dumps(name, ensure_ascii=False)
                                        for name in names) + "]")
    return "\n".join(lines) + "\n"
