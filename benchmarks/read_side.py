"""The read case: reading --images records back (20,000 for issue 18), tfrconv's readers against
tf.data, each contender in its own process, alternating, best of --repeat:

- tfdata, the baseline: tf.data.TFRecordDataset + tf.io.parse_example with the OD API decoder's
  feature spec (tfrconv's DECODER_SPEC), batches of 64. Its reading loop is timed inside the
  process; TensorFlow's import (seconds, more than the loop at 2,000 records) is left out of the
  rate and reported apart (import_s), as a training job pays it once whatever it reads;
- read_examples: `tfrconv.read_examples` (framing, CRC, every feature to Python lists), its
  loop timed the same way;
- inspect: `tfrconv inspect --json` as a command, process start included (its peak RSS is the
  "inspect in flat memory" figure; inspect_limit is the same at a tenth of the records);
- verify_no_decode: `tfrconv verify --no-decode --json` as a command, process start included
  (every check but the pixels: framing, CRC, keys and types, lengths, boxes, classes against the
  label map beside the records, sha256 of every image, sizes from the image headers).

rate_to_tfdata = the contender's records/s over tf.data's (the issue's goal: at least 0.5);
cpu_to_tfdata compares CPU seconds the same way (tf.data's loop CPU against the contender's
loop CPU, or the whole command's CPU for the commands). The records are the report case's: the
voc case's images converted into 4 shards (made once, under --cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

TFDATA = """
import glob, json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
start = time.perf_counter()
import tensorflow as tf
from tfrconv.api import DECODER_SPEC
TYPES = {"bytes": (tf.string, ""), "int": (tf.int64, 0), "float": (tf.float32, 0.0)}
spec = {key: tf.io.FixedLenFeature((), TYPES[kind][0], default_value=TYPES[kind][1]) if fixed
        else tf.io.VarLenFeature(TYPES[kind][0]) for key, (kind, fixed) in DECODER_SPEC.items()}
files = sorted(glob.glob(sys.argv[1]))
import_s = time.perf_counter() - start
cpu = time.process_time()
start = time.perf_counter()
count = 0
dataset = tf.data.TFRecordDataset(files).batch(64).map(lambda b: tf.io.parse_example(b, spec))
for batch in dataset:
    count += int(tf.shape(batch["image/encoded"])[0])
print(json.dumps({"loop_s": time.perf_counter() - start, "loop_cpu_s": time.process_time() - cpu,
                  "import_s": import_s, "count": count}))
"""

READ_EXAMPLES = """
import json, sys, time
from tfrconv.api import read_examples
cpu = time.process_time()
start = time.perf_counter()
count = sum(1 for _ in read_examples(sys.argv[1]))
print(json.dumps({"loop_s": time.perf_counter() - start, "loop_cpu_s": time.process_time() - cpu,
                  "count": count}))
"""


def measured(run, cmd: list[str], loop: bool) -> dict:
    """Run one contender: wall, CPU and peak RSS of its process (GNU time, as `run.timed`), and
    with `loop` the figures its script prints about its own reading loop."""
    wrapped = [run.GNU_TIME, "-f", "RUSAGE %M %U %S", *cmd] if run.GNU_TIME else cmd
    start = time.perf_counter()
    done = subprocess.run(wrapped, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    out = {"wall_s": round(wall, 3)}
    for line in done.stderr.splitlines():
        if line.startswith("RUSAGE "):
            fields = line.split()
            out["peak_rss_mb"] = round(int(fields[1]) / 1024, 1)
            out["cpu_s"] = round(float(fields[2]) + float(fields[3]), 3)
    if loop:
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        out.update({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
        out["seconds"], out["cpu_seconds"] = out["loop_s"], out["loop_cpu_s"]
    else:
        out["seconds"], out["cpu_seconds"] = out["wall_s"], out.get("cpu_s", out["wall_s"])
    return out


def contenders(run, shards: str, images: int) -> dict[str, tuple[list[str], bool]]:
    python, tfrconv = run.sys.executable, run.tfrconv_cmd()
    return {
        "tfdata": ([python, "-c", TFDATA, shards], True),
        "read_examples": ([python, "-c", READ_EXAMPLES, shards], True),
        "inspect": ([*tfrconv, "inspect", shards, "--json"], False),
        "verify_no_decode": ([*tfrconv, "verify", shards, "--no-decode", "--json"], False),
        "inspect_limit": ([*tfrconv, "inspect", shards, "--json", "--limit",
                           str(max(1, images // 10))], False),
    }


def bench(args, out_dir: str, run) -> dict:
    records = os.path.join(args.cache, f"report-{args.images}")
    shards = os.path.join(records, "voc.record-?????-of-00004")
    if not os.path.exists(os.path.join(records, "voc.manifest.json")):
        run.bench_report(args, out_dir)            # makes the records once
    size = run.warm(records)
    commands = contenders(run, shards, args.images)
    names = list(commands)
    runs: dict[str, list] = {name: [] for name in names}
    load = [os.getloadavg()[0]]
    for turn in range(args.repeat):
        for name in names[turn % len(names):] + names[:turn % len(names)]:   # rotate the order
            cmd, loop = commands[name]
            runs[name].append(measured(run, cmd, loop))
        load.append(os.getloadavg()[0])
    best = {name: min(r, key=lambda m: m["seconds"]) for name, r in runs.items()}
    base = best["tfdata"]
    result = {"case": "read", "images": args.images, "mb": round(size / 1e6, 1),
              "load_1min": [round(x, 2) for x in load]}
    for name, m in best.items():
        count = args.images // 10 if name == "inspect_limit" else args.images
        entry = {**m, "records_per_s": round(count / m["seconds"])}
        if name not in ("tfdata", "inspect_limit"):
            entry["rate_to_tfdata"] = round(base["seconds"] / m["seconds"], 2)
            entry["cpu_to_tfdata"] = round(base["cpu_seconds"] / m["cpu_seconds"], 2)
            entry["all_runs_s"] = [r["seconds"] for r in runs[name]]
        result[name] = entry
    result["tfdata"]["all_runs_s"] = [r["seconds"] for r in runs["tfdata"]]
    return result
