"""`tfrconv inspect`: statistics, --show, --draw, on our records and on other writers' records."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest
from importcheck import modules_loaded
from odapi import tf_feature
from recordmaker import good_features, image_bytes, mask_png, write

from tfrconv.cli import main
from tfrconv.draw import class_colour
from tfrconv.inspect import Inspector, inspect_records
from tfrconv.verify import verify_records


# -- records written by TensorFlow itself, with the key sets other converters use --------------
def _tf_feature(kind, values):
    return tf_feature({"b": "bytes", "f": "float"}.get(kind, "int"), values)


def tf_write(path, examples, compression=None) -> str:
    """Write with tf.io.TFRecordWriter and tf.train.Example, as other tools do."""
    import tensorflow as tf

    options = tf.io.TFRecordOptions(compression_type=compression) if compression else None
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for example in examples:
            feature = {key: _tf_feature(kind, values) for key, (kind, values) in example.items()}
            writer.write(tf.train.Example(features=tf.train.Features(
                feature=feature)).SerializeToString())
    return str(path)


def _common(fmt="JPEG", name="img.jpg", width=60, height=40, sha=True, fmt_field=b"jpeg"):
    import hashlib

    data = image_bytes(width, height, fmt=fmt)
    features = {
        "image/height": ("i", [height]), "image/width": ("i", [width]),
        "image/filename": ("b", [name.encode()]), "image/source_id": ("b", [name.encode()]),
        "image/encoded": ("b", [data]), "image/format": ("b", [fmt_field]),
        "image/object/bbox/xmin": ("f", [0.1, 0.5]), "image/object/bbox/xmax": ("f", [0.4, 0.9]),
        "image/object/bbox/ymin": ("f", [0.1, 0.3]), "image/object/bbox/ymax": ("f", [0.5, 0.8]),
    }
    if sha:
        features["image/key/sha256"] = ("b", [hashlib.sha256(data).hexdigest().encode()])
    return features


def other_tool():
    """A record as a community script writes it: 'jpg', no sha256, no class/label, KITTI-like
    float truncated, a PNG image."""
    features = _common(fmt="PNG", name="frame_001.png", sha=False, fmt_field=b"jpg")
    features["image/object/class/text"] = ("b", [b"car", b"person"])
    features["image/object/truncated"] = ("f", [0.0, 0.35])
    return features


def pascal():
    f = _common()
    f.update({"image/object/class/text": ("b", [b"dog", b"cat"]),
              "image/object/class/label": ("i", [12, 8]),
              "image/object/difficult": ("i", [0, 1]), "image/object/truncated": ("i", [0, 0]),
              "image/object/view": ("b", [b"Frontal", b"Left"])})
    return f


def coco():
    f = _common(name="397133")
    f.update({"image/object/class/text": ("b", [b"person", b"dog"]),
              "image/object/is_crowd": ("i", [0, 1]), "image/object/area": ("f", [310.5, 120.0]),
              "image/object/mask": ("b", [mask_png(60, 40), mask_png(60, 40)])})
    return f


def kitti():
    f = _common(fmt="PNG", name="/data/kitti/training/image_2/000042.png", fmt_field=b"png")
    f.update({"image/object/class/text": ("b", [b"car", b"pedestrian"]),
              "image/object/class/label": ("i", [1, 2]),
              "image/object/difficult": ("i", [0, 0]),
              "image/object/truncated": ("f", [0.0, 0.5]),
              "image/object/alpha": ("f", [-1.5, 0.3]),
              "image/object/3d_bbox/height": ("f", [1.5, 1.7])})
    return f


def oid():
    f = _common(name="000a1249af2bc5f0", sha=False)
    for key in ("image/height", "image/width", "image/format"):
        del f[key]
    f.update({"image/object/class/text": ("b", [b"/m/01g317", b"/m/0k4j"]),
              "image/object/class/label": ("i", [1, 2]),
              "image/object/group_of": ("i", [0, 1]), "image/object/occluded": ("i", [1, 0]),
              "image/object/truncated": ("i", [0, 0]), "image/object/depiction": ("i", [0, 0]),
              "image/class/text": ("b", [b"/m/01g317"]), "image/class/label": ("i", [1])})
    return f


def pets():
    f = _common(name="Abyssinian_1.jpg")
    f.update({"image/object/class/text": ("b", [b"Abyssinian", b"Abyssinian"]),
              "image/object/class/label": ("i", [1, 1]),
              "image/object/difficult": ("i", [0, 0]), "image/object/truncated": ("i", [0, 0]),
              "image/object/view": ("b", [b"", b""]),
              "image/object/mask": ("f", [1.0] * (2 * 60 * 40))})
    return f


def csv_script():
    f = _common(name="raccoon-1.jpg", sha=False, fmt_field=b"jpg")
    f.update({"image/object/class/text": ("b", [b"raccoon", b"raccoon"]),
              "image/object/class/label": ("i", [1, 1])})
    return f


WRITERS = {"pascal": (pascal, "image/object/view"), "coco": (coco, "image/object/is_crowd"),
           "kitti": (kitti, "image/object/truncated"), "oid": (oid, "image/object/group_of"),
           "pets": (pets, "image/object/mask"), "csv": (csv_script, "image/object/class/label"),
           "other tool": (other_tool, "image/object/truncated")}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_records_in_every_converters_key_set(tmp_path, name):
    make, optional_key = WRITERS[name]
    path = tf_write(tmp_path / f"{name}.tfrecord", [make(), make()])
    result = inspect_records(path)
    assert result["examples"] == 2 and result["objects"] == 4 and result["error_count"] == 0
    assert result["optional_fields"][optional_key] == 2
    assert sum(c["objects"] for c in result["classes"]) == 4
    fields = {f["key"]: f for f in result["fields"]}
    assert not any("wrong_type" in f for f in fields.values())
    # and verify, with TensorFlow and the decoder's spec, finds nothing wrong in them
    report = verify_records(path)
    assert report["errors"] == 0, report["problems"]


def test_record_written_by_another_tool(tmp_path, capsys):
    path = tf_write(tmp_path / "other.tfrecord", [other_tool(), other_tool()])
    result = inspect_records(path)
    assert result["images"]["formats"] == {"png": 2}
    assert result["images"]["format_field"] == {"jpg": 2}
    assert {(c["text"], c["label"]) for c in result["classes"]} == {("car", None),
                                                                  ("person", None)}
    fields = {f["key"]: f for f in result["fields"]}
    assert fields["image/object/truncated"]["kinds"] == {"float": 2}
    assert fields["image/object/truncated"]["decoder"] == "not read"
    assert result["optional_fields"]["image/key/sha256"] == 0
    assert result["boxes"]["width_px"]["min"] == pytest.approx(18.0, abs=0.01)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "2 examples in 1 file" in out and "'jpg' 2" in out and "car" in out
    assert "absent:" in out and "image/key/sha256" in out


def test_gzip_records(tmp_path):
    path = tf_write(tmp_path / "z.tfrecord.gz", [pascal()] * 3, compression="GZIP")
    result = inspect_records(path)
    assert result["examples"] == 3 and result["error_count"] == 0


def test_our_records_and_the_class_table(voc_copy, tmp_path, capsys):
    out = tmp_path / "out" / "val.record"
    assert main(["voc", "--data-dir", str(voc_copy), "--set", "val", "--output", str(out),
                 "--num-shards", "3", "--workers", "1", "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "out" / "val.manifest.json").read_text())
    capsys.readouterr()
    assert main(["inspect", str(out) + "-*", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["shards"] == 3 and result["examples"] == manifest["examples"]
    assert result["objects"] == manifest["objects"]
    expected = {(c["name"], c["id"]): (c["objects"], c["images"]) for c in manifest["classes"]
                if c["objects"]}
    table = {(c["text"], c["label"]): (c["objects"], c["images"]) for c in result["classes"]}
    assert table == expected
    assert all(c["label_map_id"] == c["label"] for c in result["classes"])   # map beside
    assert result["optional_fields"]["image/object/difficult"] == result["examples"]
    assert main(["inspect", str(out) + "-*"]) == 0
    text = capsys.readouterr().out
    assert f"{result['examples']} examples in 3 files" in text
    for line in ("classes (label map:", "per image", "aspect (w/h)", "feature keys"):
        assert line in text


def test_show_prints_features_readably(tmp_path, capsys):
    path = write(tmp_path / "x.record", [good_features("a.jpg"), good_features("b.jpg"),
                                         good_features("c.jpg")])
    assert main(["inspect", path, "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("== ") == 2 and "(a.jpg)" in out and "(b.jpg)" in out
    assert "image/encoded" in out and "<jpeg 64x48," in out and "\\xff" not in out
    assert re.search(r"image/object/class/text +bytes\[2\]  'circle', 'square'\n", out)
    assert re.search(r"image/object/bbox/xmin +float\[2\]  0.1, 0.5\n", out)
    assert main(["inspect", path, "--show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["shown"]
    assert len(shown) == 1 and shown[0]["features"]["image/height"]["values"] == [48]
    assert shown[0]["features"]["image/encoded"]["values"][0].startswith("<jpeg")


def test_draw_writes_real_pngs_with_boxes_where_the_annotation_says(tmp_path, capsys):
    from PIL import Image

    grey = (128, 128, 128)
    example = good_features("street.png", width=400, height=300,
                            image=image_bytes(400, 300, grey, fmt="PNG"))
    example["image/object/class/text"] = ("bytes", [b"cat", b"traffic light"])
    small = good_features("small.jpg")                   # 64x48: drawn enlarged
    path = write(tmp_path / "x.record", [example, small, good_features("c.jpg")])
    out_dir = tmp_path / "drawn"
    assert main(["inspect", path, "--draw", "2", "--out", str(out_dir)]) == 0
    pngs = sorted(p for p in os.listdir(out_dir) if p.endswith(".png"))
    assert pngs == ["0000_street.png", "0001_small.png"]
    with Image.open(out_dir / pngs[0]) as drawn:
        assert drawn.format == "PNG" and drawn.size == (400, 300)
        pixels = drawn.convert("RGB")
    xmins, ymins = example["image/object/bbox/xmin"][1], example["image/object/bbox/ymin"][1]
    xmaxs, ymaxs = example["image/object/bbox/xmax"][1], example["image/object/bbox/ymax"][1]
    for i, name in enumerate(("cat", "traffic light")):
        colour = class_colour(name)
        x0, x1 = xmins[i] * 400, xmaxs[i] * 400
        y0, y1 = ymins[i] * 300, ymaxs[i] * 300
        mid_y = int((y0 + y1) / 2)
        mid_x = int((x0 + x1) / 2)
        # the left and right edges carry the class colour ...
        assert colour in [pixels.getpixel((x, mid_y)) for x in range(int(x0) - 1, int(x0) + 3)]
        assert colour in [pixels.getpixel((x, mid_y)) for x in range(int(x1) - 3, int(x1) + 2)]
        assert colour in [pixels.getpixel((mid_x, y)) for y in range(int(y1) - 3, int(y1) + 2)]
        # ... and the middle of the box keeps the image's own pixels
    assert pixels.getpixel((int(0.25 * 400), int(0.4 * 300))) == grey
    with Image.open(out_dir / pngs[1]) as enlarged:
        assert min(enlarged.size) >= 48 and max(enlarged.size) >= 320
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    assert index.startswith("<!DOCTYPE html>") and 'src="0000_street.png"' in index
    assert "traffic light" in index and "street.png" in index
    assert "index.html" in capsys.readouterr().out


def test_draw_needs_out(tmp_path, capsys):
    path = write(tmp_path / "x.record", [good_features()])
    assert main(["inspect", path, "--draw", "1"]) == 2
    assert "--draw needs --out" in capsys.readouterr().err


def test_class_colours_are_stable_across_runs():
    code = "from tfrconv.draw import class_colour; print(class_colour('cat'))"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
               for seed in ("1", "2")}
    assert outputs == {f"{class_colour('cat')}\n"}
    assert class_colour("cat") != class_colour("dog")


def test_damaged_file_is_reported_and_the_next_file_read(tmp_path, capsys):
    first = write(tmp_path / "d.record-00000-of-00002", [good_features("a.jpg"),
                                                         good_features("b.jpg")])
    write(tmp_path / "d.record-00001-of-00002", [good_features("c.jpg")])
    with open(first, "r+b") as fileobj:
        fileobj.truncate(os.path.getsize(first) - 10)
    result = inspect_records(str(tmp_path / "d.record-*"))
    assert result["examples"] == 2 and result["error_count"] == 1
    assert "truncated" in result["errors"][0]["error"]
    assert main(["inspect", str(tmp_path / "d.record-*")]) == 1
    captured = capsys.readouterr()
    assert "truncated" in captured.out and "Traceback" not in captured.err


def test_wrong_types_and_odd_boxes_are_flagged(tmp_path, capsys):
    odd = good_features()
    odd["image/height"] = ("float", [48.0])
    odd["image/object/bbox/xmax"] = ("float", [30.0, 0.9])
    path = write(tmp_path / "x.record", [odd])
    result = inspect_records(path)
    fields = {f["key"]: f for f in result["fields"]}
    assert "float" in fields["image/height"]["wrong_type"]
    assert result["boxes"]["outside_0_1"] == 1
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "WRONG TYPE" in out and "outside [0, 1]" in out and "tfrconv verify" in out


def test_limit_and_folder_paths(tmp_path):
    write(tmp_path / "train.record", [good_features(f"{i}.jpg") for i in range(5)])
    (tmp_path / "train.manifest.json").write_text("{}")
    result = inspect_records(str(tmp_path), limit=3)
    assert result["examples"] == 3 and [f["path"] for f in result["files"]] == [
        str(tmp_path / "train.record")]


def test_what_the_inspector_keeps_does_not_grow_with_the_number_of_records():
    """Streaming: after 10x more examples (each with its own source id and box sizes) every
    container the inspector holds has as many entries as before. (The memory this means is
    measured in benchmarks/inspect_memory.py, not here.)"""
    example = {key: (kind, values) for key, (kind, values) in good_features(
        image=b"").items() if key != "image/encoded"}

    def entries(count: int) -> dict[str, int]:
        inspector = Inspector(reservoir_size=100)
        for i in range(count):
            example["image/source_id"] = ("bytes", [f"{i}.jpg".encode()])
            example["image/object/bbox/xmax"] = ("float", [0.5 + i / (4 * count)] * 2)
            inspector.add(example)
        inspector.result()
        return container_sizes(inspector)

    small, large = entries(500), entries(5000)
    assert small == large
    assert sum(small.values()) > 100          # the walk saw the reservoirs


def container_sizes(root, path="inspector", seen=None) -> dict[str, int]:
    """path → len() of every list, dict, set or deque reachable from `root`'s attributes."""
    seen = set() if seen is None else seen
    if id(root) in seen:
        return {}
    seen.add(id(root))
    sizes = {}
    if isinstance(root, (list, tuple, set, frozenset, dict)) or hasattr(root, "__len__") and \
            hasattr(root, "__iter__") and not isinstance(root, (str, bytes)):
        sizes[path] = len(root)
        children = root.items() if isinstance(root, dict) else enumerate(root)
        for key, value in children:
            if not isinstance(value, (int, float, str, bytes, type(None))):
                sizes.update(container_sizes(value, f"{path}[{key!r}]", seen))
    if hasattr(root, "__dict__"):
        for name, value in vars(root).items():
            if not isinstance(value, (int, float, str, bytes, type(None))):
                sizes.update(container_sizes(value, f"{path}.{name}", seen))
    return sizes


def test_show_summarises_masks_and_long_lists(tmp_path, capsys):
    example = good_features()
    example["image/object/mask"] = ("bytes", [mask_png(64, 48), mask_png(64, 48)])
    example["image/object/weight"] = ("float", [1.0] * 2)
    example["image/custom/many"] = ("int", list(range(25)))
    example["image/custom/blob"] = ("bytes", [bytes(range(256))])
    write(tmp_path / "x.record", [example])
    assert main(["inspect", str(tmp_path / "x.record"), "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert "<png 64x48," in out and "... (15 more)" in out and "<256 bytes>" in out
    assert io.StringIO(out).read().count("image/custom/many") >= 1


def test_help_loads_no_heavy_library():
    """inspect/verify/detect-format are in `tfrconv --help` without TensorFlow, Pillow, numpy."""
    code = "import tfrconv.cli; tfrconv.cli.build_parser()"
    assert modules_loaded(code, ["tensorflow", "PIL", "numpy"]) == []
