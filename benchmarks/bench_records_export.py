"""records-export: `tfrconv records export --to coco` and `--to yolo` of the records case's two
record sets (--images records in all, ~60 KB images, 3 boxes each), and of a tenth of them: peak
RSS must not grow with the number of records (COCO's instances JSON and YOLO's data.yaml are
written at the end from streamed entries). Also times a plain copy of the record bytes (`cp`)
for scale: an export writes every image out once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def record_sets(args, run) -> dict[str, str]:
    """The records case's sets under --cache (made the first time): a, b (half the images
    each) and tenth."""
    folder = os.path.join(args.cache, f"records-{args.images}")
    half = args.images // 2
    sets = {"a": (half, 0), "b": (args.images - half, half), "tenth": (args.images // 10, 0)}
    paths = {}
    for name, (count, start) in sets.items():
        paths[name] = os.path.join(folder, name, f"{name}.record")
        if not os.path.exists(paths[name]):
            os.makedirs(os.path.dirname(paths[name]), exist_ok=True)
            subprocess.run([sys.executable, "-c", run.RECORDS_MAKER, paths[name] + ".tmp",
                            str(count), str(60_000), str(start)], check=True)
            os.replace(paths[name] + ".tmp", paths[name])
            with open(os.path.join(folder, name, f"{name}.label_map.pbtxt"), "w") as fileobj:
                fileobj.write(run.LABEL_MAP)
    run.warm(folder)
    return paths


def bench(args, out_dir: str, run) -> dict:
    paths = record_sets(args, run)
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
