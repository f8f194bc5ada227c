"""Small hand-made records for the inspect and verify tests (no TensorFlow needed to write).

`good_features()` is one clean OD-API example (a real JPEG, two boxes, text and label consistent
with `LABEL_MAP`); tests change one thing in it to make each kind of broken record.
"""

from __future__ import annotations

import hashlib
import io

from tfrconv.example import serialize
from tfrconv.tfrecord import frame

LABEL_MAP = "item { id: 1 name: 'circle' }\nitem { id: 2 name: 'square' }\n"


def image_bytes(width: int = 64, height: int = 48, colour=(120, 120, 120), fmt: str = "JPEG",
                exif_orientation: int | None = None) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), colour)
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def mask_png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (width, height), 1).save(out, format="PNG")
    return out.getvalue()


def good_features(source_id: str = "img_0.jpg", width: int = 64, height: int = 48,
                  image: bytes | None = None) -> dict[str, tuple[str, list]]:
    data = image if image is not None else image_bytes(width, height)
    return {
        "image/encoded": ("bytes", [data]),
        "image/format": ("bytes", [b"jpeg"]),
        "image/filename": ("bytes", [source_id.encode()]),
        "image/source_id": ("bytes", [source_id.encode()]),
        "image/key/sha256": ("bytes", [hashlib.sha256(data).hexdigest().encode()]),
        "image/height": ("int", [height]),
        "image/width": ("int", [width]),
        "image/object/bbox/xmin": ("float", [0.1, 0.5]),
        "image/object/bbox/ymin": ("float", [0.2, 0.25]),
        "image/object/bbox/xmax": ("float", [0.4, 0.9]),
        "image/object/bbox/ymax": ("float", [0.6, 0.75]),
        "image/object/class/text": ("bytes", [b"circle", b"square"]),
        "image/object/class/label": ("int", [1, 2]),
        "image/object/difficult": ("int", [0, 0]),
    }


def write(path, examples) -> str:
    """Write feature dicts (or raw payload bytes) as one record file."""
    with open(path, "wb") as fileobj:
        for example in examples:
            payload = example if isinstance(example, bytes) else serialize(example)
            fileobj.write(frame(payload))
    return str(path)


def framed_records(path) -> list[bytes]:
    """The framed records of a file, cut by their length fields (no tfrconv reader)."""
    with open(path, "rb") as fileobj:
        data = fileobj.read()
    out, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 8], "little")
        out.append(data[pos:pos + 16 + length])
        pos += 16 + length
    return out
