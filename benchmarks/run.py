"""tfrconv benchmarks: conversion against the I/O floor, COCO masks, start-up.

    python benchmarks/run.py                       # all cases, 2000 images
    python benchmarks/run.py --images 20000 --cases voc
    python benchmarks/run.py --cases startup --json results.json

Every figure is measured in the same run as its baseline and reported as a ratio, so a busy or
slower machine changes both sides alike:

- voc: `tfrconv voc` on a generated VOC2012-layout set (process start included) against the
  floor, a separate process that reads every image once, SHA-256s it and writes the bytes to one
  file (what a converter cannot avoid). Images/s, MB/s, peak RSS, ratio to the floor, and, when
  TensorFlow is installed, a reference-style converter (benchmarks/reference_pascal.py).
- coco-masks: `tfrconv coco --include-masks` with 1 worker and with N workers (scaling), and
  benchmarks/reference_coco.py --include_masks on the same file (when TensorFlow is installed).
- yolo: `tfrconv yolo` on the voc case's images and boxes in the Ultralytics layout (hard links
  to the same JPEGs), VOC converted in the same run, alternating; the ratio of the best runs.
- labelme: `tfrconv labelme` on the voc case's images and boxes as LabelMe JSON beside each image
  (hard links), VOC in the same run, alternating; the ratio of the best runs.
- voc-prepare: the voc case plain, with `--on-duplicate-image warn`, and with `--split`,
  `--remap`, `--min-box-size`, `--max-boxes` and `--on-duplicate-image warn` together.
- voc-near-duplicates: 20,000 VOC images split train/val, with and without `--near-duplicates`.
- coco-train: `tfrconv coco` on a COCO-train2017-shaped file of --images images (7 objects each,
  polygons, 80 sparse category ids) without and with masks, against benchmarks/reference_coco.py
  (benchmarks/coco_train.py); coco-train-memory: peak RSS at the full shape (118,287 images).
- read: reading the report case's records back: `read_examples`, `tfrconv inspect` and
  `tfrconv verify --no-decode` against tf.data + tf.io.parse_example with the decoder's spec
  (benchmarks/read_side.py).
- startup: `tfrconv --help`, `tfrconv formats` and `tfrconv voc --help`, median of 10 runs.
- report: `tfrconv report` on the voc case's records (converted once into 4 shards, reported as
  two splits: shards 0-2 and shard 3) against reading the same records (framing, CRC and
  decoding every Example, in one process), and with `--near-duplicates`.
- records: `tfrconv records reshard` (8 shards) and `records merge` of two record sets against
  `cp` of the same files; peak RSS also at a tenth of the images (memory must not grow).
- more cases in the `bench_*.py` modules beside this one: each declares `CASES`, a mapping of
  case name to `bench(args, out_dir, run)` (`run` is this module, for its helpers); its
  docstring describes them. `--list` prints every case.

Datasets are generated under --cache (default: $TMPDIR/tfrconv-bench) the first time and reused.
Every contender runs with Python's bytecode cache on (under --cache/pycache, whatever
PYTHONDONTWRITEBYTECODE says): an installed package has its .pyc files, and compiling tfrconv's
sources on every start measured ~80 ms of CPU per command here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coco_train  # noqa: E402
import datasets  # noqa: E402
import read_side  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR = """
import hashlib, os, sys
src, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as sink:
    for name in sorted(os.listdir(src)):
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        hashlib.sha256(data).hexdigest()
        sink.write(data)
"""


GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def bytecode_env(cache: str) -> None:
    """Contenders use compiled bytecode, as installed packages do (see the module docstring)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(cache, "pycache")


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command: wall seconds, CPU seconds and its own peak RSS.

    The peak RSS comes from GNU time when present: a child forked from this (larger) Python
    process would otherwise report this process's RSS as its own peak.
    """
    wrapped = [GNU_TIME, "-f", "RUSAGE %M %U %S", *cmd] if GNU_TIME else cmd
    start = time.perf_counter()
    process = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, **(env or {})})
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if status != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{stderr}")
    rss_kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    for line in stderr.splitlines():
        if line.startswith("RUSAGE "):
            fields = line.split()
            rss_kb, cpu = int(fields[1]), float(fields[2]) + float(fields[3])
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(rss_kb / 1024, 1),
            "cpu_s": round(cpu, 3)}


def tfrconv_cmd() -> list[str]:
    exe = shutil.which("tfrconv", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "tfrconv"]


def warm(folder: str) -> int:
    """Read every file once (page cache): all contenders start warm. Returns total bytes."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as fileobj:
                total += len(fileobj.read())
    return total


