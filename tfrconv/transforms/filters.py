"""`--min-box-size`, `--max-boxes`, `--drop-empty`/`--keep-empty`: objects and images left out.

They run after the core's checks, on the objects kept, with the real image size: a box's
pixel size is its normalized size times the image's.
"""

from __future__ import annotations

from ..errors import UsageError
from ..sample import Sample
from .spec import Context

MAX_BOXES_POLICIES = ("largest", "first", "skip")


class BoxFilters:
    def __init__(self, min_box_size: float | None, max_boxes: int | None, policy: str,
                 drop_empty: bool) -> None:
        self.min_box_size = min_box_size
        self.max_boxes = max_boxes
        self.policy = policy
        self.drop_empty = drop_empty

    def __call__(self, sample: Sample, context: Context) -> Sample | None:
        objects = sample.objects
        if self.min_box_size:
            side, width, height = self.min_box_size, sample.width, sample.height
            objects = [o for o in objects
                       if (o.xmax - o.xmin) * width >= side and (o.ymax - o.ymin) * height >= side]
        if self.max_boxes is not None and len(objects) > self.max_boxes:
            if self.policy == "skip":
                return None
            if self.policy == "largest":
                # The largest by area; ties by position. Kept in their original order.
                ranked = sorted(range(len(objects)), key=lambda i: (-_area(objects[i]), i))
                chosen = sorted(ranked[:self.max_boxes])
                objects = [objects[i] for i in chosen]
            else:
                objects = objects[:self.max_boxes]
        if self.drop_empty and not objects:
            return None
        sample.objects = objects
        return sample


def _area(obj) -> float:
    return (obj.xmax - obj.xmin) * (obj.ymax - obj.ymin)


def setup_filters(opts) -> BoxFilters | None:
    if opts.drop_empty and opts.keep_empty:
        raise UsageError("--drop-empty contradicts --keep-empty")
    if opts.min_box_size is not None and opts.min_box_size < 0:
        raise UsageError("--min-box-size must be 0 or more")
    if opts.max_boxes is not None and opts.max_boxes < 0:
        raise UsageError("--max-boxes must be 0 or more")
    if opts.max_boxes_policy is not None and opts.max_boxes is None:
        raise UsageError("--max-boxes-policy needs --max-boxes")
    if not opts.min_box_size and opts.max_boxes is None and not opts.drop_empty:
        return None
    return BoxFilters(opts.min_box_size, opts.max_boxes, opts.max_boxes_policy or "largest",
                      opts.drop_empty)
