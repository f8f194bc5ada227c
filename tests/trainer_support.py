"""Helpers for the trainer tests: tiny converted shapes datasets and the OD API's real protos."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest

ODAPI_PACKAGE = "tf-models-research-object-detection==2.8.0.post1"
ODAPI_ENV = {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}


def make_records(root, *, num_images: int = 40, image_size: int = 64, seed: int = 0,
                 shards: int = 2) -> dict:
    """A VOC shapes dataset converted to train/val records, in the layout the tutorial uses:
    root/shapes, root/data/train.record-*-of-N, root/data/val.record (+ sidecar files)."""
    from tfrconv import convert
    from tfrconv.shapes import generate_shapes

    root = str(root)
    data_dir = os.path.join(root, "shapes")
    generate_shapes(data_dir, num_images=num_images, image_size=image_size, seed=seed)
    out = os.path.join(root, "data")
    os.makedirs(out, exist_ok=True)
    convert("voc", data_dir=data_dir, set="train", output=os.path.join(out, "train.record"),
            num_shards=shards)
    convert("voc", data_dir=data_dir, set="val", output=os.path.join(out, "val.record"))
    return {"root": root, "shapes": data_dir, "data": out,
            "train_glob": os.path.join(out, f"train.record-?????-of-{shards:05d}"),
            "val": os.path.join(out, "val.record"),
            "label_map": os.path.join(out, "train.label_map.pbtxt")}



def small_config(root, *, num_images: int, num_steps: int) -> str:
    """make_records' records and a `tfrconv config` for them (64 px, batch 4, `num_steps`):
    the pipeline config's path."""
    from tfrconv.cli import main

    records = make_records(root, num_images=num_images, image_size=64)
    path = os.path.join(str(root), "pipeline.config")
    assert main(["config", "--train-records", records["train_glob"], "--eval-records",
                 records["val"], "--out", path, "--image-size", "64", "--batch-size", "4",
                 "--num-steps", str(num_steps)]) == 0
    return path

@functools.cache
def odapi_protos_available() -> str | None:
    """None when `object_detection.protos` imports (it needs the pure-Python protobuf, so it is
    tried in a subprocess); else why not."""
    probe = subprocess.run(
        [sys.executable, "-c", "import object_detection.protos.pipeline_pb2"],
        env={**os.environ, **ODAPI_ENV}, capture_output=True, text=True)
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["?"])[-1]
    return f"the OD API's generated protos are not importable ({last}); install them with " \
           f"`pip install --no-deps {ODAPI_PACKAGE}`"


def run_with_odapi_protos(script: str, *args: str) -> dict:
    """Run a Python snippet that imports the OD API protos; it prints one JSON document."""
    reason = odapi_protos_available()
    if reason:
        pytest.skip(reason)
    done = subprocess.run([sys.executable, "-c", script, *args],
                          env={**os.environ, **ODAPI_ENV}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def tfrconv(*args: str, cwd=None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess (TensorFlow quiet)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "tfrconv", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"tfrconv {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done
