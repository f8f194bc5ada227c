"""The hostile-input promise (docs/problems.md), for every annotation parser, on generated files.

For each builtin format a tiny valid dataset is written once (tests/datasets.py); each example
replaces one annotation file (VOC/Pets XML, COCO JSON, CSV, Open Images box CSV, KITTI label
text, the Pets list file) with arbitrary bytes or, mostly, the valid file with a few fields
swapped for hostile values, and converts in process with every skip policy. The promise: the
run either converts (what it dropped counted, no hidden file left beside the records) or stops
with one line naming the dataset's file, leaving nothing in the output folder; it never raises
anything but a tfrconv error and never hangs (an alarm fails the example with a message).
"""

from __future__ import annotations

import itertools
import json
import os
import re

import pytest
from datasets import FORMATS, make, standard_pictures
from hangs import fails_after
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reach import branch, reaches

import tfrconv

HANG_SECONDS = 60
SKIP_EVERYTHING = {"on_error": "skip", "on_bad_box": "skip", "on_degenerate_box": "skip",
                   "on_unknown_class": "skip", "on_missing_image": "skip",
                   "on_bad_image": "skip", "on_size_mismatch": "skip",
                   "on_duplicate_id": "skip"}
HOSTILE_TOKENS = [b"", b"-1", b"0", b"1e999", b"nan", b"-inf", b"\x00", b"x\x00y", b"\x07",
                  b'"', b",", b"\n", b"\r", b"<", b">", b"&amp;", b"&x;", b"{", b"]", b"\xff\xfe",
                  b"99999999999999999999999", b"..", b"../../outside", b"/etc/passwd", b" ",
                  b"\xc3\xa9", b"\t", b"'", b"\\"]
TOKEN = re.compile(rb"[A-Za-z0-9_.\-/]+")
OUTPUT_SUFFIXES = (".record", ".manifest.json", ".label_map.pbtxt")


@st.composite
def corrupted(draw, valid: bytes) -> bytes:
    """Mostly the valid file with 1-3 tokens replaced by hostile values; sometimes any bytes,
    or the valid file cut short."""
    mode = draw(st.sampled_from(["tokens"] * 9 + ["bytes", "truncated", "spliced"]))
    if mode == "bytes":
        return draw(st.binary(max_size=400))
    if mode == "truncated":
        return valid[:draw(st.integers(0, max(len(valid) - 1, 0)))]
    if mode == "spliced":
        at = draw(st.integers(0, len(valid)))
        return valid[:at] + draw(st.binary(min_size=1, max_size=20)) + valid[at:]
    body = valid.find(b"\n") + 1 if valid.count(b"\n") > 1 else 0   # headers: other modes
    tokens = list(TOKEN.finditer(valid, body))
    if not tokens:
        return valid + draw(st.sampled_from(HOSTILE_TOKENS))
    chosen = sorted(draw(st.sets(st.integers(0, len(tokens) - 1), min_size=1, max_size=3)))
    out, last = [], 0
    for index in chosen:
        token = tokens[index]
        out += [valid[last:token.start()], draw(st.sampled_from(HOSTILE_TOKENS))]
        last = token.end()
    return b"".join(out) + valid[last:]


HOSTILE_JSON = [None, -1, 0, 0.5, 1e308, 2 ** 70, True, "", "x\x00y", "../../outside", "nan",
                [], {}, [[1, 2]], "\u202e", "a" * 300]


@st.composite
def json_corrupted(draw, valid: bytes) -> bytes:
    """COCO: the valid document with 1-3 values of its images or annotations swapped for hostile
    JSON values (still JSON, so the corruption reaches the fields), or bytes corrupted as for
    any file."""
    if draw(st.integers(0, 9)) < 2:
        return draw(corrupted(valid))
    document = json.loads(valid)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None           # a value inside images[] or annotations[]
        node = document[draw(st.sampled_from(["images", "annotations"]))]
        while isinstance(node, (dict, list)) and node and (parent is None
                                                           or draw(st.integers(0, 4)) > 0):
            keys = sorted(node) if isinstance(node, dict) else range(len(node))
            parent, key = node, draw(st.sampled_from(list(keys)))
            node = node[key]
        if parent is not None:
            parent[key] = draw(st.sampled_from(HOSTILE_JSON))
    return json.dumps(document).encode()


class Dataset:
    """One format's tiny dataset; `target(which)` is the file an example replaces and the
    options that make the conversion read the replacement."""

    counter = itertools.count()

    def __init__(self, name: str, root) -> None:
        self.name, self.root = name, str(root)
        self.layout, self.options = make(name, root, standard_pictures()[:3])
        self.files = {"annotation": self.layout.annotation_file(self.root, 0)}
        if name == "pets":
            self.files["list"] = os.path.join(self.root, "annotations", "trainval.txt")
        self.valid = {}
        for which, path in self.files.items():
            with open(path, "rb") as fileobj:
                self.valid[which] = fileobj.read()

    def put(self, which: str, data: bytes) -> tuple[str, dict]:
        """Write the example; formats that cache their parse by path get a fresh path."""
        path, options = self.files[which], dict(self.options)
        fresh = {"coco": "annotations_file", "csv": "csv_file", "oid": "annotations_csv"}
        if self.name in fresh:
            stem, extension = os.path.splitext(path)
            path = f"{stem}-{next(self.counter)}{extension}"
            options[fresh[self.name]] = path
            if self.name == "coco":        # found from the file's name otherwise
                options["image_dir"] = os.path.join(self.root, "val2017")
        with open(path, "wb") as fileobj:
            fileobj.write(data)
        return path, options

    def restore(self) -> None:
        for which, path in self.files.items():
            with open(path, "wb") as fileobj:
                fileobj.write(self.valid[which])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    return {name: Dataset(name, tmp_path_factory.mktemp(name)) for name in FORMATS}


def check_promise(dataset: Dataset, path: str, options: dict, out: str) -> None:
    layout = dataset.layout
    try:
        with fails_after(HANG_SECONDS, f"the conversion of a generated {os.path.basename(path)}"):
            summary = tfrconv.convert(layout.name, **options, **layout.output_options(out),
                                      workers=1, **SKIP_EVERYTHING)
    except tfrconv.TfrconvError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
        assert "internal error" not in message
        if path in message:
            branch("an error naming the replaced file")
        else:
            assert dataset.root in message, f"the error names no file of the dataset: {message}"
            branch("an error naming another file of the dataset")
        left = os.listdir(out) if os.path.isdir(out) else []
        assert left == [], f"a failed run left {left} in the output folder"
        return
    branch("converted" if summary.examples else "converted nothing")
    for name in os.listdir(out):
        assert not name.startswith("."), f"a hidden file {name} was left beside the records"
        assert any(name.endswith(s) or s + "-" in name for s in OUTPUT_SUFFIXES), name


@pytest.mark.parametrize("name", FORMATS)
@reaches("converted")
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_a_generated_annotation_file_keeps_the_promise(datasets, tmp_path, name, data):
    dataset = datasets[name]
    which = data.draw(st.sampled_from(sorted(dataset.files)), label="file")
    strategy = json_corrupted if name == "coco" else corrupted
    content = data.draw(strategy(dataset.valid[which]), label="content")
    path, options = dataset.put(which, content)
    out = os.path.join(str(tmp_path), f"out-{next(Dataset.counter)}")
    try:
        check_promise(dataset, path, options, out)
    finally:
        dataset.restore()
