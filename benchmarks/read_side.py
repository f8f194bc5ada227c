"""The read case: reading 20,000 (--images) records back, each contender in its own process,
timing only its reading loop (imports and start-up left out, TensorFlow's above all):

- tfdata: tf.data.TFRecordDataset + tf.io.parse_example with the OD API decoder's feature spec
  (batches of 64), the baseline;
- read_examples: `tfrconv.api.read_examples` (framing, CRC, every feature decoded to lists);
- inspect: what `tfrconv inspect` does (its statistics, no image decoding), run as the command
  (process start included: its peak RSS is the figure for "inspect in flat memory").

The records are the report case's: the voc case's images converted into 4 shards.
"""

from __future__ import annotations

import json
import os
import subprocess

TFDATA = """
import glob, json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
from tfrconv.api import DECODER_SPEC
TYPES = {"bytes": (tf.string, ""), "int": (tf.int64, 0), "float": (tf.float32, 0.0)}
spec = {key: tf.io.FixedLenFeature((), TYPES[kind][0], default_value=TYPES[kind][1]) if fixed
        else tf.io.VarLenFeature(TYPES[kind][0]) for key, (kind, fixed) in DECODER_SPEC.items()}
files = sorted(glob.glob(sys.argv[1]))
start = time.perf_counter()
count = 0
dataset = tf.data.TFRecordDataset(files).batch(64).map(lambda b: tf.io.parse_example(b, spec))
for batch in dataset:
    count += int(tf.shape(batch["image/encoded"])[0])
print(json.dumps({"loop_s": time.perf_counter() - start, "count": count}))
"""

READ_EXAMPLES = """
import json, sys, time
from tfrconv.api import read_examples
start = time.perf_counter()
count = sum(1 for _ in read_examples(sys.argv[1]))
print(json.dumps({"loop_s": time.perf_counter() - start, "count": count}))
"""


def looped(run, code: str, shards: str) -> dict:
    """A contender's process (peak RSS, CPU) and its own loop time."""
    out = subprocess.run([run.sys.executable, "-c", code, shards], capture_output=True,
                         text=True, check=True)
    measured = run.timed([run.sys.executable, "-c", code, shards])
    return {**measured, **json.loads(out.stdout.strip().splitlines()[-1])}


def bench(args, out_dir: str, run) -> dict:
    records = os.path.join(args.cache, f"report-{args.images}")
    shards = os.path.join(records, "voc.record-?????-of-00004")
    if not os.path.exists(os.path.join(records, "voc.manifest.json")):
        run.bench_report(args, out_dir)            # makes the records once
    size = run.warm(records)
    runs: dict[str, list] = {"tfdata": [], "read_examples": [], "inspect": []}
    for _ in range(args.repeat):
        runs["tfdata"].append(looped(run, TFDATA, shards))
        runs["read_examples"].append(looped(run, READ_EXAMPLES, shards))
        runs["inspect"].append(run.timed(run.tfrconv_cmd() + ["inspect", shards, "--json"]))
    best = {name: min(r, key=lambda x: x.get("loop_s", x["wall_s"])) for name, r in runs.items()}
    base = best["tfdata"]["loop_s"]
    result = {"case": "read", "images": args.images, "mb": round(size / 1e6, 1)}
    for name, m in best.items():
        seconds = m.get("loop_s", m["wall_s"])
        result[name] = {**m, "records_per_s": round(args.images / seconds),
                        "rate_to_tfdata": round(base / seconds, 2)}
    return result
