"""records-export: `tfrconv records export --to coco` and `--to yolo` of the records case's two
record sets (--images records in all, ~60 KB images, 3 boxes each), and of a tenth of them: peak
RSS must not grow with the number of records (COCO's instances JSON and YOLO's data.yaml are
written at the end from streamed entries). Also times a plain copy of the record bytes (`cp`)
for scale: an export writes every image out once.
"""

from __future__ import annotations

import os
import shutil


def bench(args, out_dir: str, run) -> dict:
    paths = run.record_sets(args)
    both = [paths["a"], paths["b"]]
    export = run.tfrconv_cmd() + ["records", "export"]
    out = os.path.join(out_dir, "export")
    contenders = {"cp": ["cp", *both, out_dir]}
    for to in ("coco", "yolo"):
        contenders[to] = export + [*both, "--to", to, "--out", os.path.join(out, to)]
        contenders[f"{to}_tenth"] = export + [paths["tenth"], "--to", to, "--out",
                                              os.path.join(out, f"{to}_tenth")]
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            shutil.rmtree(out, ignore_errors=True)      # --out must be a new folder
            os.sync()
            runs[name].append(run.timed(cmd))
    result = {"case": "records-export", "images": args.images,
              "tenth_images": args.images // 10}
    for name, measured in runs.items():
        result[name] = min(measured, key=lambda m: m["wall_s"])
        result[name]["peak_rss_mb_all"] = [m["peak_rss_mb"] for m in measured]
    return result


CASES = {"records-export": bench}
