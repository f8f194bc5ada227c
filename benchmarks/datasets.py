"""Benchmark datasets, generated on demand and cached: nothing large lives in the repository.

- `voc(root, n)`: VOC2012 layout, n distinct 500x375 JPEGs of about 70 KB (the size of real VOC
  photos), 1-3 objects each, ImageSets/Main/train.txt listing all of them.
- `yolo(root, voc_root, n)`: the same images (hard links to the VOC JPEGs) and boxes in the
  Ultralytics layout (data.yaml, images/train, labels/train), names in VOC_CLASSES order.
- `coco(root, n)`: COCO layout (annotations/instances_bench.json + bench/), n 640x480 JPEGs with
  4 polygon instances each, for the `--include-masks` case.

Images are made from one random photo-like base shifted per image, so every file is different
(no page-cache sharing) yet generation stays fast.
"""

from __future__ import annotations

import json
import os
import shutil

VOC_CLASSES = ("dog", "person", "car", "cat", "bicycle")


def _base_image(width: int, height: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    # Smoothed noise compresses like a photo (JPEG quality 75 → ~70 KB at 500x375).
    noise = rng.integers(0, 255, (height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    base = np.kron(noise, np.ones((4, 4, 1), dtype=np.uint8))[:height, :width]
    detail = rng.integers(0, 48, (height, width, 3), dtype=np.uint8)
    return (base // 2 + detail).astype(np.uint8)


def _write_jpeg(path: str, pixels, shift: int) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.roll(pixels, shift * 7, axis=1)).save(path, quality=75)


def _voc_boxes(index: int) -> list[tuple[int, int, int, int, int]]:
    """(class index, xmin, ymin, xmax, ymax) of image `index`'s 1-3 objects, in pixels."""
    return [((index + k) % len(VOC_CLASSES), 10 + 40 * k, 20 + 30 * k, 200 + 40 * k, 300)
            for k in range(1 + index % 3)]


def voc(root: str, num_images: int) -> str:
    """Create (once) and return a VOCdevkit folder with VOC2012/ holding `num_images` images."""
    year = os.path.join(root, "VOC2012")
    marker = os.path.join(root, f".complete-{num_images}")
    if os.path.exists(marker):
        return root
    for sub in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(year, sub), exist_ok=True)
    base = _base_image(500, 375)
    ids = []
    for index in range(num_images):
        image_id = f"2008_{index:06d}"
        ids.append(image_id)
        _write_jpeg(os.path.join(year, "JPEGImages", image_id + ".jpg"), base, index)
        objects = "".join(
            f"<object><name>{VOC_CLASSES[label]}</name>"
            f"<pose>Left</pose><truncated>{k % 2}</truncated><difficult>0</difficult>"
            f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for k, (label, x0, y0, x1, y1) in enumerate(_voc_boxes(index)))
        with open(os.path.join(year, "Annotations", image_id + ".xml"), "w") as fileobj:
            fileobj.write(
                f"<annotation><folder>VOC2012</folder><filename>{image_id}.jpg</filename>"
                "<size><width>500</width><height>375</height><depth>3</depth></size>"
                f"<segmented>0</segmented>{objects}</annotation>\n")
    with open(os.path.join(year, "ImageSets", "Main", "train.txt"), "w") as fileobj:
        fileobj.write("".join(i + "\n" for i in ids))
    open(marker, "w").close()
    return root


def yolo(root: str, voc_root: str, num_images: int) -> str:
    """Create (once) and return an Ultralytics YOLO folder holding `voc(voc_root, n)`'s images
    (hard-linked: the same bytes, and the same page cache) and boxes."""
    marker = os.path.join(root, f".complete-{num_images}")
    if os.path.exists(marker):
        return root
    jpegs = os.path.join(voc_root, "VOC2012", "JPEGImages")
    images, labels = os.path.join(root, "images", "train"), os.path.join(root, "labels", "train")
    os.makedirs(images, exist_ok=True)
    os.makedirs(labels, exist_ok=True)
    width, height = 500, 375
    for index in range(num_images):
        image_id = f"2008_{index:06d}"
        target = os.path.join(images, image_id + ".jpg")
        if not os.path.exists(target):
            try:
                os.link(os.path.join(jpegs, image_id + ".jpg"), target)
            except OSError:
                shutil.copyfile(os.path.join(jpegs, image_id + ".jpg"), target)
        with open(os.path.join(labels, image_id + ".txt"), "w") as fileobj:
            fileobj.write("".join(
                f"{label} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
                f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}\n"
                for label, x0, y0, x1, y1 in _voc_boxes(index)))
    with open(os.path.join(root, "data.yaml"), "w") as fileobj:
        fileobj.write(f"train: images/train\nnames: [{', '.join(VOC_CLASSES)}]\n")
    open(marker, "w").close()
    return root


def coco(root: str, num_images: int) -> str:
    """Create (once) and return the annotation JSON of a COCO set with polygon masks."""
    path = os.path.join(root, "annotations", "instances_bench.json")
    marker = os.path.join(root, f".complete-{num_images}")
    if os.path.exists(marker):
        return path
    images_dir = os.path.join(root, "bench")
    os.makedirs(images_dir, exist_ok=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    base = _base_image(640, 480, seed=1)
    images, annotations = [], []
    for index in range(num_images):
        name = f"{index:012d}.jpg"
        _write_jpeg(os.path.join(images_dir, name), base, index)
        images.append({"id": index + 1, "file_name": name, "width": 640, "height": 480})
        for k in range(4):
            x0, y0 = 40 + 120 * k, 60 + 50 * k
            polygon = [x0, y0, x0 + 100, y0 + 10, x0 + 110, y0 + 120, x0 + 50, y0 + 160,
                       x0 - 20, y0 + 90]
            annotations.append({
                "id": len(annotations) + 1, "image_id": index + 1, "category_id": 1 + k % 3,
                "iscrowd": 0, "area": 14000.0, "bbox": [x0 - 20, y0, 130, 160],
                "segmentation": [polygon]})
    categories = [{"id": i, "name": n} for i, n in ((1, "person"), (2, "car"), (3, "dog"))]
    with open(path, "w") as fileobj:
        json.dump({"images": images, "annotations": annotations, "categories": categories},
                  fileobj)
    open(marker, "w").close()
    return path
