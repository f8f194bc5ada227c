"""Drawing boxes with labels on images (PIL): for `tfrconv infer` and the TensorBoard side-by-side
images of evaluation."""

from __future__ import annotations

PALETTE = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
           (0, 128, 128), (220, 190, 255), (170, 110, 40), (128, 0, 0), (0, 0, 128))


def colour(class_id: int) -> tuple[int, int, int]:
    return PALETTE[int(class_id) % len(PALETTE)]


def draw_boxes(image, boxes, classes, scores=None, *, names: dict[int, str] | None = None,
               min_score: float = 0.0, max_boxes: int | None = None, thickness: int | None = None):
    """A copy of `image` (uint8 HxWx3 array or PIL image) with the boxes drawn.

    boxes: normalised [ymin, xmin, ymax, xmax]; classes: label-map ids; scores: None for ground
    truth. With scores, the `max_boxes` best at or above `min_score` are drawn, the best last,
    so that its box and label are on top. Returns a PIL image.
    """
    from PIL import Image, ImageDraw, ImageFont

    picture = image.copy() if isinstance(image, Image.Image) else Image.fromarray(image)
    picture = picture.convert("RGB")
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    line = thickness or max(1, round(min(width, height) / 160))
    font = ImageFont.load_default()
    if scores is None:
        order = list(range(len(boxes)))[:max_boxes]
    else:       # the best `max_boxes` above min_score, drawn lowest score first: best on top
        ranked = sorted((i for i in range(len(boxes)) if float(scores[i]) >= min_score),
                        key=lambda i: -float(scores[i]))
        order = ranked[:max_boxes] if max_boxes is not None else ranked
        order.reverse()
    for i in order:
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[i])
        left, top = xmin * width, ymin * height
        right, bottom = xmax * width, ymax * height
        cid = int(classes[i])
        tint = colour(cid)
        draw.rectangle([left, top, right, bottom], outline=tint, width=line)
        label = (names or {}).get(cid, str(cid))
        if scores is not None:
            label += f" {100 * float(scores[i]):.0f}%"
        text_box = draw.textbbox((0, 0), label, font=font)
        text_w, text_h = text_box[2] - text_box[0], text_box[3] - text_box[1]
        text_top = top - text_h - 2 if top - text_h - 2 >= 0 else top
        draw.rectangle([left, text_top, left + text_w + 4, text_top + text_h + 2], fill=tint)
        draw.text((left + 2, text_top), label, fill=(0, 0, 0), font=font)
    return picture


def side_by_side(left, right):
    """Two PIL images next to each other (detections | ground truth), as a uint8 array."""
    import numpy as np
    from PIL import Image

    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return np.asarray(canvas)
