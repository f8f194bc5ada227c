"""Mask PNGs (tfrconv.images.encode_png_mask): whatever the mask, the PNG decodes to it.

The encoder splices deflate segments (cached all-zero rows, the non-zero rows compressed alone),
so the oracles are independent decoders: Pillow's PNG reader, and zlib's inflate of the IDAT
(which also checks the stream's Adler-32) read back row by row.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv.images import encode_png_mask


def pillow_pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "L"
        return np.asarray(image)


def inflated_pixels(png: bytes) -> np.ndarray:
    """The pixels by hand: IHDR's size, the IDAT inflated (zlib checks Adler-32), filter bytes
    all 0 (none)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(png):
        (length,), kind = struct.unpack(">I", png[position:position + 4]), png[position + 4:
                                                                             position + 8]
        body = png[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 0) and set(chunks) == {b"IHDR", b"IDAT", b"IEND"}
    inflater = zlib.decompressobj()
    raw = inflater.decompress(chunks[b"IDAT"])
    assert inflater.eof and not inflater.unused_data
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any()
    return rows[:, 1:]


def assert_round_trip(mask: np.ndarray) -> None:
    png = encode_png_mask(mask)
    expected = np.asarray(mask, dtype=np.uint8)
    for decoded in (pillow_pixels(png), inflated_pixels(png)):
        assert decoded.shape == expected.shape
        assert np.array_equal(decoded, expected)


@st.composite
def masks(draw):
    height = draw(st.integers(1, 70))
    width = draw(st.integers(1, 70))
    kind = draw(st.sampled_from(["blob", "noise", "empty", "full", "corner"]))
    mask = np.zeros((height, width), dtype=np.uint8)
    if kind == "blob":
        y0, x0 = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        y1, x1 = draw(st.integers(y0 + 1, height)), draw(st.integers(x0 + 1, width))
        mask[y0:y1, x0:x1] = 1
        holes = draw(st.lists(st.tuples(st.integers(0, height - 1), st.integers(0, width - 1)),
                              max_size=5))
        for y, x in holes:
            mask[y, x] = 0
    elif kind == "noise":
        seed = draw(st.integers(0, 2 ** 32 - 1))
        mask = (np.random.default_rng(seed).random((height, width)) < 0.3).astype(np.uint8)
    elif kind == "full":
        mask[:] = 1
    elif kind == "corner":
        mask[-1, -1] = 1
    order = draw(st.sampled_from(["C", "F"]))        # pycocotools decodes column-major
    return np.asarray(mask, order=order), kind


@reaches("decoded")
@settings(max_examples=200, deadline=None)
@given(case=masks())
def test_any_mask_decodes_to_itself(case):
    mask, kind = case
    branch(kind)
    assert_round_trip(mask)
    branch("decoded")


@pytest.mark.parametrize("height, width", [(480, 640), (1, 1), (700, 3), (3, 700)])
def test_zero_rows_above_and_below_spliced_from_cache(height, width):
    # Several non-zero bands at different heights reuse the cached zero-row segments.
    for top in (0, 1, height // 3, height - 1):
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[top:top + 2, width // 2:] = 1
        assert_round_trip(mask)
        assert_round_trip(np.asfortranarray(mask))


def test_a_large_mask_with_a_small_object():
    mask = np.zeros((2000, 3000), dtype=np.uint8)
    mask[1500:1510, 10:20] = 1
    assert_round_trip(mask)
    assert len(encode_png_mask(mask)) < 20_000          # still compressed, not stored


def test_not_two_dimensional_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        encode_png_mask(np.zeros((2, 2, 1), dtype=np.uint8))


# -- RLE straight to PNG (tfrconv.masks.rle_png) -------------------------------------------------
@st.composite
def rles(draw):
    """A pycocotools RLE of random runs (zero-length first run, runs that wrap columns, a
    whole-image run), compressed by pycocotools itself."""
    from pycocotools import mask as mask_api

    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    left = height * width
    counts = []
    while left:
        run = min(left, draw(st.integers(0 if not counts else 1, max(1, left // 2))))
        counts.append(run)
        left -= run
        if draw(st.booleans()) and left:
            counts.append(left)
            left = 0
    return mask_api.frPyObjects({"counts": counts, "size": [height, width]}, height, width)


@reaches("decoded")
@settings(max_examples=200, deadline=None)
@given(rle=rles())
def test_rle_png_is_the_png_of_pycocotools_decode(rle):
    from pycocotools import mask as mask_api

    from tfrconv.masks import rle_png

    decoded = mask_api.decode(rle)
    png = rle_png(rle)
    branch("empty" if not decoded.any() else "full" if decoded.all() else "partial")
    assert np.array_equal(pillow_pixels(png), decoded)
    assert png == encode_png_mask(decoded)
    branch("decoded")


def test_rle_png_of_polygons():
    from pycocotools import mask as mask_api

    from tfrconv.masks import rle_png

    polygons = [[10.5, 3, 600, 20, 300, 470.2], [0, 0, 5, 0, 5, 479, 0, 479]]
    rle = mask_api.merge(mask_api.frPyObjects(polygons, 480, 640))
    decoded = mask_api.decode(rle)
    assert decoded.sum() > 1000
    assert np.array_equal(pillow_pixels(rle_png(rle)), decoded)