def bench_voc(args, out_dir: str) -> dict:
    root = datasets.voc(os.path.join(args.cache, f"voc-{args.images}"), args.images)
    images = os.path.join(root, "VOC2012", "JPEGImages")
    size = warm(images)
    warm(os.path.join(root, "VOC2012", "Annotations"))
    runs = {"floor": [], "tfrconv": [], "tfrconv_1_worker": []}
    output = os.path.join(out_dir, "voc.record")
    base = tfrconv_cmd() + ["voc", "--data-dir", root, "--set", "train", "--label-map",
                            "pascal", "--output", output, "--no-progress"]
    for _ in range(args.repeat):
        runs["floor"].append(timed([sys.executable, "-c", FLOOR, images,
                                    os.path.join(out_dir, "floor.bin")]))
        runs["tfrconv"].append(timed(base))
        runs["tfrconv_1_worker"].append(timed(base + ["--workers", "1"]))
    reference = None
    if args.reference:
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            print("  (reference-style run skipped: TensorFlow is not installed)")
        else:
            reference = timed([sys.executable, os.path.join(HERE, "reference_pascal.py"),
                               "--data_dir", root, "--year", "VOC2012", "--set", "train",
                               "--output_path", os.path.join(out_dir, "reference.record")])
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    result = {"case": "voc", "images": args.images, "mb": round(size / 1e6, 1), **{
        name: {**m, "images_per_s": round(args.images / m["wall_s"]),
               "mb_per_s": round(size / 1e6 / m["wall_s"], 1),
               "ratio_to_floor": round(m["wall_s"] / best["floor"]["wall_s"], 2)}
        for name, m in best.items()}}
    if reference:
        result["reference_style"] = {
            **reference, "ratio_to_floor": round(reference["wall_s"] / best["floor"]["wall_s"], 2),
            "tfrconv_speedup": round(reference["wall_s"] / best["tfrconv"]["wall_s"], 1)}
    return result


