"""Instance masks from polygons, the way COCO's polygons become masks: for format plugins.

Public: `from tfrconv import masks`. Every format that has polygons (COCO, YOLO segmentation,
LabelMe, CVAT) rasterizes them here, with pycocotools, so one polygon gives the same pixels
whichever format it came from, and junk coordinates are refused before pycocotools walks them
(it visits every pixel of every edge: a vertex a million pixels away would take minutes).

- `polygon_mask(polygons, width, height)`: the union of polygons given in pixels, each flat
  ``[x0, y0, x1, y1, ...]``, as a 2-D uint8 0/1 array of ``height x width`` (column-major,
  as pycocotools decodes it).
- `rle_png(rle)`: a pycocotools RLE (compressed counts, as frPyObjects and merge return it)
  as the mask's PNG (`tfrconv.images.encode_png_mask`'s bytes), decoding only the box around
  the mask's pixels instead of the whole image.
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


def rle_png(rle: dict) -> bytes:
    """The PNG of a pycocotools RLE's mask, the same bytes as encode_png_mask of
    pycocotools' decode.

    pycocotools' decode writes every pixel of the image one by one, and the mask must then be
    turned row-major for the PNG: together they cost more than the PNG. Here the runs are read
    with numpy: the 1-runs, mapped into the box of columns and rows they cover, mark where the
    mask turns on and off, and a running sum over the box alone gives its pixels.
    """
    import numpy as np

    from .images import encode_png_mask_region

    height, width = (int(v) for v in rle["size"])
    counts = rle_counts(rle["counts"])
    run_ends = np.cumsum(counts)
    starts, lengths = (run_ends - counts)[1::2], counts[1::2]    # the 1-runs (0 comes first)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    if not len(starts):
        return encode_png_mask_region(np.zeros((0, 0), np.uint8), 0, 0, height, width)
    lasts = starts + lengths - 1
    left, right = int(starts[0] // height), int(lasts[-1] // height) + 1
    if (starts // height != lasts // height).any():      # a run wraps to the next column
        top, bottom = 0, height
    else:
        top, bottom = int((starts % height).min()), int((lasts % height).max()) + 1
    rows = bottom - top
    # Column-major positions in the box: each run stays one contiguous stretch (a run that
    # wraps columns means the box has every row, where positions only shift).
    first = (starts // height - left) * rows + (starts % height - top)
    size = rows * (right - left)
    edges = np.bincount(first, minlength=size + 1) - np.bincount(first + lengths,
                                                                 minlength=size + 1)
    box = np.cumsum(edges[:size].astype(np.uint8), dtype=np.uint8)    # -1 wraps to 255: exact
    return encode_png_mask_region(box.reshape(right - left, rows).T, top, left, height, width)


def rle_counts(counts: bytes | str):
    """The run lengths of a COCO compressed RLE string, as an int64 numpy array (pycocotools'
    rleFrString: 5-bit groups, the 0x20 bit says more follow, the last group's 0x10 bit is the
    sign, and runs from the fourth on are stored as differences from the run two before)."""
    import numpy as np

    data = counts.encode("ascii") if isinstance(counts, str) else counts
    codes = np.frombuffer(data, dtype=np.uint8).astype(np.int64) - 48
    if not len(codes):
        return codes
    ends = np.flatnonzero(codes & 0x20 == 0)                  # the last code of each value
    starts = np.concatenate(([0], ends[:-1] + 1))
    sizes = ends - starts + 1
    shifts = 5 * (np.arange(len(codes)) - np.repeat(starts, sizes))
    values = np.add.reduceat((codes & 0x1F) << shifts, starts)
    negative = codes[ends] & 0x10 != 0
    values[negative] -= np.left_shift(1, 5 * sizes[negative])
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values
