"""Image facts from the bytes alone: format, size, channels, EXIF orientation, truncation.

The header parsers below read a few hundred bytes, so every image can be checked on the fast path
without decoding pixels (Pillow is imported only to decode fully or to re-encode).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...), not DHT/JPG/DAC.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
# Pillow's own decompression-bomb threshold (a 1 GB RGBA frame / 4 / 3): images above it are
# refused unless --max-image-pixels raises the limit (0 removes it).
MAX_IMAGE_PIXELS = 89_478_485
_U16 = struct.Struct(">H")
_HW = struct.Struct(">HH")


@dataclass(frozen=True)
class ImageInfo:
    """What the bytes say. `format` is jpeg, png, gif, bmp, webp, tiff or unknown."""

    format: str
    width: int | None = None
    height: int | None = None
    channels: int | None = None
    orientation: int = 1          # EXIF orientation, 1 = as stored
    truncated: bool = False       # the stream ends before the image data does
    cmyk: bool = False

    @property
    def passthrough(self) -> bool:
        """JPEG and PNG go into records untouched; the OD API decoder reads both."""
        return self.format in ("jpeg", "png")


def sniff(data: bytes) -> ImageInfo:
    """Identify an encoded image from its header bytes (never raises on junk)."""
    try:
        if data[:3] == b"\xff\xd8\xff":
            return _sniff_jpeg(data)
        if data[:8] == _PNG_SIGNATURE:
            return _sniff_png(data)
        if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            width, height = struct.unpack("<HH", data[6:10])
            return ImageInfo("gif", width, height, 3)
        if data[:2] == b"BM" and len(data) >= 26:
            width, height = struct.unpack("<ii", data[18:26])
            return ImageInfo("bmp", width, abs(height), 3)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return ImageInfo("webp")
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return ImageInfo("tiff")
    except (struct.error, IndexError):
        pass
    return ImageInfo("unknown")


def too_many_pixels(info: ImageInfo, limit: int | None) -> str | None:
    """Why an image whose header claims more than `limit` pixels is refused (None: it is not,
    the header has no size, or there is no limit). Decoding one would need width x height x
    channels bytes of memory, whatever the file's own size."""
    if not limit or not info.width or not info.height:
        return None
    pixels = info.width * info.height
    if pixels <= limit:
        return None
    return (f"{info.width}x{info.height} = {pixels:,} pixels, more than the limit of "
            f"{limit:,}")


def _sniff_jpeg(data: bytes) -> ImageInfo:
    # Offsets and unpack_from, never slices: an EXIF or ICC segment can be tens of KB, and this
    # runs once per image.
    pos = 2
    size = len(data)
    orientation = 1
    adobe = False
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return ImageInfo("jpeg", truncated=True)   # lost sync: damaged header
        marker = data[pos + 1]
        if marker == 0xFF:                             # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = _U16.unpack_from(data, pos + 2)
        body = pos + 4                                 # the segment's bytes: body .. pos+2+length
        end = pos + 2 + length
        if marker == 0xE1 and data.startswith(b"Exif\x00\x00", body):
            orientation = _exif_orientation(data, body + 6, end)
        elif marker == 0xEE and data.startswith(b"Adobe", body):
            adobe = True
        elif marker in _SOF_MARKERS:
            if end - body < 6 or end > size:
                return ImageInfo("jpeg", truncated=True)
            height, width = _HW.unpack_from(data, body + 1)
            components = data[body + 5]
            # Scan data must be followed by an end-of-image marker. Searching backwards finds it
            # at once in an intact file (forwards would crawl through the scan's many 0xFF bytes).
            truncated = data.rfind(b"\xff\xd9", end) < 0
            return ImageInfo("jpeg", width, height, components, orientation, truncated,
                             cmyk=components == 4 or (adobe and components == 4))
        elif marker == 0xD9 or marker == 0xDA:
            break
        pos = end
    return ImageInfo("jpeg", truncated=True)


def _exif_orientation(data: bytes, start: int, end: int) -> int:
    """The Orientation tag of IFD0 in the TIFF structure at data[start:end] (1 if absent)."""
    if data.startswith(b"II", start):
        endian = "<"
    elif data.startswith(b"MM", start):
        endian = ">"
    else:
        return 1
    (ifd,) = struct.unpack_from(endian + "I", data, start + 4)
    base = start + ifd
    if base + 2 > end:
        return 1
    (count,) = struct.unpack_from(endian + "H", data, base)
    for index in range(count):
        entry = base + 2 + 12 * index
        if entry + 12 > end:
            break
        tag, kind = struct.unpack_from(endian + "HH", data, entry)
        if tag == 0x0112 and kind == 3:
            (value,) = struct.unpack_from(endian + "H", data, entry + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def _sniff_png(data: bytes) -> ImageInfo:
    if data[12:16] != b"IHDR" or len(data) < 26:
        return ImageInfo("png", truncated=True)
    width, height = struct.unpack(">II", data[16:24])
    color_type = data[25]
    channels = _PNG_CHANNELS.get(color_type)
    if color_type == 3 and b"tRNS" in data[:data.find(b"IDAT")]:
        channels = 4                                   # palette with transparency
    truncated = data.rfind(b"IEND", max(0, len(data) - 64)) < 0
    return ImageInfo("png", width, height, channels, truncated=truncated)


# -- Pillow-backed operations (imported only when needed) --------------------------------
def decode_check(data: bytes) -> str | None:
    """Decode the whole image; None if it decodes, else what is wrong."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        return f"{type(exc).__name__}: {exc}".rstrip(": ")
    return None


def reencode(data: bytes, *, apply_orientation: bool = True, quality: int = 95) -> bytes:
    """Re-encode any Pillow-readable image as a 3-channel JPEG (or PNG when it had alpha).

    With `apply_orientation`, the EXIF rotation is applied to the pixels, so the stored image
    looks the way annotation tools showed it.
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        if apply_orientation:
            image = ImageOps.exif_transpose(image)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info)
        out = io.BytesIO()
        if has_alpha:
            image.convert("RGBA").save(out, format="PNG")
        else:
            image.convert("RGB").save(out, format="JPEG", quality=quality)
        return out.getvalue()


