"""Records → Pascal VOC, in the VOC2012 folder layout `tfrconv voc --data-dir DIR` reads:

    DIR/Annotations/<stem>.xml        one <annotation> per image
    DIR/JPEGImages/<stem>.<ext>       the stored image bytes
    DIR/ImageSets/Main/<split>.txt    the stems of each split, in record order
    DIR/label_map.pbtxt               the classes and their ids (what `tfrconv voc` uses)

Boxes are written in pixels, each as the shortest number that normalizes back to the float32
the record holds; difficult, truncated, occluded and pose (``image/object/view``) are kept.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from ..images import sniff
from ..sample import Object, Sample
from .export_common import ExportFolder, FileNames, pixel, require_image, require_size

FORMAT = "voc"


class VocExporter:
    def __init__(self, folder: ExportFolder, class_ids) -> None:
        self.folder = folder
        self.class_ids = class_ids            # ClassIds, or None: built from the names seen
        self.names = FileNames()
        self.splits: dict[str, list[str]] = {}
        self.seen_classes: set[str] = set()

    def add(self, sample: Sample, split: str) -> None:
        data = require_image(sample)
        width, height = require_size(sample)
        name = self.names.name_for(sample, sum(map(len, self.splits.values())))
        stem = name.rsplit(".", 1)[0]
        self.folder.write_bytes(data, "JPEGImages", name)
        self.folder.write_text(annotation_xml(sample, name, width, height),
                               "Annotations", stem + ".xml")
        self.splits.setdefault(split, []).append(stem)
        self.seen_classes.update(obj.label for obj in sample.objects)

    def finish(self, class_ids_from_names) -> None:
        for split, stems in self.splits.items():
            self.folder.write_text("".join(stem + "\n" for stem in stems),
                                   "ImageSets", "Main", split + ".txt")
        class_ids = self.class_ids or class_ids_from_names(self.seen_classes)
        self.folder.write_text(class_ids.label_map.to_text(), "label_map.pbtxt")


def annotation_xml(sample: Sample, filename: str, width: int, height: int) -> str:
    depth = sniff(sample.image_bytes).channels or 3
    lines = ["<annotation>",
             "  <folder>JPEGImages</folder>",
             f"  <filename>{escape(filename)}</filename>",
             f"  <size><width>{width}</width><height>{height}</height>"
             f"<depth>{depth}</depth></size>",
             "  <segmented>0</segmented>"]
    lines += [_object_xml(obj, width, height) for obj in sample.objects]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def _object_xml(obj: Object, width: int, height: int) -> str:
    parts = [f"<name>{escape(obj.label)}</name>",
             f"<pose>{escape(obj.pose or 'Unspecified')}</pose>",
             f"<truncated>{_int(obj.truncated)}</truncated>"]
    if obj.occluded is not None:
        parts.append(f"<occluded>{int(obj.occluded)}</occluded>")
    parts.append(f"<difficult>{int(bool(obj.difficult))}</difficult>")
    box = "".join(f"<{tag}>{pixel(value, size)}</{tag}>" for tag, value, size in (
        ("xmin", obj.xmin, width), ("ymin", obj.ymin, height),
        ("xmax", obj.xmax, width), ("ymax", obj.ymax, height)))
    parts.append(f"<bndbox>{box}</bndbox>")
    return "  <object>" + "".join(parts) + "</object>"


def _int(value) -> int:
    """VOC's truncated is 0/1; KITTI's fraction (a float) rounds to whether it is truncated."""
    if value is None:
        return 0
    return int(value) if not isinstance(value, float) else int(value > 0)