def bench_coco_masks(args, out_dir: str) -> dict:
    images = max(50, args.images // 10)
    path = datasets.coco(os.path.join(args.cache, f"coco-{images}"), images)
    warm(os.path.dirname(os.path.dirname(path)))
    output = os.path.join(out_dir, "coco.record")
    base = tfrconv_cmd() + ["coco", "--annotations-file", path, "--include-masks",
                            "--output", output, "--no-progress"]
    result = {"case": "coco-masks", "images": images, "masks": images * 4}
    workers = os.cpu_count() or 1
    for label, extra in (("1_worker", ["--workers", "1"]),
                         (f"{workers}_workers", ["--workers", str(workers)])):
        best = min((timed(base + extra) for _ in range(args.repeat)),
                   key=lambda x: x["wall_s"])
        result[label] = {**best, "images_per_s": round(images / best["wall_s"], 1)}
    result["speedup"] = round(result["1_worker"]["wall_s"] /
                              result[f"{workers}_workers"]["wall_s"], 2)
    script = os.path.join(HERE, "reference_coco.py")
    if args.reference and _has_tensorflow() and os.path.exists(script):
        reference = min((timed([sys.executable, script,
                                "--annotations_file", path, "--image_dir",
                                os.path.join(os.path.dirname(os.path.dirname(path)), "bench"),
                                "--output_path", os.path.join(out_dir, "reference_coco.record"),
                                "--include_masks"]) for _ in range(args.repeat)),
                        key=lambda x: x["wall_s"])
        fastest = min(result["1_worker"]["wall_s"], result[f"{workers}_workers"]["wall_s"])
        result["reference_style"] = {**reference,
                                     "tfrconv_speedup": round(reference["wall_s"] / fastest, 1),
                                     "tfrconv_cpu_ratio": round(
                                         reference["cpu_s"] / result["1_worker"]["cpu_s"], 1)}
    return result


def _has_tensorflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def bench_startup(args, out_dir: str) -> dict:
    result = {"case": "startup"}
    for label, extra in (("help", ["--help"]), ("formats", ["formats"]),
                         ("voc_help", ["voc", "--help"])):
        walls = [timed(tfrconv_cmd() + extra)["wall_s"] for _ in range(10)]
        result[label] = {"median_s": round(statistics.median(walls), 3),
                         "min_s": round(min(walls), 3)}
    python = [timed([sys.executable, "-c", "pass"])["wall_s"] for _ in range(10)]
    result["bare_python_median_s"] = round(statistics.median(python), 3)
    return result


READ_RECORDS = """
import glob, sys
from tfrconv.features import decode_typed
from tfrconv.tfrecord import iter_records
for path in sorted(glob.glob(sys.argv[1])):
    for payload in iter_records(path):
        decode_typed(payload)
"""


def bench_report(args, out_dir: str) -> dict:
    root = datasets.voc(os.path.join(args.cache, f"voc-{args.images}"), args.images)
    records = os.path.join(args.cache, f"report-{args.images}")
    shards = os.path.join(records, "voc.record-?????-of-00004")
    if not os.path.exists(os.path.join(records, "voc.manifest.json")):
        subprocess.run(tfrconv_cmd() + ["voc", "--data-dir", root, "--set", "train",
                                        "--label-map", "pascal", "--num-shards", "4",
                                        "--output", os.path.join(records, "voc.record"),
                                        "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    size = warm(records)
    splits = [f"train={os.path.join(records, 'voc.record-0000[012]-of-00004')}",
              f"val={os.path.join(records, 'voc.record-00003-of-00004')}"]
    base = tfrconv_cmd() + ["report", *splits, "--out", os.path.join(out_dir, "report")]
    runs: dict[str, list] = {"read": [], "report": [], "report_near_duplicates": []}
    for _ in range(args.repeat):
        runs["read"].append(timed([sys.executable, "-c", READ_RECORDS, shards]))
        runs["report"].append(timed(base))
        runs["report_near_duplicates"].append(timed(base + ["--near-duplicates"]))
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    return {"case": "report", "images": args.images, "mb": round(size / 1e6, 1), **{
        name: {**m, "images_per_s": round(args.images / m["wall_s"]),
               "ratio_to_read": round(m["wall_s"] / best["read"]["wall_s"], 2)}
        for name, m in best.items()}}


RECORDS_MAKER = """
import hashlib, os, random, sys
from tfrconv.example import serialize
from tfrconv.tfrecord import frame
out, count, size, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(start)
with open(out, "wb") as sink:
    for i in range(start, start + count):
        image = rng.randbytes(size)
        boxes = [rng.random() / 2 for _ in range(3)]
        sink.write(frame(serialize({
            "image/encoded": ("bytes", [image]), "image/format": ("bytes", [b"jpeg"]),
            "image/source_id": ("bytes", [f"{i:06d}.jpg".encode()]),
            "image/filename": ("bytes", [f"{i:06d}.jpg".encode()]),
            "image/key/sha256": ("bytes", [hashlib.sha256(image).hexdigest().encode()]),
            "image/height": ("int", [480]), "image/width": ("int", [640]),
            "image/object/bbox/xmin": ("float", boxes), "image/object/bbox/ymin": ("float", boxes),
            "image/object/bbox/xmax": ("float", [b + 0.3 for b in boxes]),
            "image/object/bbox/ymax": ("float", [b + 0.3 for b in boxes]),
            "image/object/class/text": ("bytes", [b"car", b"person", b"dog"]),
            "image/object/class/label": ("int", [1, 2, 3])})))
"""
LABEL_MAP = "".join(f"item {{ id: {i} name: '{name}' }}\n"
                    for i, name in enumerate(("car", "person", "dog"), 1))


def record_sets(args) -> dict[str, str]:
    """The records cases' sets under --cache, made the first time: a and b (half the images
    each, ~60 KB per image) and tenth, each with its label map; warm in the page cache."""
    folder = os.path.join(args.cache, f"records-{args.images}")
    half = args.images // 2
    sets = {"a": (half, 0), "b": (args.images - half, half), "tenth": (args.images // 10, 0)}
    paths = {}
    for name, (count, start) in sets.items():
        paths[name] = os.path.join(folder, name, f"{name}.record")
        if not os.path.exists(paths[name]):
            os.makedirs(os.path.dirname(paths[name]), exist_ok=True)
            subprocess.run([sys.executable, "-c", RECORDS_MAKER, paths[name] + ".tmp",
                            str(count), str(60_000), str(start)], check=True)
            os.replace(paths[name] + ".tmp", paths[name])
            with open(os.path.join(folder, name, f"{name}.label_map.pbtxt"), "w") as fileobj:
                fileobj.write(LABEL_MAP)
    warm(folder)
    return paths


def bench_records(args, out_dir: str) -> dict:
    """`records reshard` and `records merge` against `cp` of the same bytes (two record sets of
    half the images each, ~60 KB per image), and peak RSS at a tenth of the images (flat
    memory: the same at both sizes)."""
    paths = record_sets(args)
    size = os.path.getsize(paths["a"]) + os.path.getsize(paths["b"])
    records = tfrconv_cmd() + ["records"]
    both = [paths["a"], paths["b"]]
    out = os.path.join(out_dir, "records")
    contenders = {
        "cp": ["cp", *both, out_dir],
        "reshard": records + ["reshard", *both, "--num-shards", "8", "-o", f"{out}/r.record"],
        "merge": records + ["merge", *both, "-o", f"{out}/m.record"],
        "reshard_tenth": records + ["reshard", paths["tenth"], "--num-shards", "8", "-o",
                                    f"{out}/t.record"],
    }
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            os.sync()              # no contender pays for the previous one's dirty pages
            runs[name].append(timed(cmd))
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    result = {"case": "records", "images": args.images, "mb": round(size / 1e6, 1)}
    for name, m in best.items():
        result[name] = {**m, "mb_per_s": round(size / 1e6 / m["wall_s"], 1)}
        if name in ("reshard", "merge"):
            result[name]["speed_vs_cp"] = round(best["cp"]["wall_s"] / m["wall_s"], 2)
            result[name]["cpu_vs_cp"] = round(best["cp"]["cpu_s"] / m["cpu_s"], 2)
    result["reshard_tenth"].pop("mb_per_s")
    return result


def bench_yolo(args, out_dir: str) -> dict:
    voc_root = datasets.voc(os.path.join(args.cache, f"voc-{args.images}"), args.images)
    root = datasets.yolo(os.path.join(args.cache, f"yolo-{args.images}"), voc_root, args.images)
    size = warm(os.path.join(root, "images"))
    warm(os.path.join(root, "labels"))
    warm(os.path.join(voc_root, "VOC2012", "Annotations"))
    contenders = {
        # Separate folders: records beside each other must share one label map.
        "voc": tfrconv_cmd() + ["voc", "--data-dir", voc_root, "--set", "train", "--label-map",
                                "pascal", "--output", os.path.join(out_dir, "voc", "v.record"),
                                "--no-progress"],
        "yolo": tfrconv_cmd() + ["yolo", "--data-dir", root, "--output",
                                 os.path.join(out_dir, "yolo", "y.record"), "--no-progress"],
    }
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            runs[name].append(timed(cmd))
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    result = {"case": "yolo", "images": args.images, "mb": round(size / 1e6, 1)}
    for name, m in best.items():
        result[name] = {**m, "images_per_s": round(args.images / m["wall_s"])}
    result["yolo_to_voc"] = round(best["yolo"]["wall_s"] / best["voc"]["wall_s"], 2)
    # CPU seconds (workers included) shift less than wall time on a loaded machine.
    result["yolo_to_voc_cpu"] = round(best["yolo"]["cpu_s"] / best["voc"]["cpu_s"], 2)
    return result


def labelme_dataset(root: str, voc_root: str, num_images: int) -> str:
    """The voc case's images (hard links: the same bytes and page cache) and boxes as LabelMe
    JSON files beside them (rectangles, imageData null), made once."""
    import xml.etree.ElementTree as ElementTree

    marker = os.path.join(root, f".complete-{num_images}")
    if os.path.exists(marker):
        return root
    year = os.path.join(voc_root, "VOC2012")
    os.makedirs(root, exist_ok=True)
    for name in sorted(os.listdir(os.path.join(year, "Annotations")))[:num_images]:
        stem = name[:-4]
        tree = ElementTree.parse(os.path.join(year, "Annotations", name))   # our own files
        shapes = [{"label": obj.findtext("name"), "group_id": None, "description": "",
                   "shape_type": "rectangle", "flags": {},
                   "points": [[float(obj.findtext(f"bndbox/{c}min")) for c in "xy"],
                              [float(obj.findtext(f"bndbox/{c}max")) for c in "xy"]]}
                  for obj in tree.iterfind("object")]
        target = os.path.join(root, stem + ".jpg")
        if not os.path.exists(target):
            os.link(os.path.join(year, "JPEGImages", stem + ".jpg"), target)
        with open(os.path.join(root, stem + ".json"), "w") as fileobj:
            json.dump({"version": "5.4.1", "flags": {}, "shapes": shapes,
                       "imagePath": stem + ".jpg", "imageData": None,
                       "imageHeight": int(tree.findtext("size/height")),
                       "imageWidth": int(tree.findtext("size/width"))}, fileobj, indent=2)
    open(marker, "w").close()
    return root


def bench_labelme(args, out_dir: str) -> dict:
    """`tfrconv labelme` on the voc case's images and boxes, VOC converted in the same run,
    alternating; both with the pascal label map, so neither scans for its classes first."""
    voc_root = datasets.voc(os.path.join(args.cache, f"voc-{args.images}"), args.images)
    root = labelme_dataset(os.path.join(args.cache, f"labelme-{args.images}"), voc_root,
                           args.images)
    size = warm(root)
    warm(os.path.join(voc_root, "VOC2012", "Annotations"))
    contenders = {
        "voc": tfrconv_cmd() + ["voc", "--data-dir", voc_root, "--set", "train", "--label-map",
                                "pascal", "--output", os.path.join(out_dir, "voc.record"),
                                "--no-progress"],
        "labelme": tfrconv_cmd() + ["labelme", "--data-dir", root, "--label-map", "pascal",
                                    "--output", os.path.join(out_dir, "labelme.record"),
                                    "--no-progress"],
    }
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            runs[name].append(timed(cmd))
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    result = {"case": "labelme", "images": args.images, "mb": round(size / 1e6, 1)}
    for name, m in best.items():
        result[name] = {**m, "images_per_s": round(args.images / m["wall_s"])}
    result["labelme_to_voc"] = round(best["labelme"]["wall_s"] / best["voc"]["wall_s"], 2)
    return result


def bench_voc_prepare(args, out_dir: str) -> dict:
    """The voc case plain, with --on-duplicate-image warn alone, and with split, remap, filters
    and exact duplicates together (docs/transforms.md), in the same run."""
    root = datasets.voc(os.path.join(args.cache, f"voc-{args.images}"), args.images)
    warm(os.path.join(root, "VOC2012", "JPEGImages"))
    warm(os.path.join(root, "VOC2012", "Annotations"))

    def command(name: str, *extra: str) -> list[str]:
        return tfrconv_cmd() + ["voc", "--data-dir", root, "--set", "train", "--label-map",
                                "pascal", "--output", os.path.join(out_dir, name, "v.record"),
                                "--no-progress", *extra]

    contenders = {
        "voc": command("voc"),
        "duplicates": command("duplicates", "--on-duplicate-image", "warn"),
        "prepare": command("prepare", "--split", "train=0.8,val=0.1,test=0.1", "--remap",
                           "dog=cat", "--min-box-size", "2", "--max-boxes", "50",
                           "--on-duplicate-image", "warn"),
    }
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            runs[name].append(timed(cmd))
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    result = {"case": "voc-prepare", "images": args.images, **best}
    for name in ("duplicates", "prepare"):
        result[f"{name}_to_voc"] = round(best[name]["wall_s"] / best["voc"]["wall_s"], 3)
        result[f"{name}_to_voc_cpu"] = round(best[name]["cpu_s"] / best["voc"]["cpu_s"], 3)
    return result


CASES = {"voc": bench_voc, "coco-masks": bench_coco_masks, "startup": bench_startup,
         "report": bench_report, "records": bench_records, "yolo": bench_yolo}
CASES["labelme"] = bench_labelme
CASES["coco-train"] = lambda args, out_dir: coco_train.bench(args, out_dir, sys.modules[__name__])
CASES["coco-train-memory"] = lambda args, out_dir: coco_train.bench_memory(
    args, out_dir, sys.modules[__name__])
CASES["read"] = lambda args, out_dir: read_side.bench(args, out_dir, sys.modules[__name__])
CASES["voc-prepare"] = bench_voc_prepare


def bench_voc_near_duplicates(args, out_dir: str) -> dict:
    """20,000 VOC images split train/val, with and without --near-duplicates, in the same run
    (docs/transforms.md). The benchmark images are 500 shifts of one picture, so each has ~40
    exact copies: many leaked pairs, a heavy case for the index and the problem log."""
    images = 20000
    root = datasets.voc(os.path.join(args.cache, f"voc-{images}"), images)
    warm(os.path.join(root, "VOC2012", "JPEGImages"))
    warm(os.path.join(root, "VOC2012", "Annotations"))

    def command(name: str, *extra: str) -> list[str]:
        return tfrconv_cmd() + ["voc", "--data-dir", root, "--set", "train", "--label-map",
                                "pascal", "--output", os.path.join(out_dir, name, "v.record"),
                                "--split", "train=0.8,val=0.2", "--no-progress", *extra]

    contenders = {"split": command("split"),
                  "near_duplicates": command("near", "--near-duplicates")}
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            runs[name].append(timed(cmd))
    best = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    return {"case": "voc-near-duplicates", "images": images, **best,
            "load_average": os.getloadavg(),
            "near_to_split": round(best["near_duplicates"]["wall_s"] / best["split"]["wall_s"], 3),
            "near_to_split_cpu": round(best["near_duplicates"]["cpu_s"] / best["split"]["cpu_s"],
                                       3)}


CASES["voc-near-duplicates"] = bench_voc_near_duplicates


def add_module_cases() -> None:
    """Cases declared by the bench_*.py modules beside this one (see the module docstring)."""
    import functools
    import importlib

    this = sys.modules[__name__]
    for name in sorted(os.listdir(HERE)):
        if name.startswith("bench_") and name.endswith(".py"):
            module = importlib.import_module(name[:-3])
            for case, bench in module.CASES.items():
                if case in CASES:
                    raise SystemExit(f"benchmarks/{name}: case {case!r} is already defined")
                CASES[case] = functools.partial(bench, run=this)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--cases", default="voc,coco-masks,startup")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best kept)")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tfrconv-bench"))
    parser.add_argument("--no-reference", dest="reference", action="store_false")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    args = parser.parse_args()
    add_module_cases()
    if args.list:
        print("\n".join(CASES))
        return 0
    unknown = [case for case in args.cases.split(",") if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; --list prints them")
    bytecode_env(args.cache)
    results = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
               "load_before": os.getloadavg()[0], "cases": []}
    with tempfile.TemporaryDirectory() as out_dir:
        for case in args.cases.split(","):
            print(f"running {case} ...", file=sys.stderr)
            case_dir = os.path.join(out_dir, case)   # its own folder: outputs never meet
            os.makedirs(case_dir)
            result = CASES[case](args, case_dir)
            results["cases"].append(result)
            print(json.dumps(result, indent=2))
    results["load_after"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as fileobj:
            json.dump(results, fileobj, indent=2)
    print(f"load average before/after: {results['load_before']:.2f}/{results['load_after']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
