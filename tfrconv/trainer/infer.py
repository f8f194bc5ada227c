"""`tfrconv infer`: run an exported SavedModel on images; PNGs with boxes and a JSON of detections.

In detections.json every box, normalised (`box`) or in pixels (`box_pixels`), is
[ymin, xmin, ymax, xmax], the order of the OD API's `detection_boxes` (stated in the file as
`box_order`); detections are listed best first.

The model is called exactly as OD-API inference code calls an exported detector (uint8
[1, H, W, 3] in, the four `detection_*` outputs back), so any OD-API export works here too.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field

from ..api import DataError, UsageError

# Both `box` (normalised) and `box_pixels` list a box as the OD API's detection_boxes do.
BOX_ORDER = "ymin, xmin, ymax, xmax"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclass
class InferResult:
    json_path: str
    images: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def find_saved_model(path: str) -> str:
    for candidate in (path, os.path.join(path, "saved_model")):
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise UsageError(f"--model {path}: no SavedModel there (expected saved_model.pb, or a "
                     "saved_model/ folder as `tfrconv export` writes)")


def class_names(saved_model: str, label_map: str | None) -> dict[int, str]:
    """id → name from --label-map, the export's label map or its pipeline config."""
    from ..api import read_label_map_file

    export_dir = os.path.dirname(os.path.normpath(saved_model))
    path = label_map
    if path is None and os.path.isfile(os.path.join(export_dir, "label_map.pbtxt")):
        path = os.path.join(export_dir, "label_map.pbtxt")
    if path is None and os.path.isfile(os.path.join(export_dir, "pipeline.config")):
        try:
            from .config import read_pipeline

            config = read_pipeline(os.path.join(export_dir, "pipeline.config"))
            candidate = config.train_input_reader.label_map_path
            path = candidate if candidate and os.path.isfile(candidate) else None
        except UsageError:
            path = None
    if path is None:
        return {}
    return {item.id: item.text for item in read_label_map_file(path)}


def expand_images(arguments: list[str]) -> list[str]:
    images: list[str] = []
    for argument in arguments:
        if os.path.isdir(argument):
            found = sorted(os.path.join(argument, name) for name in os.listdir(argument)
                           if name.lower().endswith(IMAGE_SUFFIXES))
        elif os.path.isfile(argument):
            found = [argument]
        else:
            found = sorted(f for f in glob.glob(argument) if os.path.isfile(f))
        if not found:
            raise UsageError(f"{argument}: no such image (or no images match)")
        images.extend(found)
    return list(dict.fromkeys(images))


def load_image(path: str):
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot read the image: {exc}", file=path) from None
    return np.asarray(image)


def run(model_path: str, image_args: list[str], out: str, *, label_map: str | None = None,
        min_score: float = 0.3, max_boxes: int = 20, stream=None) -> InferResult:
    import tensorflow as tf

    from .visualize import draw_boxes

    saved_model = find_saved_model(model_path)
    images = expand_images(image_args)
    names = class_names(saved_model, label_map)
    detect = tf.saved_model.load(saved_model)
    os.makedirs(out, exist_ok=True)
    result = InferResult(json_path=os.path.join(out, "detections.json"))
    used_names: set[str] = set()
    for path in images:
        try:
            pixels = load_image(path)
        except DataError as exc:
            result.failures.append(str(exc))
            if stream is not None:
                print(f"tfrconv infer: skipped {exc}", file=stream)
            continue
        outputs = detect(tf.convert_to_tensor(pixels)[tf.newaxis, ...])
        count = int(outputs["num_detections"].numpy()[0])
        boxes = outputs["detection_boxes"].numpy()[0, :count]
        scores = outputs["detection_scores"].numpy()[0, :count]
        classes = outputs["detection_classes"].numpy()[0, :count].astype(int)
        stem = os.path.splitext(os.path.basename(path))[0]
        name, suffix = stem + ".png", 1
        while name in used_names:
            suffix += 1
            name = f"{stem}_{suffix}.png"
        used_names.add(name)
        picture = draw_boxes(pixels, boxes, classes, scores, names=names, min_score=min_score,
                             max_boxes=max_boxes)
        png = os.path.join(out, name)
        picture.save(png)
        height, width = pixels.shape[:2]
        kept = [i for i in range(count) if scores[i] >= min_score][:max_boxes]
        result.images.append({
            "image": path, "output": png, "width": int(width), "height": int(height),
            "detections": [{
                "class_id": int(classes[i]), "class": names.get(int(classes[i]),
                                                                str(classes[i])),
                "score": round(float(scores[i]), 4),
                "box": [round(float(v), 5) for v in boxes[i]],
                "box_pixels": [round(float(boxes[i][0]) * height, 1),
                               round(float(boxes[i][1]) * width, 1),
                               round(float(boxes[i][2]) * height, 1),
                               round(float(boxes[i][3]) * width, 1)],
            } for i in kept]})
    document = {"model": saved_model, "min_score": min_score, "box_order": BOX_ORDER,
                "images": result.images,
                "failures": result.failures}
    temporary = result.json_path + ".partial"
    with open(temporary, "w", encoding="utf-8") as fileobj:
        json.dump(document, fileobj, indent=2, ensure_ascii=False)
        fileobj.write("\n")
    os.replace(temporary, result.json_path)
    return result
