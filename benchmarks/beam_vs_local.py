"""Local runner vs Beam's DirectRunner on Open-Images-sized JPEGs (docs/scaling.md's figures).

    .venv/bin/python benchmarks/beam_vs_local.py --images 1000 --work /tmp/beam-bench
    .venv/bin/python benchmarks/beam_vs_local.py --voc-set --images 20000 --modes beam-mp

Makes a VOC-layout dataset of `--images` JPEGs of about `--kb` KB each (a few distinct pictures,
copied: tfrconv never decodes them unless --verify-images, so content does not change the cost),
then converts it with each runner in a fresh process (`tfrconv voc ...`), `--repeat` times, and
prints wall time, images/s and MB/s per run, and the CPU time it used (user + sys of the process
and its worker processes: steadier than wall time on a shared machine, and what sizes a cluster),
with `uptime` before and after, and the peak RSS of the largest process (launcher or worker).
`--voc-set` converts benchmarks/datasets.py's VOC set instead (500x375 JPEGs of ~68 KB, the
`run.py` voc case's data). Output goes to `--work`; nothing is written inside the repository.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time

RUNS = {
    "local-1": ("local, 1 worker", ["--workers", "1"]),
    "local-2": ("local, 2 worker processes", ["--workers", "2"]),
    "beam": ("beam DirectRunner in_memory", ["--runner", "beam"]),
    "beam-mp": ("beam DirectRunner multi_processing x2", [
        "--runner", "beam", "--beam-options",
        "--direct_running_mode=multi_processing --direct_num_workers=2"]),
}


def make_dataset(root: str, images: int, kb: int) -> int:
    """A VOC folder with `images` annotated JPEGs; returns the total image bytes."""
    import numpy as np
    from PIL import Image

    if os.path.isdir(root) and len(os.listdir(os.path.join(root, "JPEGImages"))) == images:
        return sum(os.path.getsize(os.path.join(root, "JPEGImages", n))
                   for n in os.listdir(os.path.join(root, "JPEGImages")))
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("Annotations", "JPEGImages"):
        os.makedirs(os.path.join(root, folder))
    rng = np.random.default_rng(0)
    width, height = 1024, 768
    pictures = []
    for _ in range(8):
        # A smooth gradient plus noise: JPEG sizes like photographs (tune the noise for --kb).
        base = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
        noise = rng.normal(0, 1, (height, width, 3)).astype(np.float32)
        quality, scale = 90, 12.0
        for _attempt in range(12):
            pixels = np.clip(base + noise * scale, 0, 255).astype(np.uint8)
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
            size = len(out.getvalue())
            if abs(size - kb * 1024) < kb * 1024 * 0.1:
                break
            scale *= (kb * 1024 / size) ** 0.8
        pictures.append(out.getvalue())
    total = 0
    for index in range(images):
        name = f"img_{index:07d}"
        data = pictures[index % len(pictures)]
        with open(os.path.join(root, "JPEGImages", name + ".jpg"), "wb") as fileobj:
            fileobj.write(data)
        total += len(data)
        objects = "".join(
            f"<object><name>{('cat', 'dog')[k % 2]}</name><bndbox><xmin>{10 + k}</xmin>"
            f"<ymin>{20 + k}</ymin><xmax>{300 + k}</xmax><ymax>{400 + k}</ymax></bndbox>"
            "</object>" for k in range(3))
        with open(os.path.join(root, "Annotations", name + ".xml"), "w") as fileobj:
            fileobj.write(f"<annotation><filename>{name}.jpg</filename><size><width>{width}"
                          f"</width><height>{height}</height></size>{objects}</annotation>")
    with open(os.path.join(root, "label_map.pbtxt"), "w") as fileobj:
        fileobj.write("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    return total


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime unavailable"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=290, help="JPEG size (Open Images: ~290 KB)")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", default="/tmp/tfrconv-beam-bench")
    parser.add_argument("--modes", default=",".join(RUNS), help=f"some of {','.join(RUNS)}")
    parser.add_argument("--voc-set", action="store_true",
                        help="the run.py voc case's data (benchmarks/datasets.py), cached")
    args = parser.parse_args()

    if args.voc_set:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import datasets

        root = datasets.voc(os.path.join(args.work, f"voc-{args.images}"), args.images)
        images = os.path.join(root, "VOC2012", "JPEGImages")
        total = sum(os.path.getsize(os.path.join(images, n)) for n in os.listdir(images))
        data_args = ["--data-dir", root, "--set", "train", "--label-map", "pascal"]
    else:
        data = os.path.join(args.work, "data")
        total = make_dataset(data, args.images, args.kb)
        data_args = ["--data-dir", data]
    tfrconv = os.path.join(os.path.dirname(sys.executable), "tfrconv")
    print(f"{args.images} images, {total / 1e6:.0f} MB, {args.shards} shards")
    print(f"before: {uptime()}")
    for _round in range(args.repeat):
        for mode in args.modes.split(","):
            label, extra = RUNS[mode]
            out = os.path.join(args.work, "out")
            shutil.rmtree(out, ignore_errors=True)
            command = [tfrconv, "voc", *data_args, "--output",
                       os.path.join(out, "bench.record"), "--num-shards", str(args.shards),
                       "--json", *extra]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if done.returncode != 0:
                print(f"{label}: FAILED\n{done.stderr[-2000:]}")
                return 1
            summary = json.loads(done.stdout)
            print(f"{label:38} wall {wall:5.1f} s (conversion {summary['seconds']:5.1f} s) "
                  f"{args.images / wall:4.0f} images/s {total / 1e6 / wall:4.0f} MB/s | "
                  f"CPU {cpu:5.1f} s = {1000 * cpu / args.images:4.1f} ms/image | peak RSS "
                  f"(largest process so far) {after.ru_maxrss / 1024:.0f} MB")
    print(f"after:  {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
