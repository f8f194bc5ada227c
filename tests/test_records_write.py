"""`records merge / reshard / split / filter / remap`: known answers on hand-made records and
on conversions. Outputs are read back with TensorFlow's own reader and parser (never with the
code under test), and compared byte for byte where an example must be copied unchanged."""

from __future__ import annotations

import glob
import hashlib
import json
import os

import pytest
from recordmaker import good_features, image_bytes, write

from tfrconv.cli import main
from tfrconv.errors import DataError
from tfrconv.records.merge import merge_records
from tfrconv.records.reshard import parse_size, reshard_records
from tfrconv.records.split import split_records
from tfrconv.records.transform import filter_records, remap_records
from tfrconv.wire import encode

tf = pytest.importorskip("tensorflow")


def payloads(pattern: str) -> list[bytes]:
    """Every payload of the files matching `pattern`, read by TensorFlow."""
    files = sorted(glob.glob(pattern))
    assert files, pattern
    return [t.numpy() for t in tf.data.TFRecordDataset(files)]


def parsed(payload: bytes) -> dict:
    spec = {"image/encoded": tf.io.FixedLenFeature([], tf.string),
            "image/source_id": tf.io.FixedLenFeature([], tf.string, default_value=b""),
            "image/object/class/text": tf.io.VarLenFeature(tf.string),
            "image/object/class/label": tf.io.VarLenFeature(tf.int64),
            "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
            "image/object/difficult": tf.io.VarLenFeature(tf.int64)}
    out = tf.io.parse_single_example(payload, spec)
    dense = {k: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
             for k, v in out.items()}
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in dense.items()}


def serialized(features) -> bytes:
    return b"".join(encode(features))


def example(source_id: str, classes: list[tuple[str, int]], colour=(10, 20, 30)) -> dict:
    """An example whose objects have the given (class text, label) pairs."""
    features = good_features(source_id, image=image_bytes(64, 48, colour))
    n = len(classes)
    for key in ("xmin", "ymin", "xmax", "ymax"):
        features[f"image/object/bbox/{key}"] = ("float", [0.1 * (k + 1) for k in range(n)]
                                                if key.endswith("min") else
                                                [0.1 * (k + 1) + 0.05 for k in range(n)])
    features["image/object/class/text"] = ("bytes", [c.encode() for c, _ in classes])
    features["image/object/class/label"] = ("int", [i for _, i in classes])
    features["image/object/difficult"] = ("int", [0] * n)
    return features


def record_set(folder, name: str, label_map: str, examples: list[dict]) -> str:
    os.makedirs(folder, exist_ok=True)
    path = write(os.path.join(folder, f"{name}.record"), examples)
    with open(os.path.join(folder, f"{name}.label_map.pbtxt"), "w") as fileobj:
        fileobj.write(label_map)
    return path


# -- merge -----------------------------------------------------------------------------------
def test_merge_rewrites_only_the_ids_that_change(tmp_path):
    a = record_set(tmp_path / "a", "a", "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n",
                   [example("a0", [("cat", 1), ("dog", 2)])])
    b_examples = [example("b0", [("dog", 1), ("bird", 2)], colour=(200, 0, 0)),
                  example("b1", [], colour=(0, 200, 0))]
    b = record_set(tmp_path / "b", "b", "item { id: 1 name: 'dog' }\nitem { id: 2 name: 'bird' }\n",
                   b_examples)
    out = str(tmp_path / "m" / "all.record")

    manifest = merge_records([a, b], out)

    assert (tmp_path / "m" / "all.label_map.pbtxt").read_text() == (
        'item {\n  name: "cat"\n  id: 1\n}\nitem {\n  name: "dog"\n  id: 2\n}\n'
        'item {\n  name: "bird"\n  id: 3\n}\n')
    got = payloads(out)
    assert got[0] == payloads(a)[0]                    # ids agree: copied byte for byte
    assert got[2] == payloads(b)[1]                    # no objects: copied
    merged_b0 = parsed(got[1])
    assert merged_b0["image/object/class/label"] == [2, 3]
    assert merged_b0["image/object/class/text"] == [b"dog", b"bird"]
    assert merged_b0["image/encoded"] == b_examples[0]["image/encoded"][1][0]
    # Everything but the labels is as it was: the original with the new labels, re-encoded.
    expected = dict(b_examples[0])
    expected["image/object/class/label"] = ("int", [2, 3])
    assert got[1] == serialized(expected)
    notes = "\n".join(manifest["notes"])
    assert "'dog' has id 1 there and 2 in the merged label map" in notes
    assert "id 2 is 'bird' there but 'dog'" in notes and "'bird' gets id 3" in notes
    on_disk = json.loads((tmp_path / "m" / "all.manifest.json").read_text())
    assert [(c["name"], c["objects"], c["images"]) for c in on_disk["classes"]] == [
        ("cat", 1, 1), ("dog", 2, 2), ("bird", 1, 1)]
    assert on_disk["examples"] == 3 and on_disk["format"] == "records merge"


