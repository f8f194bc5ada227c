"""One split's numbers, accumulated one decoded example at a time in constant memory.

Nothing here grows with the number of images: boxes go into fixed-edge histograms and a grid
(`histograms.py`), quantiles come from `tfrconv.stats`' seeded reservoirs, and the per-class and
per-size tables are capped counters. Class names are the example's own text, else the label
map's name for its label, else ``id N`` (what `tfrconv.draw` shows).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import features as F
from .. import keys as K
from ..images import sniff
from ..stats import CappedCounter, NumberStats
from .histograms import Grid, Histogram

MAX_CLASSES = 2_000
MAX_ERRORS_KEPT = 20
BOXES_PER_IMAGE_BINS = 40
QUANTILE_SAMPLE = 5_000
BOX_TITLES = {"width_px": "box width (pixels)", "height_px": "box height (pixels)",
              "aspect": "aspect ratio (width / height)", "area": "box area (fraction of image)"}


def box_histograms() -> dict[str, Histogram]:
    """The box distributions every split shares the axes of: name → empty histogram."""
    return {
        "width_px": Histogram.log(1, 10_000, 64),
        "height_px": Histogram.log(1, 10_000, 64),
        "aspect": Histogram.log(0.01, 100, 64),          # width / height in pixels
        "area": Histogram.log(1e-6, 1, 60),               # fraction of the image
    }


class SplitStats:
    """Everything the report shows about one split."""

    def __init__(self, name: str, label_map=None) -> None:
        self.name = name
        self._by_id = label_map.by_id() if label_map is not None else {}
        self.files: list[str] = []
        self.examples = self.objects = self.empty_images = 0
        self.classes: dict[str, list[int]] = {}          # name → [objects, images]
        self.class_labels: dict[str, set[int]] = {}      # name → labels written with it
        self.per_image = Histogram.integers(BOXES_PER_IMAGE_BINS)
        self.boxes = box_histograms()
        self.quantiles = {name: NumberStats(QUANTILE_SAMPLE) for name in self.boxes}
        self.centres = Grid()
        self.nan_boxes = self.degenerate = self.outside = 0
        self.formats = CappedCounter(50)
        self.sizes = CappedCounter(1_000)
        self.no_image = 0
        self.read_errors = 0
        self.errors: list[str] = []

    # -- input -----------------------------------------------------------------------------
    def add_error(self, where: str, message: str) -> None:
        self.read_errors += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"{where}: {message}")

    def add(self, features: dict[str, tuple[str | None, list]]) -> None:
        """Count one decoded example (`tfrconv.features.decode_typed`)."""
        self.examples += 1
        width, height = self._image(features)
        names = self._class_names(features)
        boxes = [F.values(features, key) for key in K.BOX_KEYS]
        count = max(len(names), *(len(b) for b in boxes))
        self.objects += count
        self.per_image.add(count)
        if count == 0:
            self.empty_images += 1
        for name in set(names):
            self.classes[name][1] += 1
        for i in range(min(len(b) for b in boxes)):
            self._box(boxes[0][i], boxes[1][i], boxes[2][i], boxes[3][i], width, height)

    def _image(self, features) -> tuple[int | None, int | None]:
        data = F.first(features, K.ENCODED)
        width = height = None
        if isinstance(data, bytes) and data:
            info = sniff(data)
            self.formats.add(info.format)
            width, height = info.width, info.height
        else:
            self.no_image += 1
            self.formats.add("(none)")
        if not (width and height):
            stored_w, stored_h = F.first(features, K.WIDTH), F.first(features, K.HEIGHT)
            if isinstance(stored_w, int) and isinstance(stored_h, int) and stored_w > 0 \
                    and stored_h > 0:
                width, height = stored_w, stored_h
        if width and height:
            self.sizes.add(f"{width}x{height}")
        return width, height

    def _class_names(self, features) -> list[str]:
        texts = F.values(features, K.OBJECT_CLASS_TEXT)
        labels = F.values(features, K.OBJECT_CLASS_LABEL)
        names = []
        for i in range(max(len(texts), len(labels))):
            label = labels[i] if i < len(labels) and isinstance(labels[i], int) else None
            if i < len(texts) and texts[i]:
                name = F.text(texts[i])
            elif label is not None:
                item = self._by_id.get(label)
                name = item.name if item else f"id {label}"
            else:
                name = "(no class)"
            if name not in self.classes:
                if len(self.classes) >= MAX_CLASSES:
                    name = "(other)"
                self.classes.setdefault(name, [0, 0])
            self.classes[name][0] += 1
            if label is not None:
                labels_seen = self.class_labels.setdefault(name, set())
                if len(labels_seen) < 8:
                    labels_seen.add(label)
            names.append(name)
        return names

    def _box(self, xmin, ymin, xmax, ymax, width, height) -> None:
        try:
            xmin, ymin, xmax, ymax = float(xmin), float(ymin), float(xmax), float(ymax)
        except (TypeError, ValueError):
            return
        if xmin != xmin or ymin != ymin or xmax != xmax or ymax != ymax:
            self.nan_boxes += 1
            return
        if min(xmin, ymin) < 0 or max(xmax, ymax) > 1:
            self.outside += 1
        box_w, box_h = xmax - xmin, ymax - ymin
        if box_w <= 0 or box_h <= 0:
            self.degenerate += 1
            return
        self.centres.add((xmin + xmax) / 2, (ymin + ymax) / 2)
        self._measure("area", box_w * box_h)
        if width and height:
            self._measure("width_px", box_w * width)
            self._measure("height_px", box_h * height)
            self._measure("aspect", box_w * width / (box_h * height))

    def _measure(self, name: str, value: float) -> None:
        self.boxes[name].add(value)
        self.quantiles[name].add(value)

    # -- output ----------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "files": list(self.files),
            "examples": self.examples,
            "objects": self.objects,
            "empty_images": self.empty_images,
            "read_errors": self.read_errors,
            "errors": list(self.errors),
            "classes": {name: {"objects": o, "images": i} for name, (o, i) in
                        sorted(self.classes.items())},
            "boxes_per_image": {"counts": self.per_image.counts, "more": self.per_image.over},
            "boxes": {name: self.quantiles[name].as_dict(4) for name in self.boxes},
            "nan_boxes": self.nan_boxes,
            "degenerate_boxes": self.degenerate,
            "boxes_outside_0_1": self.outside,
            "centres_outside_image": self.centres.outside,
            "formats": dict(self.formats.most_common()),
            "sizes": dict(self.sizes.most_common(20)),
            "distinct_sizes": len(self.sizes),
            "missing_images": self.no_image,
        }


def share(counter: dict[str, int] | Counter) -> dict[str, float]:
    """Counts as fractions of their total (empty → empty)."""
    total = sum(counter.values())
    return {key: value / total for key, value in counter.items()} if total else {}
