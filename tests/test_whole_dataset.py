"""One label map across splits, label maps that cannot silently go wrong, and
`tfrconv.write_samples`: known answers from datasets built in tmp."""

from __future__ import annotations

import io
import json
import os

import pytest
from PIL import Image
from test_layouts import jpeg, read, voc_xml

import tfrconv
from tfrconv.cli import main


def labelimg_split(root, files: dict[str, list]) -> None:
    for name, objects in files.items():
        jpeg(f"{root}/{name}.jpg")
        voc_xml(f"{root}/{name}.xml", f"{name}.jpg", objects)


def two_splits(root) -> None:
    """train has ball and bat; valid only zebra and ball: each alone would number them apart."""
    labelimg_split(f"{root}/train", {"t1": [("ball", 4, 4, 20, 20)],
                                     "t2": [("bat", 4, 4, 20, 20)]})
    labelimg_split(f"{root}/valid", {"v1": [("zebra", 4, 4, 20, 20), ("ball", 8, 8, 30, 30)]})


def test_one_label_map_for_every_split(tmp_path):
    two_splits(tmp_path / "ds")
    summary = tfrconv.convert_dataset(tmp_path / "ds", output=tmp_path / "out", num_shards=2)
    assert summary.label_map.startswith("the classes of splits train, valid (3, sorted")
    labels = {}
    for split in ("train", "valid"):
        for example in tfrconv.read_examples(str(tmp_path / f"out/{split}.record-*")):
            for text, label in zip(example["image/object/class/text"],
                                   example["image/object/class/label"]):
                labels.setdefault(text.decode(), set()).add(label)
    assert labels == {"ball": {1}, "bat": {2}, "zebra": {3}}
    texts = {(tmp_path / f"out/{s}.label_map.pbtxt").read_text() for s in ("train", "valid")}
    assert len(texts) == 1
    manifest = json.loads((tmp_path / "out/valid.manifest.json").read_text())
    assert manifest["num_shards"] == 2 and manifest["examples"] == 1
    assert [s["split"] for s in [manifest]] == [None]          # each split is its own output
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".")]


