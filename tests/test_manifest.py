"""The manifest beside every output, for every builtin format: its shards match the files on
disk (paths, example counts read back, sizes, gzip included), its counts and classes match the
dataset that was converted, and its label map hash is the written label map's."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

import pytest
from datasets import FORMATS, make, shard_files, sidecar, source_ids, standard_pictures
from datasets import convert as run

import tfrconv


def expected_classes(layout, pictures, indices) -> dict[str, tuple[int, int]]:
    """Class name → (objects, images holding it), counted from the pictures."""
    objects, images = Counter(), Counter()
    for index in indices:
        names = [layout.names[box.label] for box in pictures[index].boxes]
        objects.update(names)
        images.update(set(names))
    return {name: (objects[name], images[name]) for name in objects}


def listed(value):
    """An option as the manifest records it: a comma-separated list as a list."""
    return value.split(",") if isinstance(value, str) and "," in value else value


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("name", FORMATS)
def test_manifest_matches_the_shards_and_the_dataset(tmp_path, name, compression):
    pictures = standard_pictures()
    layout, options = make(name, tmp_path / "data", pictures)
    out = tmp_path / "out"
    summary = run(layout, options, out, num_shards=2, compression=compression)
    expected = layout.expected(pictures, str(out), 2)
    ids_by_split = expected.ids_by_split()
    total_examples = total_objects = 0
    for split, record in expected.outputs.items():
        with open(sidecar(record, "manifest.json"), encoding="utf-8") as fileobj:
            manifest = json.load(fileobj)
        label_map_file = sidecar(record, "label_map.pbtxt")
        assert manifest["format"] == name and manifest["split"] == split
        assert manifest["tfrconv_version"] == tfrconv.__version__

        shards = [{"path": os.path.basename(path), "examples": len(source_ids(path)),
                   "bytes": os.path.getsize(path)} for path in shard_files(record, 2)]
        assert manifest["shards"] == shards
        assert manifest["compression"].lower() == compression      # (written as GZIP)
        for path in shard_files(record, 2):
            with open(path, "rb") as fileobj:
                head = fileobj.read(2)
            assert (head == b"\x1f\x8b") == (compression == "gzip")

        indices = [i for i, s in expected.split.items() if s == split]
        objects = sum(len(pictures[i].boxes) for i in indices)
        assert manifest["examples"] == sum(s["examples"] for s in shards) == len(indices)
        assert sorted(i for path in shard_files(record, 2) for i in source_ids(path)) == \
            sorted(ids_by_split[split])
        assert manifest["objects"] == objects
        assert {c["name"]: (c["objects"], c["images"]) for c in manifest["classes"]
                if c["objects"]} == expected_classes(layout, pictures, indices)

        with open(label_map_file, "rb") as fileobj:
            written_map = fileobj.read()
        assert manifest["label_map"]["path"] == os.path.basename(label_map_file)
        assert manifest["label_map"]["sha256"] == hashlib.sha256(written_map).hexdigest()
        assert [(item["id"], item["name"]) for item in manifest["label_map"]["items"]] == \
            [(1, layout.names["a"]), (2, layout.names["b"])]
        assert manifest["label_map"]["num_classes"] == 2
        assert manifest["settings"]["label_map"] == options["label_map"]
        assert {key: manifest["options"][key] for key in options if key != "label_map"} == \
            {key: listed(value) for key, value in options.items() if key != "label_map"}
        total_examples += manifest["examples"]
        total_objects += manifest["objects"]
    assert (summary.examples, summary.objects) == (total_examples, total_objects)
    assert total_examples == len(pictures)
