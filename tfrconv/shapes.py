"""A synthetic detection dataset in Pascal VOC layout: coloured shapes on noisy backgrounds.

Used by the bundled sample, the tests, the trainer demo and the benchmarks. Images are real JPEGs,
annotations are VOC XML with the usual fields; shapes cut by the border are marked truncated and
tiny ones difficult, so the data exercises what real VOC data does. The same seed always gives the
same annotations.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from xml.sax.saxutils import escape

CLASSES = ("circle", "square", "triangle")
DIFFICULT_BELOW = 0.12          # shapes smaller than this fraction of the image are "difficult"


@dataclass
class Shape:
    label: str
    xmin: int
    ymin: int
    xmax: int
    ymax: int
    truncated: bool
    difficult: bool


def generate_shapes(out: str, *, num_images: int = 200, image_size: int = 128,
                    val_fraction: float = 0.2, seed: int = 0, year: str | None = None,
                    max_objects: int = 4) -> str:
    """Write the dataset under `out` (or `out/year`) and return the dataset folder."""
    import numpy as np
    from PIL import Image, ImageDraw

    root = os.path.join(out, year) if year else out
    for sub in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    rng = random.Random(seed)
    ids = [f"shapes_{i:06d}" for i in range(num_images)]
    for image_id in ids:
        # Smooth background: a random gradient plus mild noise, so shapes are not trivial.
        np_rng = np.random.default_rng(rng.getrandbits(32))
        base = np.array([rng.randrange(40, 200) for _ in range(3)], dtype=np.float32)
        ramp = np.linspace(-30, 30, image_size, dtype=np.float32)
        pixels = base + ramp[None, :, None] * rng.choice((-1, 1)) + np_rng.normal(
            0, 12, (image_size, image_size, 3)).astype(np.float32)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        shapes: list[Shape] = []
        count = 0 if rng.random() < 0.05 else rng.randint(1, max_objects)
        for _ in range(count * 4):                      # retries to avoid heavy overlap
            if len(shapes) == count:
                break
            shape = _random_shape(rng, image_size)
            if all(_iou(shape, other) < 0.2 for other in shapes):
                _draw(draw, shape, rng)
                shapes.append(_visible_part(shape, image_size))
        image.save(os.path.join(root, "JPEGImages", image_id + ".jpg"), quality=90)
        with open(os.path.join(root, "Annotations", image_id + ".xml"), "w",
                  encoding="utf-8") as fileobj:
            fileobj.write(_voc_xml(image_id + ".jpg", image_size, shapes,
                                   os.path.basename(os.path.normpath(root))))
    shuffled = ids[:]
    rng.shuffle(shuffled)
    num_val = int(round(len(ids) * val_fraction))
    val = sorted(shuffled[:num_val])
    train = sorted(shuffled[num_val:])
    for name, members in (("train", train), ("val", val), ("trainval", sorted(ids))):
        with open(os.path.join(root, "ImageSets", "Main", name + ".txt"), "w") as fileobj:
            fileobj.write("".join(m + "\n" for m in members))
    with open(os.path.join(root, "label_map.pbtxt"), "w", encoding="utf-8") as fileobj:
        for index, name in enumerate(CLASSES, start=1):
            fileobj.write(f"item {{\n  id: {index}\n  name: '{name}'\n}}\n")
    return root


def _random_shape(rng: random.Random, size: int) -> Shape:
    label = rng.choice(CLASSES)
    extent = rng.randint(max(8, size // 10), size // 2)
    # Centres may sit near the border so that some shapes are cut (truncated).
    cx = rng.randint(-extent // 4, size + extent // 4)
    cy = rng.randint(-extent // 4, size + extent // 4)
    half = extent // 2
    return Shape(label, cx - half, cy - half, cx - half + extent, cy - half + extent,
                 False, extent < DIFFICULT_BELOW * size)


def _draw(draw, shape: Shape, rng: random.Random) -> None:
    colour = tuple(rng.randrange(0, 256) for _ in range(3))
    box = [shape.xmin, shape.ymin, shape.xmax - 1, shape.ymax - 1]
    if shape.label == "circle":
        draw.ellipse(box, fill=colour)
    elif shape.label == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([((shape.xmin + shape.xmax) / 2, shape.ymin), (shape.xmin, shape.ymax - 1),
                      (shape.xmax - 1, shape.ymax - 1)], fill=colour)


def _visible_part(shape: Shape, size: int) -> Shape:
    xmin, ymin = max(0, shape.xmin), max(0, shape.ymin)
    xmax, ymax = min(size, shape.xmax), min(size, shape.ymax)
    truncated = (xmin, ymin, xmax, ymax) != (shape.xmin, shape.ymin, shape.xmax, shape.ymax)
    return Shape(shape.label, xmin, ymin, xmax, ymax, truncated, shape.difficult)


def _iou(a: Shape, b: Shape) -> float:
    ix = max(0, min(a.xmax, b.xmax) - max(a.xmin, b.xmin))
    iy = max(0, min(a.ymax, b.ymax) - max(a.ymin, b.ymin))
    inter = ix * iy
    union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter
    return inter / union if union else 0.0


def _voc_xml(filename: str, size: int, shapes: list[Shape], folder: str) -> str:
    objects = "".join(
        f"  <object>\n    <name>{s.label}</name>\n    <pose>Unspecified</pose>\n"
        f"    <truncated>{int(s.truncated)}</truncated>\n"
        f"    <difficult>{int(s.difficult)}</difficult>\n"
        f"    <bndbox>\n      <xmin>{s.xmin}</xmin>\n      <ymin>{s.ymin}</ymin>\n"
        f"      <xmax>{s.xmax}</xmax>\n      <ymax>{s.ymax}</ymax>\n    </bndbox>\n"
        "  </object>\n" for s in shapes)
    return (f"<annotation>\n  <folder>{escape(folder)}</folder>\n"
            f"  <filename>{escape(filename)}</filename>\n"
            "  <source>\n    <database>tfrconv synthetic shapes</database>\n  </source>\n"
            f"  <size>\n    <width>{size}</width>\n    <height>{size}</height>\n"
            "    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n"
            f"{objects}</annotation>\n")
