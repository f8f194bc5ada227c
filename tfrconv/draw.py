"""Draw an example's boxes, class names and masks onto its image, and a contact sheet.

Colours come from a hash of the class name, never from the order classes were met, so a class
has the same colour in every run, every file and every tool that uses `class_colour`. The image
is drawn the way the OD API decoder sees it: EXIF orientation is *not* applied (the decoder
ignores it), so a box that looks wrong here is wrong in training too.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
import io
import math
import os
import re
from dataclasses import dataclass, field

from . import features as F
from . import keys as K

MIN_SIDE = 320          # small images are enlarged (nearest neighbour) so labels stay readable
MASK_ALPHA = 0.45


def class_colour(name: str) -> tuple[int, int, int]:
    """A bright, stable RGB colour for a class name."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    saturation = 0.65 + 0.3 * digest[2] / 255
    value = 0.85 + 0.15 * digest[3] / 255
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def object_names(features: dict, label_map=None) -> list[str]:
    """The class name to show for each object: its text, else the label map's name for its
    label, else `id N`."""
    count = max((len(F.values(features, key)) for key in K.BOX_KEYS), default=0)
    texts = F.values(features, K.OBJECT_CLASS_TEXT)
    labels = F.values(features, K.OBJECT_CLASS_LABEL)
    by_id = label_map.by_id() if label_map is not None else {}
    names = []
    for i in range(count):
        if i < len(texts) and isinstance(texts[i], bytes) and texts[i]:
            names.append(F.text(texts[i]))
        elif i < len(labels) and isinstance(labels[i], int):
            item = by_id.get(labels[i])
            names.append(item.text if item else f"id {labels[i]}")
        else:
            names.append("(no class)")
    return names


@dataclass
class Drawing:
    image: object                  # PIL.Image.Image
    width: int                     # the image's own pixels (before enlarging)
    height: int
    scale: int
    names: list[str] = field(default_factory=list)
    note: str = ""                 # what went wrong decoding, if anything


def render(features: dict, label_map=None, *, min_side: int = MIN_SIDE) -> Drawing:
    """The image with boxes, names and masks drawn (a grey canvas if it does not decode)."""
    from PIL import Image, ImageDraw

    image, note = _decode(features)
    width, height = image.size
    scale = max(1, math.ceil(min_side / max(width, height, 1)))
    if scale > 1:
        image = image.resize((width * scale, height * scale), Image.NEAREST)
    names = object_names(features, label_map)
    image = _overlay_masks(image, features, names, width, height)
    draw = ImageDraw.Draw(image)
    font = _font(max(12, min(96, image.size[1] // 30)))
    line = max(2, round(min(image.size) / 200))
    boxes = [F.values(features, key) for key in K.BOX_KEYS]
    for i, name in enumerate(names):
        try:
            xmin, ymin, xmax, ymax = (float(values[i]) for values in boxes)
        except (IndexError, TypeError, ValueError):
            continue
        if any(v != v for v in (xmin, ymin, xmax, ymax)):
            continue
        colour = class_colour(name)
        x0, x1 = sorted((xmin * image.size[0], xmax * image.size[0]))
        y0, y1 = sorted((ymin * image.size[1], ymax * image.size[1]))
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line)
        _label(draw, font, name, colour, x0, y0, image.size)
    if note:
        draw.text((4, 4), note, fill=(255, 255, 255), font=font, stroke_width=2,
                  stroke_fill=(0, 0, 0))
    return Drawing(image, width, height, scale, names, note)


def _decode(features: dict):
    from PIL import Image

    data = F.first(features, K.ENCODED, b"")
    stored_w = F.first(features, K.WIDTH)
    stored_h = F.first(features, K.HEIGHT)
    fmt = F.first(features, K.FORMAT, b"")
    fallback = (stored_w if isinstance(stored_w, int) and 0 < stored_w < 10000 else 320,
                stored_h if isinstance(stored_h, int) and 0 < stored_h < 10000 else 240)
    if not isinstance(data, bytes) or not data:
        return Image.new("RGB", fallback, (96, 96, 96)), f"no {K.ENCODED}"
    if fmt in (b"raw", b"RAW"):
        if data and len(data) == fallback[0] * fallback[1] * 3:
            return Image.frombytes("RGB", fallback, data), ""
        return Image.new("RGB", fallback, (96, 96, 96)), "raw image of the wrong size"
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            return opened.convert("RGB"), ""
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        return Image.new("RGB", fallback, (96, 96, 96)), \
            f"image does not decode ({type(exc).__name__})"


def _overlay_masks(image, features: dict, names: list[str], width: int, height: int):
    """Tint each object's mask with its class colour (PNG or numerical masks)."""
    import numpy as np
    from PIL import Image

    kind, masks = features.get(K.OBJECT_MASK, (None, []))
    if not masks or not names:
        return image
    planes = []
    if kind == "bytes":
        for data in masks:
            try:
                with Image.open(io.BytesIO(data)) as mask:
                    planes.append(np.asarray(mask.convert("L")) > 0)
            except Exception:  # noqa: BLE001 - a broken mask is verify's business
                planes.append(None)
    elif kind == "float" and len(masks) == len(names) * width * height:
        stack = np.asarray(masks, dtype=np.float32).reshape(len(names), height, width) > 0
        planes = list(stack)
    pixels = np.asarray(image, dtype=np.float32).copy()
    scale = image.size[0] // max(width, 1)
    for plane, name in zip(planes, names):
        if plane is None or plane.shape != (height, width):
            continue
        if scale > 1:
            plane = plane.repeat(scale, axis=0).repeat(scale, axis=1)
        colour = np.asarray(class_colour(name), dtype=np.float32)
        pixels[plane] = pixels[plane] * (1 - MASK_ALPHA) + colour * MASK_ALPHA
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):            # old Pillow or no FreeType: the bitmap font
        return ImageFont.load_default()


def _label(draw, font, name: str, colour, x0: float, y0: float, canvas) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), name, font=font)
    text_w, text_h = right - left + 6, bottom - top + 4
    ty = y0 - text_h if y0 - text_h >= 0 else y0          # above the box, else inside it
    tx = min(max(x0, 0), max(canvas[0] - text_w, 0))
    draw.rectangle((tx, ty, tx + text_w, ty + text_h), fill=colour)
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    draw.text((tx + 3 - left, ty + 2 - top), name, fill=ink, font=font)


