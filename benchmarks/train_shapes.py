"""Benchmark (not a test): time to Pascal mAP@0.5 on 2000 128-px shapes images, CPU only.

    .venv/bin/python benchmarks/train_shapes.py [--work DIR] [--steps N] [--every N]

Generates the dataset (`tfrconv sample shapes`, seed 0), converts it (1600 train / 400 val),
writes the centernet config with its defaults (`tfrconv config`), trains `--steps` steps as the
tutorial does (`--num-train-steps 1500`), with a checkpoint every `--every` steps, and evaluates
each checkpoint on the 400 validation images. Evaluation time is not training time:
the curve is (training seconds, step, Pascal mAP@0.5, COCO mAP) per checkpoint, printed as a
Markdown table with the time to mAP 0.9, plus the machine and its load for the record.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

TARGET = 0.9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", help="working folder (default: a temporary one)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1500, help="steps to train (default 1500)")
    parser.add_argument("--every", type=int, default=100, help="checkpoint/eval interval")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    work = args.work or tempfile.mkdtemp(prefix="tfrconv-bench-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    load_before = os.getloadavg()

    def tfrconv(*argv: str) -> None:
        subprocess.run([sys.executable, "-m", "tfrconv", *argv], check=True,
                       stdout=subprocess.DEVNULL)

    began = time.perf_counter()
    if not os.path.isdir("shapes"):
        tfrconv("sample", "shapes", "--out", "shapes", "--num-images", str(args.images),
                "--image-size", str(args.image_size))
        tfrconv("voc", "--data-dir", "shapes", "--set", "train", "--output",
                "data/train.record", "--num-shards", "4")
        tfrconv("voc", "--data-dir", "shapes", "--set", "val", "--output", "data/val.record")
    tfrconv("config", "--train-records", "data/train.record-*", "--eval-records",
            "data/val.record", "--template", "centernet", "--out", "models/pipeline.config",
            "--image-size", str(args.image_size))
    prepare_seconds = time.perf_counter() - began

    from tfrconv.trainer.config import load_settings
    from tfrconv.trainer.train import TrainOptions, train

    model_dir = os.path.join("models", f"bench-{int(time.time())}")
    result = train(load_settings("models/pipeline.config"), TrainOptions(
        model_dir=model_dir, num_train_steps=args.steps, checkpoint_every_n=args.every,
        eval_on_checkpoint=True, progress=True, log_every_n=args.every))
    load_after = os.getloadavg()

    rows = [(e["train_seconds"], e["step"], e["metrics"]["PascalBoxes_Precision/mAP@0.5IOU"],
             e["metrics"].get("DetectionBoxes_Precision/mAP", float("nan")))
            for e in result.evaluations]
    reached = next((r for r in rows if r[2] >= TARGET), None)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.platform()}; load average before "
          f"{load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"data + config: {prepare_seconds:.1f} s; training: {result.train_seconds:.1f} s for "
          f"{result.step} steps ({result.step / result.train_seconds:.2f} steps/s)")
    print("\n| training time | step | Pascal mAP@0.5 | COCO mAP |\n|---|---|---|---|")
    for seconds, step, pascal, coco in rows:
        print(f"| {seconds:6.0f} s | {step} | {pascal:.3f} | {coco:.3f} |")
    if reached:
        print(f"\nPascal mAP@0.5 >= {TARGET} after {reached[0]:.0f} s of training "
              f"(step {reached[1]})")
    else:
        print(f"\nPascal mAP@0.5 did not reach {TARGET} (best {max(r[2] for r in rows):.3f})")
    if args.json:
        with open(args.json, "w") as fileobj:
            json.dump({"rows": rows, "load_before": load_before, "load_after": load_after,
                       "train_seconds": result.train_seconds, "steps": result.step,
                       "reached": reached}, fileobj, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
