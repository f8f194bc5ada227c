"""oid-train: Open Images at the training split's shape (`--images 1700000`: 1.7 M images,
14.6 M boxes in a 2.2 GB box CSV with v6's 21 columns, 3 image-level labels an image, 601
classes), generated once under --cache. Images: a few stand-ins (one 64x48 JPEG) hard-linked
under every ImageID name (one file takes at most ~65,000 links); the conversion in oid-train runs
on the real JPEGs of a tenth of the images, oid-train-convert on the full set.

Measured, each with peak RSS and CPU:
- the floor: `wc -l` over the box and label CSVs, and a plain Python `csv.reader` pass over them;
- stream: the CSV side of a conversion at full shape (list_items, classes, every item through
  read_item; no image read), the box CSV in ImageID order as Open Images ships it, and
  stream-unsorted: the same rows with the images in random order (rows sorted on disk);
- convert-tenth: `tfrconv oid` writing records for a tenth of the images (real 64x48 JPEGs),
  and stream-tenth: its CSV side, to show that the peak does not grow with the rows.

oid-train-convert: `tfrconv oid` end to end on the full set (`--images 1700000`: ~15 min of CPU),
once. A set generated before its stand-ins were JPEGs (100 bytes of zeros) cannot convert:
delete it to have it generated again.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys

BOXES_PER_IMAGE = 14.6 / 1.7                      # the training split's boxes / images
LABELS_PER_IMAGE = 3
LINKS_PER_FILE = 60_000
HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,"
          "IsGroupOf,IsDepiction,IsInside,XClick1X,XClick2X,XClick3X,XClick4X,XClick1Y,"
          "XClick2Y,XClick3Y,XClick4Y")

STREAM = """
import json, sys, time
from tfrconv_plugins import oid
from tfrconv.formats import Options
boxes, labels, classes, images, result = sys.argv[1:6]
opts = Options({"annotations_csv": boxes, "images_dir": images, "image_labels_csv": labels,
                "class_descriptions": classes, "annotated_only": False,
                "unknown_attributes": "keep"})
start = time.process_time()
items = oid.list_items(opts)
oid.classes(opts)
count, index_cpu = len(items), time.process_time() - start
examples = objects = 0
for item in items:
    objects += len(oid.read_item(item, opts).objects)
    examples += 1
with open(result, "w") as fileobj:
    json.dump({"images": count, "examples": examples, "objects": objects,
               "index_cpu_s": round(index_cpu, 2)}, fileobj)
"""

CSV_PASS = """
import csv, sys
rows = 0
for path in sys.argv[1:]:
    with open(path, newline="", encoding="utf-8") as fileobj:
        for _row in csv.reader(fileobj):
            rows += 1
"""


def _row_tails(rng: random.Random, mids: list[str]) -> list[str]:
    """Box rows after the ImageID: a pool drawn once (Source, label, coordinates, flags, the
    four extreme clicks)."""
    tails = []
    for _ in range(4096):
        x0, x1 = sorted(rng.random() for _ in range(2))
        y0, y1 = sorted(rng.random() for _ in range(2))
        flags = ",".join(rng.choice("0001") for _ in range(5))
        clicks = ",".join(f"{rng.random():.6f}" for _ in range(8))
        tails.append(f",xclick,{rng.choice(mids)},1,{x0:.6f},{x1:.6f},{y0:.6f},{y1:.6f},"
                     f"{flags},{clicks}\n")
    return tails


def make_set(folder: str, images: int, jpegs: bool) -> dict:
    """The CSVs (box CSV in ImageID order and shuffled by image), the class CSV, and the image
    folder (hard links to a few stand-ins, or real JPEGs when `jpegs`)."""
    paths = {"boxes": os.path.join(folder, "train-annotations-bbox.csv"),
             "unsorted": os.path.join(folder, "unsorted-annotations-bbox.csv"),
             "labels": os.path.join(folder, "train-annotations-human-imagelabels-boxable.csv"),
             "classes": os.path.join(folder, "class-descriptions-boxable.csv"),
             "images": os.path.join(folder, "train")}
    if os.path.exists(os.path.join(folder, "done")):
        return paths
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(paths["images"])
    rng = random.Random(7)
    mids = [f"/m/0{i:05x}" for i in range(601)]
    with open(paths["classes"], "w") as fileobj:
        fileobj.writelines(f"{mid},Class {i}\n" for i, mid in enumerate(mids))
    ids = sorted({f"{rng.getrandbits(64):016x}" for _ in range(images)})
    tails = _row_tails(rng, mids)
    shuffled = list(ids)
    rng.shuffle(shuffled)
    for key, order in (("boxes", ids), ("unsorted", shuffled)):
        _write_boxes(paths[key], order, tails, random.Random(11))
    with open(paths["labels"], "w") as fileobj:
        fileobj.write("ImageID,Source,LabelName,Confidence\n")
        for start in range(0, len(ids), 10_000):
            fileobj.write("".join(f"{image_id},verification,{rng.choice(mids)},"
                                  f"{rng.choice('01')}\n" for image_id in ids[start:start + 10_000]
                                  for _ in range(LABELS_PER_IMAGE)))
    _write_images(paths["images"], ids, jpegs)
    open(os.path.join(folder, "done"), "w").close()
    return paths


def _write_boxes(path: str, ids: list[str], tails: list[str], rng: random.Random) -> None:
    """1 to 17 boxes an image (BOXES_PER_IMAGE on average), each image's rows together."""
    spread = int(BOXES_PER_IMAGE) - 1
    with open(path, "w") as fileobj:
        fileobj.write(HEADER + "\n")
        spare = 0.0
        for start in range(0, len(ids), 10_000):
            lines = []
            for image_id in ids[start:start + 10_000]:
                spare += BOXES_PER_IMAGE
                count = max(1, min(int(spare) + rng.randint(-spread, spread), 2 * spread + 3))
                spare -= count
                lines.extend(image_id + rng.choice(tails) for _ in range(count))
            fileobj.write("".join(lines))


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _write_images(folder: str, ids: list[str], jpegs: bool) -> None:
    """Real 64x48 JPEGs (`jpegs`), or hard links to a few stand-ins: the same JPEG, so that
    the full shape converts end to end too (oid-train-convert)."""
    data = _tiny_jpeg()
    if jpegs:
        for image_id in ids:
            with open(os.path.join(folder, image_id + ".jpg"), "wb") as fileobj:
                fileobj.write(data)
        return
    stand_ins = os.path.join(os.path.dirname(folder), "stand-ins")
    os.makedirs(stand_ins, exist_ok=True)
    for number, image_id in enumerate(ids):
        source = os.path.join(stand_ins, f"{number // LINKS_PER_FILE}.jpg")
        if number % LINKS_PER_FILE == 0:
            with open(source, "wb") as fileobj:
                fileobj.write(data)
        os.link(source, os.path.join(folder, image_id + ".jpg"))