# -- files ---------------------------------------------------------------------------------
def png_name(number: int, source_id: str) -> str:
    stem = re.sub(r"\.(jpe?g|png|gif|bmp|webp|tiff?)$", "", source_id, flags=re.I)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "record"
    return f"{number:04d}_{slug}.png"


@dataclass
class SheetEntry:
    png: str
    source_id: str
    file: str
    record: int
    width: int
    height: int
    names: list[str]
    note: str = ""


def write_contact_sheet(out_dir: str, entries: list[SheetEntry], title: str) -> str:
    """index.html: every drawn image with its source id, record and classes, and a legend."""
    esc = html.escape
    classes = sorted({name for entry in entries for name in entry.names})

    def chip(name: str, count: int | None = None) -> str:
        r, g, b = class_colour(name)
        suffix = f" ×{count}" if count and count > 1 else ""
        return (f'<span class="chip"><i style="background:rgb({r},{g},{b})"></i>'
                f"{esc(name)}{suffix}</span>")

    cards = []
    for entry in entries:
        counts: dict[str, int] = {}
        for name in entry.names:
            counts[name] = counts.get(name, 0) + 1
        chips = " ".join(chip(n, c) for n, c in sorted(counts.items())) or "<em>no objects</em>"
        note = f'<div class="note">{esc(entry.note)}</div>' if entry.note else ""
        cards.append(
            f'<figure><a href="{esc(entry.png)}"><img src="{esc(entry.png)}" loading="lazy" '
            f'alt="{esc(entry.source_id)}"></a><figcaption><b>{esc(entry.source_id)}</b><br>'
            f"{esc(os.path.basename(entry.file))} · record {entry.record} · "
            f"{entry.width}×{entry.height} · {len(entry.names)} objects<br>{chips}{note}"
            "</figcaption></figure>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
         gap: 1em; }}
figure {{ margin: 0; background: #fff; border: 1px solid #ddd; padding: .5em; }}
figure img {{ width: 100%; image-rendering: pixelated; }}
figcaption {{ font-size: 12px; line-height: 1.5; word-break: break-all; }}
.chip {{ display: inline-block; margin-right: .6em; white-space: nowrap; }}
.chip i {{ display: inline-block; width: .9em; height: .9em; margin-right: .25em;
           vertical-align: -.1em; border: 1px solid #0003; }}
.note {{ color: #b00; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{len(entries)} images. Classes: {" ".join(chip(name) for name in classes) or "none"}</p>
<div class="grid">
{chr(10).join(cards)}
</div></body></html>
"""
    path = os.path.join(out_dir, "index.html")
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(page)
    return path