@pytest.mark.parametrize("remembered", [1, 4096])
def test_merge_decides_per_example_whatever_it_remembers(tmp_path, monkeypatch, remembered):
    """Examples with the same class texts but other ids are decided apart (copied or
    rewritten), and the class counts are the same however many class lists are remembered
    (`ClassMemo`) or held before counting (the record writer)."""
    import tfrconv.records.output as output
    import tfrconv.records.reading as reading

    monkeypatch.setattr(reading, "_MEMO_SIZE", remembered)
    monkeypatch.setattr(output, "_NAME_LISTS", remembered)
    a = record_set(tmp_path / "a", "a", "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n",
                   [example("a0", [("cat", 1), ("dog", 2)])])
    b_examples = [example("b0", [("dog", 1)], colour=(200, 0, 0)),      # a stale id: rewritten
                  example("b1", [("dog", 2)], colour=(0, 200, 0)),      # the merged id: copied
                  example("b2", [("dog", 1)], colour=(0, 0, 200)),
                  example("b3", [("dog", 2), ("cat", 1)], colour=(9, 9, 9))]
    b = record_set(tmp_path / "b", "b", "item { id: 1 name: 'dog' }\n", b_examples)
    out = str(tmp_path / "m" / "all.record")

    manifest = merge_records([a, b], out)

    got = payloads(out)
    originals = payloads(b)
    assert got[2] == originals[1] and got[4] == originals[3]
    assert [parsed(p)["image/object/class/label"] for p in got] == [
        [1, 2], [2], [2], [2], [2, 1]]
    assert got[1] != originals[0] and got[3] != originals[2]
    assert "2 examples had their class ids rewritten" in "\n".join(manifest["notes"])
    assert [(c["name"], c["objects"], c["images"]) for c in manifest["classes"]] == [
        ("cat", 2, 2), ("dog", 5, 5)]


def test_the_class_memo_stays_small(monkeypatch):
    import tfrconv.records.reading as reading

    monkeypatch.setattr(reading, "_MEMO_SIZE", 2)
    memo = reading.ClassMemo()
    for n in range(5):
        assert memo.keep(((b"c%d" % n,), ()), n) == n
        assert len(memo) <= 2 and memo[((b"c%d" % n,), ())] == n


def test_merge_with_a_given_label_map_refuses_unknown_classes_and_leaves_nothing(tmp_path):
    a = record_set(tmp_path / "a", "a", "item { id: 1 name: 'cat' }\n",
                   [example("a0", [("cat", 1)])])
    b = record_set(tmp_path / "b", "b", "item { id: 1 name: 'emu' }\n",
                   [example("b0", [("emu", 1)])])
    given = tmp_path / "given.pbtxt"
    given.write_text("item { id: 5 name: 'cat' }\n")
    out = tmp_path / "m"
    with pytest.raises(DataError, match=r"b\.record record 0.*\['emu'\] are not in the label"):
        merge_records([a, b], str(out / "all.record"), label_map=str(given))
    assert os.listdir(out) == []                       # no output, no temporary file


# -- reshard ---------------------------------------------------------------------------------
def test_reshard_gives_the_shards_a_conversion_gives(voc_copy, tmp_path):
    def convert(output, shards):
        assert main(["voc", "--data-dir", str(voc_copy), "--set", "train", "--output",
                     str(output), "--num-shards", str(shards), "--no-progress"]) == 0

    convert(tmp_path / "one" / "t.record", 1)
    convert(tmp_path / "four" / "t.record", 4)
    reshard_records(str(tmp_path / "one" / "t.record"), str(tmp_path / "re" / "t.record"),
                    num_shards=4)
    for i in range(4):
        name = f"t.record-{i:05d}-of-00004"
        assert (tmp_path / "re" / name).read_bytes() == (tmp_path / "four" / name).read_bytes()
    assert (tmp_path / "re" / "t.label_map.pbtxt").read_text() == \
        (tmp_path / "four" / "t.label_map.pbtxt").read_text()
    ours = json.loads((tmp_path / "re" / "t.manifest.json").read_text())
    theirs = json.loads((tmp_path / "four" / "t.manifest.json").read_text())
    for key in ("shards", "examples", "objects", "classes", "shard_glob"):
        assert ours[key] == theirs[key], key


