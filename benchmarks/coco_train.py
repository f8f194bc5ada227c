"""The coco-train case: `tfrconv coco` on a COCO-train2017-shaped annotation file against a
reference-style converter (benchmarks/reference_coco.py), with and without masks, and tfrconv's
peak RSS at the full train2017 shape.

train2017's shape: 118,287 images, 860,001 objects (7.3 per image, listed by id, not grouped by
image), polygon segmentations (here 10-30 vertices), 448 MB of JSON (about 520 bytes per
object); category ids are 80 of 1-90. `train_shaped(root, n)` writes n images' worth of that
shape: 640x480 JPEGs (hard links to a pool of 200 distinct photos, so the disk holds 200 and the
page cache too), the JSON written element by element (the generator never holds it).
"""

from __future__ import annotations

import json
import os
import random

import datasets

# COCO's 80 category ids: 1-90 without these ten.
MISSING_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
CATEGORY_IDS = [i for i in range(1, 91) if i not in MISSING_IDS]
POOL = 200


def train_shaped(root: str, num_images: int, objects_per_image: float = 7.0) -> str:
    """Create (once) and return instances_train2017.json with its train2017/ folder."""
    path = os.path.join(root, "annotations", "instances_train2017.json")
    marker = os.path.join(root, f".complete-{num_images}")
    if os.path.exists(marker):
        return path
    images_dir = os.path.join(root, "train2017")
    pool_dir = os.path.join(root, "pool")
    os.makedirs(images_dir, exist_ok=True)
    os.makedirs(pool_dir, exist_ok=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    base = datasets._base_image(640, 480, seed=2)
    for index in range(POOL):
        target = os.path.join(pool_dir, f"{index}.jpg")
        if not os.path.exists(target):
            datasets._write_jpeg(target, base, index)
    rng = random.Random(2017)
    with open(path + ".tmp", "w") as out:
        out.write('{"info": {"description": "train2017-shaped"}, "licenses": [], "images": [')
        for index in range(num_images):
            name = f"{index + 1:012d}.jpg"
            link = os.path.join(images_dir, name)
            if not os.path.exists(link):
                os.link(os.path.join(pool_dir, f"{index % POOL}.jpg"), link)
            out.write(("," if index else "") + json.dumps(
                {"license": 1, "file_name": name, "coco_url": "http://images.cocodataset.org/"
                 f"train2017/{name}", "height": 480, "width": 640,
                 "date_captured": "2013-11-14 11:18:45", "flickr_url": "", "id": index + 1}))
        out.write('], "annotations": [')
        # COCO's own files list annotations by id, not grouped by image: shuffle the images.
        total = round(num_images * objects_per_image)
        for number in range(total):
            image_id = rng.randrange(num_images) + 1
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(8, 620 - x), rng.uniform(8, 470 - y)
            vertices = rng.randint(10, 30)
            polygon = []
            for _ in range(vertices):
                polygon += [round(x + w * rng.random(), 2), round(y + h * rng.random(), 2)]
            out.write(("," if number else "") + json.dumps(
                {"segmentation": [polygon], "area": round(w * h * 0.6, 4), "iscrowd": 0,
                 "image_id": image_id, "bbox": [round(x, 2), round(y, 2), round(w, 2),
                                                round(h, 2)],
                 "category_id": rng.choice(CATEGORY_IDS), "id": 1000000 + number}))
        out.write('], "categories": ')
        out.write(json.dumps([{"supercategory": "thing", "id": cid, "name": f"class{cid}"}
                              for cid in CATEGORY_IDS]))
        out.write("}")
    os.replace(path + ".tmp", path)
    open(marker, "w").close()
    return path


MODES = {"boxes": ([], []), "masks": (["--include-masks"], ["--include_masks"])}


def bench(args, out_dir: str, run, modes: tuple[str, ...] = ("boxes", "masks")) -> dict:
    """tfrconv against the reference-style converter on the train2017 shape at --images
    images, without and with masks (or only `modes`); best of --repeat for each (the
    reference once)."""
    path = train_shaped(os.path.join(args.cache, f"coco-train-{args.images}"), args.images)
    image_dir = os.path.join(os.path.dirname(os.path.dirname(path)), "train2017")
    run.warm(os.path.dirname(path))
    run.warm(os.path.join(os.path.dirname(image_dir), "pool"))
    result = {"case": "coco-train", "images": args.images,
              "json_mb": round(os.path.getsize(path) / 1e6, 1),
              "load_before": round(os.getloadavg()[0], 2)}
    for label in modes:
        ours, theirs = MODES[label]
        output = os.path.join(out_dir, f"coco-{label}.record")
        tfrconv = min((run.timed(run.tfrconv_cmd() + [
            "coco", "--annotations-file", path, "--output", output, "--no-progress", *ours])
            for _ in range(args.repeat)), key=lambda x: x["wall_s"])
        entry = {"tfrconv": tfrconv}
        if args.reference:
            reference = run.timed([run.sys.executable,
                                   os.path.join(run.HERE, "reference_coco.py"),
                                   "--annotations_file", path, "--image_dir", image_dir,
                                   "--output_path", output + ".reference", *theirs])
            entry["reference_style"] = reference
            entry["speedup_wall"] = round(reference["wall_s"] / tfrconv["wall_s"], 1)
            entry["speedup_cpu"] = round(reference["cpu_s"] / tfrconv["cpu_s"], 1)
        result[label] = entry
    result["load_after"] = round(os.getloadavg()[0], 2)
    return result


def bench_memory(args, out_dir: str, run,
                 parts: tuple[str, ...] = ("index", "boxes", "masks")) -> dict:
    """Peak RSS of `tfrconv coco` (and of the listing alone: the index) at the full
    train2017 shape, 118,287 images and 860,000 objects; only `parts` of the three (masks
    alone is ~10 min of CPU)."""
    images = 118_287
    path = train_shaped(os.path.join(args.cache, f"coco-train-{images}"), images,
                        objects_per_image=860_001 / images)
    run.warm(os.path.dirname(path))
    result = {"case": "coco-train-memory", "images": images,
              "json_mb": round(os.path.getsize(path) / 1e6, 1)}
    index = ("import sys; from tfrconv_plugins import coco; "
             "coco.stream_index(sys.argv[1])")
    if "index" in parts:
        result["index_only"] = run.timed([run.sys.executable, "-c", index, path])
    for label, extra in (("boxes", []), ("masks", ["--include-masks"])):
        if label not in parts:
            continue
        result[label] = run.timed(run.tfrconv_cmd() + [
            "coco", "--annotations-file", path, "--output",
            os.path.join(out_dir, f"coco-{label}-full.record"), "--no-progress", *extra])
    return result
