"""`--max-side`, `--jpeg-quality`, `--image-format`: smaller images in the records.

Runs after the core's checks, on the image bytes it read. Only shrinks (aspect ratio kept, the
longer side becomes at most N); boxes are normalized, so they stay as they are, and masks are
resized to the new size (nearest neighbour, so they stay 0/1). Whenever the image is re-encoded
its EXIF orientation is applied (as --reencode does), so the pixels look as annotation tools
showed them. A JPEG shrunk by 2x or more is decoded at reduced size (the decoder's draft mode:
a fraction of the work, and no visible difference after the final resampling).
"""

from __future__ import annotations

import io

from .. import images
from ..errors import UsageError
from ..sample import Sample
from .spec import Context

IMAGE_FORMATS = ("keep", "jpeg", "png")
DEFAULT_QUALITY = 95


class ImageResizer:
    def __init__(self, max_side: int | None, quality: int | None, image_format: str) -> None:
        self.max_side = max_side
        self.quality = quality
        self.image_format = image_format

    def target(self, width: int, height: int) -> tuple[int, int]:
        longest = max(width, height)
        if not self.max_side or longest <= self.max_side:
            return width, height
        scale = self.max_side / longest
        return max(1, round(width * scale)), max(1, round(height * scale))

    def __call__(self, sample: Sample, context: Context) -> Sample:
        data = sample.image_bytes
        info = images.sniff(data)
        shown = _oriented((info.width, info.height), info.orientation)
        size = self.target(*shown)
        out_format = info.format if self.image_format == "keep" else self.image_format
        unchanged = size == (info.width, info.height) and out_format == info.format and \
            info.orientation == 1 and not (self.quality and out_format == "jpeg")
        if unchanged:
            return sample
        data, (width, height) = self.reencode(data, info, size, out_format)
        sample.image_bytes, sample.width, sample.height = data, width, height
        for obj in sample.objects:
            if obj.mask is not None:
                obj.mask = resize_mask(obj.mask, (width, height))
        return sample

    def reencode(self, data: bytes, info, size: tuple[int, int], out_format: str):
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(data)) as image:
            if info.format == "jpeg" and size[0] * 2 <= info.width:
                image.draft(image.mode, _oriented(size, info.orientation))
            image = ImageOps.exif_transpose(image)
            if image.size != size and (image.size[0] > size[0] or image.size[1] > size[1]):
                image = image.resize(size, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if out_format == "jpeg":
                image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
                    out, format="JPEG", quality=self.quality or DEFAULT_QUALITY)
            else:
                if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
                    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                image.save(out, format="PNG")
            return out.getvalue(), image.size


def _oriented(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """`size` turned by the EXIF orientation (5-8 swap the sides; the turn is its own inverse
    for sizes, so this maps stored to shown and back)."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def resize_mask(mask, size: tuple[int, int]):
    """A mask (a 2-D 0/1 array, or PNG bytes) at `size`, in the same form."""
    import numpy as np
    from PIL import Image

    if isinstance(mask, bytes):
        with Image.open(io.BytesIO(mask)) as image:
            array = np.asarray(image.convert("L"))
        return images.encode_png_mask(resize_mask(array, size))
    array = np.asarray(mask, dtype=np.uint8)
    if (array.shape[1], array.shape[0]) == size:
        return array
    resized = Image.fromarray(array).resize(size, Image.Resampling.NEAREST)
    return np.asarray(resized, dtype=np.uint8)


def setup_resize(opts) -> ImageResizer | None:
    if opts.max_side is not None and opts.max_side < 1:
        raise UsageError("--max-side must be at least 1")
    if opts.jpeg_quality is not None and not 1 <= opts.jpeg_quality <= 100:
        raise UsageError("--jpeg-quality must be between 1 and 100")
    if opts.max_side is None and opts.jpeg_quality is None and opts.image_format == "keep":
        return None
    return ImageResizer(opts.max_side, opts.jpeg_quality, opts.image_format)
