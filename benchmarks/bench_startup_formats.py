"""Start-up per format: what converting 10 images costs over `python -c pass`.

- startup-formats: every builtin format (voc, coco, kitti, oid, pets, csv, yolo, labelme, cvat)
  converts the same 10 small images (the test suite's pictures, tests/datasets.py, written in
  each format's own layout; YOLO, LabelMe and CVAT written here) with `--workers 1 --quiet`.
  Open Images runs twice: "oid" with coordinates of 6 decimals, as the Open Images CSVs write
  them, and "oid_17_digits" with the suite's repr() coordinates (up to 17 significant digits,
  which tfrconv.csvstream hands to pandas, one cell at a time).
  Each conversion runs --repeat times (at least 5), alternating with `python -c pass`; the
  figures are the best run's CPU seconds (user + system of the child, steadier than wall time
  on a shared machine) and wall seconds over the best bare Python, and the peak RSS. The goal
  (issue 13): at most 0.3 CPU s over the baseline for every format.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = 10
GOAL_S = 0.3
FORMATS = ("voc", "coco", "kitti", "oid", "pets", "csv", "yolo", "labelme", "cvat")
CASES_RUN = FORMATS + ("oid_17_digits",)


def _test_datasets():
    """tests/datasets.py under its own name (benchmarks/ has a `datasets` module too)."""
    path = os.path.join(os.path.dirname(HERE), "tests", "datasets.py")
    spec = importlib.util.spec_from_file_location("tfrconv_test_datasets", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def pictures(tds) -> list:
    """The suite's six standard pictures and four more: 10 images, boxes of two classes."""
    more = [tds.Picture(40, 30, (tds.Box(tds.B, 3, 3, 25, 20),)),
            tds.Picture(26, 22, (tds.Box(tds.A, 1, 2, 20, 18), tds.Box(tds.B, 5, 5, 24, 21))),
            tds.Picture(22, 30),
            tds.Picture(34, 28, (tds.Box(tds.A, 6, 4, 30, 26),))]
    return tds.standard_pictures() + more


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write(text)


def write_yolo(tds, root: str, pics) -> dict:
    """Ultralytics layout: data.yaml, images/train, labels/train (normalized centre boxes)."""
    for index, picture in enumerate(pics):
        tds.write_jpeg(os.path.join(root, "images", "train", f"img{index}.jpg"),
                       picture.width, picture.height, index)
        w, h = picture.width, picture.height
        _write(os.path.join(root, "labels", "train", f"img{index}.txt"), "".join(
            f"{'ab'.index(b.label)} {(b.xmin + b.xmax) / 2 / w} {(b.ymin + b.ymax) / 2 / h} "
            f"{(b.xmax - b.xmin) / w} {(b.ymax - b.ymin) / h}\n" for b in picture.boxes))
    _write(os.path.join(root, "data.yaml"), "train: images/train\nnames: [cat, dog]\n")
    return {"data_dir": root}


def write_labelme(tds, root: str, pics) -> dict:
    """One LabelMe JSON beside each image (rectangles, imageData null)."""
    names = {tds.A: "cat", tds.B: "dog"}
    for index, picture in enumerate(pics):
        tds.write_jpeg(os.path.join(root, f"img{index}.jpg"), picture.width, picture.height,
                       index)
        shapes = [{"label": names[b.label], "points": [[b.xmin, b.ymin], [b.xmax, b.ymax]],
                   "group_id": None, "shape_type": "rectangle", "flags": {}}
                  for b in picture.boxes]
        _write(os.path.join(root, f"img{index}.json"), json.dumps(
            {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": f"img{index}.jpg",
             "imageData": None, "imageHeight": picture.height, "imageWidth": picture.width}))
    return {"data_dir": root, "label_map": tds.write_label_map(
        os.path.join(os.path.dirname(root), "label_map.pbtxt"), ["cat", "dog"])}


