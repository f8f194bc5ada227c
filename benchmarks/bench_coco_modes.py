"""coco-train-boxes and coco-train-masks: the coco-train case (benchmarks/coco_train.py) with
one mode only. With masks the reference-style converter takes ~25 ms per image (PIL's PNG of
every mask), so the masks comparison is usually run at fewer images than the boxes one:

    python benchmarks/run.py --cases coco-train-boxes --images 30000
    python benchmarks/run.py --cases coco-train-masks --images 3000

coco-train-memory-masks: coco-train-memory's masks part alone (peak RSS of the conversion with
masks at the full train2017 shape; --images is not used).
"""

from __future__ import annotations

import coco_train


def boxes(args, out_dir: str, run) -> dict:
    return coco_train.bench(args, out_dir, run, modes=("boxes",))


def masks(args, out_dir: str, run) -> dict:
    return coco_train.bench(args, out_dir, run, modes=("masks",))


def memory_masks(args, out_dir: str, run) -> dict:
    return coco_train.bench_memory(args, out_dir, run, parts=("masks",))


CASES = {"coco-train-boxes": boxes, "coco-train-masks": masks,
         "coco-train-memory-masks": memory_masks}
