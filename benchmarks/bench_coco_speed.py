"""coco-index: where a COCO conversion's time goes before any worker starts. On the coco-train
case's train2017-shaped file (--images images, 7 polygon objects each; benchmarks/coco_train.py),
alternating, best of --repeat, each contender a separate process (start-up included):

- index: the streamed index `tfrconv coco` builds (tfrconv_plugins.coco.stream_index), which
  runs on one core before the workers start, so it bounds a conversion's speed-up;
- json_load: `json.load` of the same file (what the reference-style converter does first).

    python benchmarks/run.py --cases coco-index --images 30000 --repeat 3
"""

from __future__ import annotations

import os

import coco_train

SCRIPTS = {
    "index": "import sys; from tfrconv_plugins import coco; coco.stream_index(sys.argv[1])",
    "json_load": "import json, sys; json.load(open(sys.argv[1], 'rb'))",
}


def bench(args, out_dir: str, run) -> dict:
    path = coco_train.train_shaped(os.path.join(args.cache, f"coco-train-{args.images}"),
                                   args.images)
    run.warm(os.path.dirname(path))
    baseline = run.timed([run.sys.executable, "-c", "pass"])
    runs: dict[str, list] = {name: [] for name in SCRIPTS}
    for _ in range(args.repeat):
        for name, script in SCRIPTS.items():
            runs[name].append(run.timed([run.sys.executable, "-c", script, path]))
    result = {"case": "coco-index", "images": args.images,
              "json_mb": round(os.path.getsize(path) / 1e6, 1), "python_start": baseline,
              "load_before": round(os.getloadavg()[0], 2)}
    for name, measured in runs.items():
        result[name] = min(measured, key=lambda m: m["cpu_s"])
        result[name]["cpu_s_all"] = [m["cpu_s"] for m in measured]
    result["index_over_json_load_cpu"] = round(
        result["index"]["cpu_s"] / result["json_load"]["cpu_s"], 2)
    result["load_after"] = round(os.getloadavg()[0], 2)
    return result


CASES = {"coco-index": bench}