def write_cvat(tds, root: str, pics) -> dict:
    """CVAT for images 1.1: annotations.xml beside images/."""
    names = {tds.A: "cat", tds.B: "dog"}
    labels = "".join(f"<label><name>{n}</name><type>any</type><attributes/></label>"
                     for n in ("cat", "dog"))
    body = []
    for index, picture in enumerate(pics):
        tds.write_jpeg(os.path.join(root, "images", f"img{index}.jpg"), picture.width,
                       picture.height, index)
        boxes = "".join(f'<box label="{names[b.label]}" source="manual" occluded="0" '
                        f'xtl="{b.xmin}" ytl="{b.ymin}" xbr="{b.xmax}" ybr="{b.ymax}" '
                        f'z_order="0"></box>' for b in picture.boxes)
        body.append(f'<image id="{index}" name="img{index}.jpg" width="{picture.width}" '
                    f'height="{picture.height}">{boxes}</image>')
    path = os.path.join(root, "annotations.xml")
    _write(path, '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
           f"<meta><task><id>1</id><name>bench</name><labels>{labels}</labels></task></meta>"
           + "".join(body) + "</annotations>\n")
    return {"annotations_file": path, "label_map": tds.write_label_map(
        os.path.join(root, "label_map.pbtxt"), ["cat", "dog"])}


def write_oid(tds, root: str, pics) -> dict:
    """The suite's Open Images layout with each coordinate written to 6 decimals, as the Open
    Images CSVs have them."""
    options = tds.make("oid", root, pics)[1]
    path = options["annotations_csv"]
    with open(path, encoding="utf-8") as fileobj:
        header, *rows = fileobj.read().splitlines()
    names = header.split(",")
    coordinates = [names.index(c) for c in ("XMin", "XMax", "YMin", "YMax")]
    lines = [header]
    for row in rows:
        cells = row.split(",")
        for index in coordinates:
            cells[index] = f"{float(cells[index]):.6f}"
        lines.append(",".join(cells))
    _write(path, "\n".join(lines) + "\n")
    return options


OWN_WRITERS = {"yolo": write_yolo, "labelme": write_labelme, "cvat": write_cvat,
               "oid": write_oid, "oid_17_digits": lambda tds, root, pics: tds.make(
                   "oid", root, pics)[1]}


def flags(options: dict) -> list[str]:
    return [part for key, value in options.items()
            for part in ("--" + key.replace("_", "-"), str(value))]


def datasets_under(cache: str, tds) -> dict[str, list[str]]:
    """Write (once) every format's 10-image dataset; return format → its arguments, less the
    output."""
    pics = pictures(tds)
    argvs = {}
    for name in CASES_RUN:
        root = os.path.join(cache, f"startup-{IMAGES}", name, "data")
        marker = os.path.join(root, ".options.json")
        if os.path.exists(marker):
            with open(marker) as fileobj:
                options = json.load(fileobj)
        else:
            os.makedirs(root, exist_ok=True)
            options = (OWN_WRITERS[name](tds, root, pics) if name in OWN_WRITERS
                       else tds.make(name, root, pics)[1])
            with open(marker, "w") as fileobj:
                json.dump(options, fileobj)
        argvs[name] = [name.split("_")[0], *flags(options)]
    return argvs


def output_flags(tds, name: str, out_dir: str) -> list[str]:
    layout = tds.LAYOUTS.get(name.split("_")[0])
    return flags(layout.output_options(out_dir) if layout
                 else {"output": os.path.join(out_dir, "data.record")})


def bench(args, out_dir: str, run) -> dict:
    tds = _test_datasets()
    argvs = datasets_under(args.cache, tds)
    repeat = max(5, args.repeat)
    baseline = []
    runs: dict[str, list] = {name: [] for name in CASES_RUN}
    for attempt in range(repeat):
        for name in CASES_RUN:
            baseline.append(run.timed([sys.executable, "-c", "pass"]))
            target = os.path.join(out_dir, "startup", f"{name}-{attempt}")
            runs[name].append(run.timed(run.tfrconv_cmd() + argvs[name]
                                        + output_flags(tds, name, target)
                                        + ["--workers", "1", "--quiet"]))
    base_cpu = min(r["cpu_s"] for r in baseline)
    base_wall = min(r["wall_s"] for r in baseline)
    result = {"case": "startup-formats", "images": IMAGES, "repeat": repeat,
              "python_c_pass": {"cpu_s": base_cpu, "wall_s": base_wall},
              "load_average": [round(x, 2) for x in os.getloadavg()]}
    for name, timings in runs.items():
        cpu = round(min(r["cpu_s"] for r in timings) - base_cpu, 3)
        result[name] = {"cpu_over_s": cpu,
                        "wall_over_s": round(min(r["wall_s"] for r in timings) - base_wall, 3),
                        "peak_rss_mb": min(r["peak_rss_mb"] for r in timings),
                        "meets_goal": cpu <= GOAL_S}
    return result


CASES = {"startup-formats": bench}