def _stream(run, paths: dict, boxes: str, out_dir: str, name: str) -> dict:
    result = os.path.join(out_dir, f"{name}.json")
    measured = run.timed([sys.executable, "-c", STREAM, boxes, paths["labels"],
                          paths["classes"], paths["images"], result])
    with open(result) as fileobj:
        return {**measured, **json.load(fileobj)}


def _best(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda m: m["cpu_s"]))
    best["peak_rss_mb_all"] = [m["peak_rss_mb"] for m in runs]
    return best


def bench(args, out_dir: str, run) -> dict:
    full = make_set(os.path.join(args.cache, f"oid-train-{args.images}"), args.images, False)
    tenth = make_set(os.path.join(args.cache, f"oid-train-{args.images // 10}-jpeg"),
                     args.images // 10, True)
    csvs = [full["boxes"], full["labels"]]
    for path in csvs:
        _read(path)
    convert = run.tfrconv_cmd() + [
        "oid", "--annotations-csv", tenth["boxes"], "--images-dir", tenth["images"],
        "--image-labels-csv", tenth["labels"], "--class-descriptions", tenth["classes"],
        "--num-shards", "10", "--workers", "2"]
    runs: dict[str, list] = {name: [] for name in ("wc", "csv_pass", "stream", "stream_unsorted",
                                                   "stream_tenth", "convert_tenth")}
    for attempt in range(args.repeat):
        runs["wc"].append(run.timed(["wc", "-l", *csvs]))
        runs["csv_pass"].append(run.timed([sys.executable, "-c", CSV_PASS, *csvs]))
        runs["stream"].append(_stream(run, full, full["boxes"], out_dir, "stream"))
        runs["stream_unsorted"].append(_stream(run, full, full["unsorted"], out_dir,
                                               "unsorted"))
        runs["stream_tenth"].append(_stream(run, tenth, tenth["boxes"], out_dir, "tenth"))
        output = os.path.join(out_dir, f"convert{attempt}", "oid.record")
        runs["convert_tenth"].append(run.timed(convert + ["--output", output]))
        shutil.rmtree(os.path.dirname(output), ignore_errors=True)
    result = {"case": "oid-train", "images": args.images, "tenth_images": args.images // 10,
              "csv_bytes": sum(os.path.getsize(p) for p in csvs)}
    for name, measured in runs.items():
        result[name] = _best(measured)
    floor = result["csv_pass"]["cpu_s"]
    for name in ("stream", "stream_unsorted"):
        result[f"{name}_over_csv_pass"] = round(result[name]["cpu_s"] / floor, 2)
        result[f"{name}_over_wc"] = round(result[name]["cpu_s"] / max(result["wc"]["cpu_s"],
                                                                       0.01), 1)
    return result


def _read(path: str) -> None:
    """Into the page cache: every contender starts warm."""
    with open(path, "rb") as fileobj:
        while fileobj.read(1 << 24):
            pass


def bench_convert(args, out_dir: str, run) -> dict:
    """`tfrconv oid` end to end at --images (the full set's CSVs and stand-in images), once:
    wall, CPU and peak RSS (largest process)."""
    full = make_set(os.path.join(args.cache, f"oid-train-{args.images}"), args.images, False)
    for path in (full["boxes"], full["labels"]):
        _read(path)
    output = os.path.join(out_dir, "convert-full", "oid.record")
    measured = run.timed(run.tfrconv_cmd() + [
        "oid", "--annotations-csv", full["boxes"], "--images-dir", full["images"],
        "--image-labels-csv", full["labels"], "--class-descriptions", full["classes"],
        "--num-shards", "10", "--workers", "2", "--no-progress", "--output", output])
    records = sum(os.path.getsize(os.path.join(os.path.dirname(output), name))
                  for name in os.listdir(os.path.dirname(output)))
    shutil.rmtree(os.path.dirname(output), ignore_errors=True)
    return {"case": "oid-train-convert", "images": args.images, "records_bytes": records,
            "load_after": round(os.getloadavg()[0], 2), "convert": measured}


CASES = {"oid-train": bench, "oid-train-convert": bench_convert}