def test_reshard_by_size_and_back_to_one(tmp_path):
    src = write(tmp_path / "in.record", [good_features(f"{i}.jpg") for i in range(9)])
    total = os.path.getsize(src)
    manifest = reshard_records(src, str(tmp_path / "s" / "x.record"),
                               shard_size=f"{total // 3 + 1}b")
    assert manifest["num_shards"] == 3
    back = reshard_records(str(tmp_path / "s" / "x.record-*"), str(tmp_path / "b.record"),
                           num_shards=1)
    assert back["examples"] == 9
    assert sorted(payloads(str(tmp_path / "b.record"))) == sorted(payloads(src))


@pytest.mark.parametrize(("text", "size"), [("200MB", 200_000_000), ("1GiB", 2 ** 30),
                                            ("1.5k", 1500), ("12", 12), ("3 MiB", 3 * 2 ** 20)])
def test_sizes(text, size):
    assert parse_size(text) == size


def test_a_bad_size_is_a_usage_error(tmp_path, capsys):
    src = write(tmp_path / "in.record", [good_features()])
    assert main(["records", "reshard", src, "--shard-size", "lots", "-o",
                 str(tmp_path / "o.record")]) == 2
    assert "--shard-size 'lots'" in capsys.readouterr().err


# -- split -----------------------------------------------------------------------------------
def expected_part(sha256: str, seed: int) -> str:
    """The documented rule, computed here: the SHA-256 of 'seed NUL sha256:<image hash>', its
    first 8 bytes over 2**64, below 0.75 → train."""
    digest = hashlib.sha256(f"{seed}\0sha256:{sha256}".encode()).digest()
    return "train" if int.from_bytes(digest[:8], "big") / 2 ** 64 < 0.75 else "val"


def test_split_by_hash_of_the_image(tmp_path):
    examples = [good_features(f"{i}.jpg", image=image_bytes(16, 16, (i, i, i)))
                for i in range(40)]
    src = write(tmp_path / "all.record", examples)
    manifests = split_records(src, str(tmp_path / "out" / "data.record"),
                              split="train=0.75,val=0.25", seed=7)
    assert set(manifests) == {"train", "val"}
    for part in ("train", "val"):
        got = {parsed(p)["image/source_id"] for p in
               payloads(str(tmp_path / "out" / f"data_{part}.record"))}
        want = {f["image/source_id"][1][0] for f in examples
                if expected_part(f["image/key/sha256"][1][0].decode(), 7) == part}
        assert got == want and got
        assert (tmp_path / "out" / f"data_{part}.label_map.pbtxt").exists()
    # The split does not depend on order: reversed input, same parts.
    reverse = write(tmp_path / "rev.record", list(reversed(examples)))
    split_records(reverse, str(tmp_path / "rev" / "data.record"), split="train=0.75,val=0.25",
                  seed=7)
    assert sorted(payloads(str(tmp_path / "rev" / "data_val.record"))) == \
        sorted(payloads(str(tmp_path / "out" / "data_val.record")))


def test_split_gives_the_parts_a_converting_split_gives(voc_copy, tmp_path):
    def convert(output, *extra):
        assert main(["voc", "--data-dir", str(voc_copy), "--set", "train", "--output",
                     str(output), "--no-progress", *extra]) == 0

    convert(tmp_path / "one" / "all.record")
    convert(tmp_path / "conv" / "data.record", "--split", "train=0.5,val=0.5",
            "--split-seed", "3")
    assert main(["records", "split", str(tmp_path / "one" / "all.record"), "--split",
                 "train=0.5,val=0.5", "--split-seed", "3", "-o",
                 str(tmp_path / "rec" / "data.record")]) == 0
    for part in ("train", "val"):
        name = f"data_{part}.record"
        assert (tmp_path / "rec" / name).read_bytes() == (tmp_path / "conv" / name).read_bytes()


# -- filter and remap -------------------------------------------------------------------------
def test_filter_drops_small_boxes_and_classes_and_empty_examples(tmp_path):
    # good_features: circle 0.1..0.4 x 0.2..0.6 of 64x48 (19.2 x 19.2 px), square 25.6 x 24 px.
    src = write(tmp_path / "in.record", [good_features("a.jpg"), good_features("b.jpg")])
    (tmp_path / "in.label_map.pbtxt").write_text(
        "item { id: 1 name: 'circle' }\nitem { id: 2 name: 'square' }\n")
    manifest = filter_records(src, str(tmp_path / "small.record"), min_box_size=20)
    for payload in payloads(str(tmp_path / "small.record")):
        got = parsed(payload)
        assert got["image/object/class/text"] == [b"square"]
        assert got["image/object/class/label"] == [2]
        assert got["image/object/bbox/xmin"] == [0.5]
        assert got["image/object/difficult"] == [0]
    assert manifest["objects_dropped"] == 2 and manifest["examples"] == 2

    with pytest.raises(DataError, match="every example was dropped"):
        filter_records(src, str(tmp_path / "none.record"), drop="circle,square",
                       drop_empty=True)
    assert not os.path.exists(tmp_path / "none.record")