def test_a_failing_split_publishes_nothing(tmp_path):
    two_splits(tmp_path / "ds")
    labelimg_split(tmp_path / "ds/valid", {"v2": [("ball", 4, 4, 20, 20)]})
    os.unlink(tmp_path / "ds/valid/v1.jpg")
    with pytest.raises(tfrconv.DataError, match="split valid"):
        tfrconv.convert_dataset(tmp_path / "ds", output=tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []


def test_splits_chosen_and_unknown_split_named(tmp_path, capsys):
    two_splits(tmp_path / "ds")
    assert main(["convert", str(tmp_path / "ds"), "--output", str(tmp_path / "out"),
                 "--splits", "valid", "-q"]) == 0
    assert sorted(os.listdir(tmp_path / "out"))[2] == "valid.record"
    assert main(["convert", str(tmp_path / "ds"), "--output", str(tmp_path / "o2/"),
                 "--splits", "test"]) == 2
    assert "no split test in" in capsys.readouterr().err


def test_unknown_class_gets_a_near_miss_suggestion(tmp_path):
    labelimg_split(tmp_path / "ds", {"a": [("Circle", 4, 4, 20, 20)],
                                     "b": [("square", 4, 4, 20, 20)]})
    label_map = tfrconv.LabelMap.from_names(["circle", "square"])
    with pytest.raises(tfrconv.DataError) as caught:
        tfrconv.convert("voc", data_dir=str(tmp_path / "ds"), xml_beside_images=True,
                        output=str(tmp_path / "x.record"), label_map=label_map, workers=1)
    assert "did you mean 'circle'?" in str(caught.value)
    summary = tfrconv.convert("voc", data_dir=str(tmp_path / "ds"), xml_beside_images=True,
                              output=str(tmp_path / "x.record"), label_map=label_map,
                              ignore_class_case=True)
    assert summary.objects == 2
    # written as the map spells it, so the OD API decoder finds it in the map
    assert read(str(tmp_path / "x.record"))["a.jpg"][:2] == (("circle",), (1,))


def test_dropping_every_object_is_not_success(tmp_path, capsys):
    labelimg_split(tmp_path / "ds", {"a": [("ball", 4, 4, 20, 20)]})
    argv = ["voc", "--data-dir", str(tmp_path / "ds"), "--xml-beside-images", "--output",
            str(tmp_path / "x.record"), "--label-map", "pascal", "-q"]
    # ball is not a pascal class: the error says no class matches and what works
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no class of the data is in the label map" in err and "from-data" in err
    assert main(argv + ["--on-unknown-class", "skip"]) == 1
    assert "every object was dropped" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x.record")
    assert main(argv + ["--on-unknown-class", "skip", "--allow-no-objects"]) == 0
    assert read(str(tmp_path / "x.record")) == {"a.jpg": ((), (), ())}


def test_a_split_beside_one_with_another_label_map_is_refused(tmp_path, capsys):
    labelimg_split(tmp_path / "train", {"a": [("ball", 4, 4, 20, 20)]})
    labelimg_split(tmp_path / "val", {"b": [("bat", 4, 4, 20, 20)]})
    base = ["--xml-beside-images", "--label-map", "from-data", "-q"]
    train = ["voc", "--data-dir", str(tmp_path / "train"), "--output",
             str(tmp_path / "out/train.record"), *base]
    assert main(train) == 0
    assert main(train) == 0                 # the same output again is no clash with itself
    val = ["voc", "--data-dir", str(tmp_path / "val"), "--output",
           str(tmp_path / "out/val.record"), *base]
    assert main(val) == 2
    err = capsys.readouterr().err
    assert "out/val.manifest.json" in err and "out/train.manifest.json" in err
    assert "--allow-label-map-mismatch" in err
    assert main(val + ["--allow-label-map-mismatch"]) == 0
    # Outputs of another family in the same folder (bats_*) are not compared with train/val;
    # within that family, the same rule holds.
    bats_train = ["voc", "--data-dir", str(tmp_path / "val"), "--output",
                  str(tmp_path / "out/bats_train.record"), *base]
    assert main(bats_train) == 0
    bats_val = ["voc", "--data-dir", str(tmp_path / "train"), "--output",
                str(tmp_path / "out/bats_val.record"), *base]
    assert main(bats_val) == 2
    assert "out/bats_train.manifest.json" in capsys.readouterr().err


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_write_samples_checks_shards_and_publishes(tmp_path):
    samples = [tfrconv.Sample(source_id=f"s{i}", filename=f"s{i}.png",
                              image_bytes=png((i * 50, 0, 0)),
                              objects=[tfrconv.Object("dog" if i % 2 else "cat", 4, 3, 20, 15)])
               for i in range(4)]
    summary = tfrconv.write_samples(samples, output=tmp_path / "own.record", num_shards=2)
    assert (summary.examples, summary.objects) == (4, 4)
    assert sorted(os.listdir(tmp_path)) == [
        "own.label_map.pbtxt", "own.manifest.json", "own.record-00000-of-00002",
        "own.record-00001-of-00002"]
    examples = list(tfrconv.read_examples(str(tmp_path / "own.record-*")))
    by_id = {e["image/source_id"][0].decode(): e for e in examples}
    assert by_id["s1"]["image/object/class/label"] == [2]          # cat 1, dog 2
    assert by_id["s1"]["image/object/bbox/xmax"] == [pytest.approx(0.5)]
    assert by_id["s1"]["image/format"] == [b"png"]
    # a generator needs a label map; a bad box is checked as in any conversion
    bad = tfrconv.Sample(source_id="x", filename="x.png", image_bytes=png((0, 0, 0)),
                         objects=[tfrconv.Object("cat", 30, 3, 10, 15)])
    with pytest.raises(tfrconv.UsageError, match="label_map="):
        tfrconv.write_samples(iter([bad]), output=tmp_path / "g" / "g.record")
    with pytest.raises(tfrconv.DataError, match="empty or inverted box"):
        tfrconv.write_samples(iter([bad]), output=tmp_path / "g" / "g.record", label_map="pascal")
    assert not os.path.exists(tmp_path / "g" / "g.record")
    with pytest.raises(tfrconv.DataError, match=r"samples\[0\] is a dict"):
        tfrconv.write_samples([{}], output=tmp_path / "g" / "g.record")
