"""Instance masks from polygons, the way COCO's polygons become masks: for format plugins.

Public: `from tfrconv import masks`. Every format that has polygons (COCO, YOLO segmentation,
LabelMe, CVAT) rasterizes them here, with pycocotools, so one polygon gives the same pixels
whichever format it came from, and junk coordinates are refused before pycocotools walks them
(it visits every pixel of every edge: a vertex a million pixels away would take minutes).

- `polygon_mask(polygons, width, height)`: the union of polygons given in pixels, each flat
  ``[x0, y0, x1, y1, ...]``, as a 2-D uint8 0/1 array of ``height x width`` (column-major,
  as pycocotools decodes it).
- `rectangle(x0, y0, x1, y1)`: a box as such a polygon.
- `MaskError` (a ValueError): what is wrong, in one line, for the format to report with its
  file and line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

MAX_MASK_PIXELS = 1 << 28     # a mask bigger than this is a broken size, not a photo
POLYGON_REACH = 16            # a vertex further than this many image sides away is junk
POLYGON_PERIMETER = 100       # ... and so is a polygon longer than this many (width + height)


class MaskError(ValueError):
    """A polygon, or an image size, that cannot give a mask."""


def rectangle(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def check_polygon(polygon: Sequence[float], width: int, height: int) -> None:
    """MaskError unless every vertex is a finite number near the image and the outline is not
    absurdly long."""
    reach = POLYGON_REACH * max(width, height) + 1024
    if len(polygon) % 2 or any(not isinstance(v, (int, float)) or not math.isfinite(v)
                               or abs(v) > reach for v in polygon):
        raise MaskError(f"a polygon must be pairs of finite coordinates near the image, found "
                        f"{list(polygon)!r:.60}")
    xs, ys = polygon[0::2], polygon[1::2]
    perimeter = sum(max(abs(xs[i] - xs[i - 1]), abs(ys[i] - ys[i - 1])) for i in range(len(xs)))
    if perimeter > POLYGON_PERIMETER * (width + height):
        raise MaskError(f"a polygon is {perimeter:.0f} pixels long on a {width}x{height} image")


def polygon_mask(polygons: Iterable[Sequence[float]], width: int, height: int):
    """The union of `polygons` (pixels) rasterized by pycocotools; polygons under 3 points
    cover nothing (pycocotools would misread them)."""
    import numpy as np
    from pycocotools import mask as mask_api

    if width * height > MAX_MASK_PIXELS:
        raise MaskError(f"{width}x{height} is too large for instance masks")
    kept = []
    for polygon in polygons:
        check_polygon(polygon, width, height)
        if len(polygon) >= 6:
            kept.append([float(v) for v in polygon])
    if not kept:
        return np.zeros((height, width), dtype=np.uint8)
    rle = mask_api.merge(mask_api.frPyObjects(kept, height, width))
    # pycocotools' column-major order, not copied: see tfrconv.images.encode_png_mask
    return mask_api.decode(rle).reshape(height, width).astype(np.uint8, copy=False)
