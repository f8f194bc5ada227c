"""A small Open Images set written in several row orders (tests/test_oid_streaming.py).

The records its conversion gave with the in-memory index of tfrconv before the CSVs were
streamed are written out in test_oid_streaming.py (sha256 of each shard): every row order, and
every spill threshold, must give those bytes.
"""

from __future__ import annotations

import base64

# An 8x6 JPEG and PNG, fixed bytes (the records hold them: the hashes below depend on them).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
    "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIy"
    "MjIyMjIyMjIyMjIyMjIyMjIyMjL/wAARCAAGAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwDP8RaR4L8C61FpWp2t7NO8CzhraFGXaSwAyzqc/Ke1FFFTBtrXz/MGf//Z")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAGCAIAAABxZ0isAAAAG0lEQVR4nGNkYGJhwwZYDAwMaC3B"
    "+OHTF6wSAOTkCCN1ceAfAAAAAElFTkSuQmCC")

PERSON, CAR, DOG, CAT = "/m/01g317", "/m/0k4j", "/m/0bt9lr", "/m/01yrx"
DESCRIPTIONS = f"{PERSON},Person\n{CAR},Car\n{DOG},Dog\n{CAT},Cat\n"
BOX_HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,"
              "IsGroupOf,IsDepiction,IsInside")
LABEL_HEADER = "ImageID,Source,LabelName,Confidence"

# Image files: hex and other ids, a PNG, an id with a .jpg and a .png (.jpg wins), negatives
# (files without rows), an id with rows only in the label CSV.
IMAGES = {"000002b66c9c498e.jpg": JPEG, "0a1b2c3d4e5f6789.jpg": JPEG,
          "ffee0011aabbccdd.jpg": JPEG, "00000000000000ab.png": PNG, "img_7.jpg": JPEG,
          "00cd.jpg": JPEG, "00cd.png": PNG, "b0b0.jpg": JPEG, "c0ffee00c0ffee00.jpg": JPEG,
          "Zed.jpeg": JPEG, "abc.jpg": JPEG}

# Box rows in ImageID order (as Python sorts strings); dead0000beef0000 has no image (skipped),
# b0b0 a bad row (skipped); values in several spellings ("1e-3", ".5", an empty flag: unknown).
BOXES = [
    f"00000000000000ab,activemil,{CAT},1,.5,1,1e-3,0.25,-1,-1,-1,-1,-1",
    f"000002b66c9c498e,xclick,{PERSON},1,0.1,0.5,0.2,0.9,0,1,0,0,0",
    f"000002b66c9c498e,xclick,{CAR},1,0.3333333,0.99,0.125,0.7071,1,0,1,-1,1",
    f"000002b66c9c498e,xclick,{DOG},1,0.0,0.1,0.0,0.1,0,0,0,1,0",
    f"00cd,xclick,{CAR},1,0.2,0.4,0.2,0.4,0,,0,0,0",
    f"00cd,xclick,{PERSON},1,0.6,0.8,0.6,0.8,1,1,1,1,1",
    f"0a1b2c3d4e5f6789,activemil,{DOG},1,0.05,0.95,0.0,1.0,-1,-1,-1,-1,-1",
    f"Zed,xclick,{CAT},1,0.123456789012,0.9,0.1,0.9,0,0,0,0,0",
    f"b0b0,xclick,{CAR},1,0.1,0.2,0.1,0.2,0,0,0,0,0",
    f"b0b0,xclick,{CAR},1,abc,0.2,0.1,0.2,0,0,0,0,0",
    f"dead0000beef0000,xclick,{CAR},1,0.1,0.2,0.1,0.2,0,0,0,0,0",
    f"img_7,xclick,{PERSON},1,0,1,0,1,0,0,1,0,0",
    f"img_7,xclick,{PERSON},1,0.25,0.75,0.25,0.75,0,0,0,0,1",
]
LABELS = [
    f"000002b66c9c498e,verification,{CAR},1",
    f"0a1b2c3d4e5f6789,verification,{DOG},1",
    f"0a1b2c3d4e5f6789,verification,{PERSON},0",
    f"abc,verification,{CAT},0",
    f"c0ffee00c0ffee00,verification,{PERSON},1",
    f"c0ffee00c0ffee00,verification,{CAT},0",
    f"img_7,verification,{CAR},0",
]


def interleaved(rows: list[str]) -> list[str]:
    """The rows in another order, each image's rows keeping their order: a round robin over the
    images, last image first (so no image is in sorted position)."""
    by_image: dict[str, list[str]] = {}
    for row in rows:
        by_image.setdefault(row.split(",", 1)[0], []).append(row)
    queues = [list(q) for q in reversed(by_image.values())]
    out = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def write_set(root, boxes: list[str], labels: list[str]) -> dict:
    """The files of the set under `root`; the conversion options that read them."""
    images = root / "images"
    images.mkdir(parents=True)
    for name, data in IMAGES.items():
        (images / name).write_bytes(data)
    (root / "boxes.csv").write_text(BOX_HEADER + "\n" + "".join(r + "\n" for r in boxes))
    (root / "labels.csv").write_text(LABEL_HEADER + "\n" + "".join(r + "\n" for r in labels))
    (root / "descriptions.csv").write_text(DESCRIPTIONS)
    return {"annotations_csv": str(root / "boxes.csv"), "images_dir": str(images),
            "image_labels_csv": str(root / "labels.csv"),
            "class_descriptions": str(root / "descriptions.csv"),
            "on_error": "skip", "on_missing_image": "skip", "num_shards": 3, "workers": 1}