# A mask PNG's IDAT is built from pieces (see encode_png_mask): a zlib header (deflate, 32 KB
# window, no preset dictionary), raw deflate segments each ended by a sync flush, then a final
# empty block (fixed Huffman codes: just the end-of-block code).
_ZLIB_HEADER = b"\x78\x01"
_FINAL_EMPTY_BLOCK = b"\x03\x00"
_ADLER_MODULUS = 65521
_zero_rows: dict[tuple[int, int], bytes] = {}     # (row bytes, log2 of rows) -> deflate segment


def encode_png_mask(mask) -> bytes:
    """A 2-D 0/1 uint8 array (any memory order) as an 8-bit grayscale PNG, values kept 0/1 as
    the OD API writes them.

    Only the rows between the mask's first and last non-zero row go through zlib (run-length
    strategy: a mask is runs of 0 and 1); the all-zero rows above and below are deflate
    segments made once per row width and spliced in, and only the non-zero columns are copied
    out of the array. The bytes differ from zlib's level-6 output of the whole image; the
    decoded pixels are the same.
    """
    import numpy as np

    array = np.asarray(mask, dtype=np.uint8)
    if array.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {array.shape}")
    height, width = array.shape
    rows = np.flatnonzero(array.any(axis=1))
    if not len(rows):
        return encode_png_mask_region(array[:0, :0], 0, 0, height, width)
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    columns = np.flatnonzero(array[top:bottom].any(axis=0))
    left, right = int(columns[0]), int(columns[-1]) + 1
    return encode_png_mask_region(array[top:bottom, left:right], top, left, height, width)


def encode_png_mask_region(region, top: int, left: int, height: int, width: int) -> bytes:
    """encode_png_mask of a height x width mask that is zero outside `region` (a 2-D uint8
    array, any memory order), whose top-left pixel is at (top, left). An empty region: an
    all-zero mask."""
    import zlib

    import numpy as np

    row_bytes = width + 1                                   # filter byte 0, then the pixels
    rows, columns = region.shape
    if not rows or not columns:
        top = rows = 0
    raw = np.zeros((rows, row_bytes), dtype=np.uint8)
    raw[:, 1 + left:1 + left + columns] = region
    below = height - top - rows
    pieces = [_ZLIB_HEADER, _zero_rows_deflate(row_bytes, top)]
    if rows:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
        pieces += [compressor.compress(raw), compressor.flush(zlib.Z_SYNC_FLUSH)]
    pieces += [_zero_rows_deflate(row_bytes, below), _FINAL_EMPTY_BLOCK]
    adler = _adler32_of_zeros(1, top * row_bytes)
    adler = _adler32_of_zeros(zlib.adler32(raw, adler), below * row_bytes)
    pieces.append(struct.pack(">I", adler))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(pieces))
            + _png_chunk(b"IEND", b""))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    import zlib

    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))


def _adler32_of_zeros(adler: int, count: int) -> int:
    """zlib.adler32 continued over `count` zero bytes, without the bytes: each adds the running
    sum A (unchanged by a zero) to B."""
    a, b = adler & 0xFFFF, adler >> 16
    return (((b + count * a) % _ADLER_MODULUS) << 16) | a


def _zero_rows_deflate(row_bytes: int, count: int) -> bytes:
    """Raw deflate segments (sync-flushed, not final) for `count` rows of zeros: one cached
    segment per set bit of `count`, so a width needs at most log2(height) of them."""
    import zlib

    pieces = []
    power = 0
    while count >> power:
        if (count >> power) & 1:
            segment = _zero_rows.get((row_bytes, power))
            if segment is None:
                compressor = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
                left = row_bytes << power
                segment = b""
                while left:                       # in pieces: huge masks need no huge buffer
                    step = min(left, 1 << 20)
                    segment += compressor.compress(bytes(step))
                    left -= step
                segment += compressor.flush(zlib.Z_SYNC_FLUSH)
                if len(_zero_rows) >= 256:
                    _zero_rows.clear()
                _zero_rows[(row_bytes, power)] = segment
            pieces.append(segment)
        power += 1
    return b"".join(pieces)