def test_filter_that_changes_nothing_copies_bytes(tmp_path):
    src = write(tmp_path / "in.record", [good_features("a.jpg")])
    filter_records(src, str(tmp_path / "same.record"), keep="circle,square", min_box_size=5)
    assert payloads(str(tmp_path / "same.record")) == payloads(src)


def test_remap_renames_and_folds_classes(tmp_path):
    src = write(tmp_path / "in.record", [good_features("a.jpg")])
    (tmp_path / "in.label_map.pbtxt").write_text(
        "item { id: 1 name: 'circle' }\nitem { id: 2 name: 'square' }\n")
    remap_records(src, str(tmp_path / "r.record"), "square=circle")
    got = parsed(payloads(str(tmp_path / "r.record"))[0])
    assert got["image/object/class/text"] == [b"circle", b"circle"]
    assert got["image/object/class/label"] == [1, 1]
    assert (tmp_path / "r.label_map.pbtxt").read_text() == 'item {\n  name: "circle"\n  id: 1\n}\n'

    remap_records(src, str(tmp_path / "d.record"), {"circle": "disc"})
    got = parsed(payloads(str(tmp_path / "d.record"))[0])
    assert got["image/object/class/text"] == [b"disc", b"square"]
    assert got["image/object/class/label"] == [1, 2]


def test_cli_skip_salvages_and_reports(tmp_path, capsys):
    src = write(tmp_path / "in.record", [good_features(f"{i}.jpg") for i in range(3)])
    with open(src, "ab") as fileobj:
        fileobj.write(b"\x01\x02")                             # a torn record at the end
    out = str(tmp_path / "o.record")
    assert main(["records", "reshard", src, "--num-shards", "1", "-o", out]) == 1
    assert "record 3" in capsys.readouterr().err and not os.path.exists(out)
    assert main(["records", "reshard", src, "--num-shards", "1", "-o", out,
                 "--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 damaged records" in captured.out
    assert len(payloads(out)) == 3


def test_copied_runs_leave_room_for_a_record_written_between_them(tmp_path):
    from tfrconv.labelmap import LabelMap
    from tfrconv.records.output import RecordSetWriter, publish_all
    from tfrconv.tfrecord import scan_records

    src = write(tmp_path / "in.record", [good_features(f"{i}.jpg") for i in range(2)])
    first, second = list(scan_records(src))
    between = serialized(good_features("between.jpg"))
    with RecordSetWriter(str(tmp_path / "o.record")) as out:
        out.copy(first, "a", [])
        out.write(between, "b", [])
        out.copy(second, "c", [])
        out.stage(LabelMap.from_names(["x"]), command="test", inputs=[src], options={},
                  label_map_source="test")
        publish_all([out])
    assert payloads(str(tmp_path / "o.record")) == [first.payload, between, second.payload]


def test_foreign_records_ids_only_or_texts_only(tmp_path):
    """One set writes only class ids (its label map names them), the other only texts and no
    source ids or hashes: the merge names and numbers both through one map."""
    ids_only = example("i0", [("dog", 1)])
    del ids_only["image/object/class/text"]
    a = record_set(tmp_path / "a", "a", "item { id: 1 name: 'dog' }\n", [ids_only])
    texts_only = example("t0", [("cat", 0), ("dog", 0)], colour=(5, 5, 5))
    for key in ("image/object/class/label", "image/source_id", "image/key/sha256"):
        del texts_only[key]
    b = write(tmp_path / "b.record", [texts_only])               # no label map beside it
    manifest = merge_records([a, b], str(tmp_path / "m.record"))
    first, second = (parsed(p) for p in payloads(str(tmp_path / "m.record")))
    assert first["image/object/class/label"] == [1] and first["image/object/class/text"] == []
    assert second["image/object/class/label"] == [2, 1]
    assert second["image/object/class/text"] == [b"cat", b"dog"]
    assert "'cat' is in no input's label map: given id 2" in manifest["notes"]


def test_merge_reports_images_it_has_seen(tmp_path):
    a = record_set(tmp_path / "a", "a", "item { id: 1 name: 'cat' }\n",
                   [example("a0", [("cat", 1)]), example("a1", [("cat", 1)], colour=(9, 9, 9))])
    manifest = merge_records([a, a], str(tmp_path / "m.record"))
    (note,) = [n for n in manifest["notes"] if "repeat an image" in n]
    assert note.startswith("2 examples repeat an image written before")
    assert f"{a} record 0, {a} record 1" in note
    assert manifest["examples"] == 4
