"""Benchmark (not a test): the trainer's quality bar on 2000 128-px shapes images, CPU only.

    .venv/bin/python benchmarks/train_shapes.py [--work DIR] [--time-budget 300] [--seeds 0,1,2]

Generates the dataset (`tfrconv sample shapes --num-images 2000`, seed 0: 1600 train / 400 val),
converts it, writes the centernet config with its defaults (`tfrconv config`), then for each seed,
one after the other (never in parallel: they would share the CPUs), trains as
`tfrconv train --time-budget SECONDS --seed S` does and evaluates the final checkpoint on the 400
validation images (with the test-time flip, as `tfrconv evaluate` does for a model trained with
horizontal flips). `--every N` also evaluates every N steps (the curve; evaluation time is not
training time). `--steps N` trains a fixed number of steps instead of a time budget, with the
config's schedule written for N steps (`tfrconv config --num-steps N`): the quality a machine
that does N steps in the budget would reach, measurable on a busy machine.

Prints one JSON line per run (seed, steps chosen by the budget, warm-up and overall step rate,
train seconds, Pascal mAP@0.5, COCO mAP, the load average before and after, the machine), then a
summary line (mean and minimum over the seeds, and whether the bar - Pascal >= 0.95 and COCO
>= 0.70 in every run - was met). `--json FILE` writes all of it as one document too.
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

PASCAL = "PascalBoxes_Precision/mAP@0.5IOU"
COCO = "DetectionBoxes_Precision/mAP"
BAR = {PASCAL: 0.95, COCO: 0.70}


def prepare(images: int, image_size: int, schedule_steps: int | None) -> float:
    began = time.perf_counter()

    def tfrconv(*argv: str) -> None:
        subprocess.run([sys.executable, "-m", "tfrconv", *argv], check=True,
                       stdout=subprocess.DEVNULL)

    if not os.path.isdir("shapes"):
        tfrconv("sample", "shapes", "--out", "shapes", "--num-images", str(images),
                "--image-size", str(image_size))
        tfrconv("voc", "--data-dir", "shapes", "--set", "train", "--output",
                "data/train.record", "--num-shards", "4")
        tfrconv("voc", "--data-dir", "shapes", "--set", "val", "--output", "data/val.record")
    schedule = ["--num-steps", str(schedule_steps)] if schedule_steps else []
    tfrconv("config", "--train-records", "data/train.record-*", "--eval-records",
            "data/val.record", "--template", "centernet", "--out", "models/pipeline.config",
            "--image-size", str(image_size), *schedule)
    return time.perf_counter() - began


def final_metrics(settings, model_dir: str) -> dict:
    """The latest checkpoint evaluated as `tfrconv evaluate` does (no summaries)."""
    import tensorflow as tf

    from tfrconv.trainer.checkpoints import resolve_checkpoint, restore_model
    from tfrconv.trainer.evaluate import Evaluator
    from tfrconv.trainer.model import build_detector

    spec = settings.model_spec()
    model = build_detector(spec)
    model(tf.zeros([1, settings.resize.height, settings.resize.width, 3]))
    prefix = resolve_checkpoint(model_dir, what="model dir")
    step = restore_model(model, prefix, spec.identity(), what="checkpoint")
    return {"step": step, **Evaluator(settings).evaluate(model, step)}


def one_run(seed: int, args) -> dict:
    from tfrconv.trainer.config import load_settings
    from tfrconv.trainer.train import TrainOptions, train

    settings = load_settings("models/pipeline.config")
    model_dir = os.path.join("models", f"bench-seed{seed}-{int(time.time())}")
    load_before = os.getloadavg()
    result = train(settings, TrainOptions(
        model_dir=model_dir, seed=seed, time_budget=None if args.steps else args.time_budget,
        num_train_steps=args.steps, checkpoint_every_n=10**9, eval_every_n=args.every,
        progress=True, log_every_n=100))
    load_after = os.getloadavg()
    metrics = final_metrics(settings, model_dir)
    budget = result.budget or {}
    return {
        "seed": seed, "time_budget": None if args.steps else args.time_budget,
        "steps": result.step, "steps_chosen": budget.get("num_train_steps"),
        "stopped_early_at": budget.get("stopped_early_at"),
        "warmup_steps_per_sec": budget.get("steps_per_sec"),
        "steps_per_sec": round(result.step / max(result.train_seconds, 1e-9), 3),
        "train_seconds": round(result.train_seconds, 1),
        "pascal_map50": round(metrics[PASCAL], 4), "coco_map": round(metrics[COCO], 4),
        "flip_test": settings.model_spec().flip_test,
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in load_after],
        "curve": [{"step": e["step"], "train_seconds": e["train_seconds"],
                   "pascal_map50": round(e["metrics"][PASCAL], 4),
                   "coco_map": round(e["metrics"].get(COCO, float("nan")), 4)}
                  for e in result.evaluations],
        "model_dir": model_dir,
    }


def summary(runs: list[dict]) -> dict:
    pascal = [r["pascal_map50"] for r in runs]
    coco = [r["coco_map"] for r in runs]
    return {
        "summary": True, "runs": len(runs),
        "pascal_map50_mean": round(sum(pascal) / len(pascal), 4),
        "pascal_map50_min": min(pascal),
        "coco_map_mean": round(sum(coco) / len(coco), 4), "coco_map_min": min(coco),
        "train_seconds_max": max(r["train_seconds"] for r in runs),
        "bar": {"pascal_map50": BAR[PASCAL], "coco_map": BAR[COCO]},
        "bar_met_in_every_run": all(r["pascal_map50"] >= BAR[PASCAL] and
                                    r["coco_map"] >= BAR[COCO] for r in runs),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                   f"{platform.processor() or platform.platform()}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", help="working folder (default: a temporary one)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--time-budget", type=float, default=300.0,
                        help="seconds of training per run (default 300)")
    parser.add_argument("--steps", type=int, help="a fixed step count instead of the budget "
                        "(the config's schedule is written for that many steps)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument("--every", type=int, help="also evaluate every N steps (the curve)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    work = args.work or tempfile.mkdtemp(prefix="tfrconv-bench-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    prepare_seconds = prepare(args.images, args.image_size, args.steps)
    print(json.dumps({"prepare_seconds": round(prepare_seconds, 1), "work": work}), flush=True)
    runs = []
    for seed in seeds:
        runs.append(one_run(seed, args))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "curve"}), flush=True)
    total = summary(runs)
    print(json.dumps(total), flush=True)
    if args.json:
        with open(args.json, "w") as fileobj:
            json.dump({"runs": runs, "summary": total}, fileobj, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
