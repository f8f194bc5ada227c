"""URLs for a whole dataset (`tfrconv convert ROOT`, `tfrconv.convert_dataset`) and for
`--report`, against fsspec's memory filesystem (docs/remote.md). Oracles: a local run of the same
conversion (bytes), the problems the datasets were built with, and the store's own listing."""

from __future__ import annotations

import json
import os
import tempfile
import uuid

import pytest

import tfrconv
from tests import datasets
from tfrconv.cli import main
from tfrconv.errors import DataError, UsageError
from tfrconv.shapes import generate_shapes

fsspec = pytest.importorskip("fsspec")


@pytest.fixture()
def memfs(tmp_path, monkeypatch):
    """fsspec's memory filesystem and a fresh bucket-like folder in it; temporary folders go
    under tmp_path/tmp, so a test can see that none is left behind."""
    fs = fsspec.filesystem("memory")
    bucket = f"/b{uuid.uuid4().hex[:8]}"
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    yield fs, bucket
    if fs.exists(bucket):
        fs.rm(bucket, recursive=True)


def store_files(fs, folder) -> dict[str, bytes]:
    return {path.rsplit("/", 1)[1]: fs.cat_file(path) for path in sorted(fs.find(folder))}


def local_files(folder) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def same_as_local(written: dict[str, bytes], local: dict[str, bytes],
                  spellings: dict[str, str]) -> None:
    """The store holds the local run's files: records and label maps byte for byte, manifests
    equal once the URLs are spelled as the local paths (they record the options as given)."""
    assert sorted(written) == sorted(local)
    for name, data in local.items():
        if name.endswith(".manifest.json"):
            text = written[name].decode()
            assert "tfrconv-stage" not in text and "tfrconv-copy" not in text
            for url, path in spellings.items():
                text = text.replace(url, path)
            assert json.loads(text) == json.loads(data), name
        else:
            assert written[name] == data, name


def shapes_on_store(tmp_path, fs, bucket) -> tuple[str, str]:
    """A VOC dataset with train and val image sets, locally and as a URL."""
    generate_shapes(str(tmp_path / "shapes"), num_images=8, image_size=32)
    fs.put(str(tmp_path / "shapes"), bucket + "/shapes", recursive=True)
    return str(tmp_path / "shapes"), f"memory://{bucket}/shapes"


def left_behind(tmp_path) -> list[str]:
    return sorted(os.listdir(tmp_path / "tmp"))


def test_a_whole_dataset_from_and_to_urls_is_what_a_local_run_writes(tmp_path, memfs):
    fs, bucket = memfs
    root, url = shapes_on_store(tmp_path, fs, bucket)
    tfrconv.convert_dataset(root, output=tmp_path / "local", num_shards=2)
    summary = tfrconv.convert_dataset(url, output=f"memory://{bucket}/out/", num_shards=2)
    same_as_local(store_files(fs, bucket + "/out"), local_files(tmp_path / "local"),
                  {url: root})
    assert summary.root == url and summary.output == f"memory://{bucket}/out"
    assert list(summary.splits) == ["train", "val"]
    assert all(out.path.startswith(f"memory://{bucket}/out/")
               for split in summary.splits.values() for out in split.outputs)
    assert left_behind(tmp_path) == []


def test_a_url_root_into_a_local_folder_records_the_url(tmp_path, memfs):
    fs, bucket = memfs
    root, url = shapes_on_store(tmp_path, fs, bucket)
    tfrconv.convert_dataset(root, output=tmp_path / "local")
    tfrconv.convert_dataset(url, output=tmp_path / "from_url")
    manifest = (tmp_path / "from_url" / "val.manifest.json").read_text()
    assert url in manifest and "tfrconv-copy" not in manifest
    assert manifest.replace(url, root) == (tmp_path / "local" / "val.manifest.json").read_text()
    assert (tmp_path / "from_url" / "val.record").read_bytes() == \
        (tmp_path / "local" / "val.record").read_bytes()
    assert left_behind(tmp_path) == []


def test_a_local_root_into_a_url_folder(tmp_path, memfs):
    fs, bucket = memfs
    root, _url = shapes_on_store(tmp_path, fs, bucket)
    tfrconv.convert_dataset(root, output=tmp_path / "local", splits="val")
    summary = tfrconv.convert_dataset(root, output=f"memory://{bucket}/out", splits="val")
    same_as_local(store_files(fs, bucket + "/out"), local_files(tmp_path / "local"),
                  {f"memory://{bucket}/out": str(tmp_path / "local")})
    assert summary.splits["val"].outputs[0].manifest == f"memory://{bucket}/out/val.manifest.json"


def test_a_failing_split_uploads_nothing_and_names_the_url(tmp_path, memfs):
    fs, bucket = memfs
    root, url = shapes_on_store(tmp_path, fs, bucket)
    val = (tmp_path / "shapes" / "ImageSets" / "Main" / "val.txt").read_text().split()
    fs.rm(f"{bucket}/shapes/JPEGImages/{val[0]}.jpg")
    with pytest.raises(DataError) as caught:
        tfrconv.convert_dataset(url, output=f"memory://{bucket}/out/")
    message = str(caught.value)
    assert message.startswith("split val") or "split val" in message
    assert url in message and "tfrconv-copy" not in message
    assert not fs.exists(bucket + "/out") or fs.find(bucket + "/out") == []
    assert left_behind(tmp_path) == []


def test_a_missing_root_url_is_one_line(tmp_path, memfs):
    fs, bucket = memfs
    url = f"memory://{bucket}/nothing"
    with pytest.raises(DataError) as caught:
        tfrconv.convert_dataset(url, output=tmp_path / "out")
    assert url in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists() and left_behind(tmp_path) == []


def test_the_command_line_converts_a_url_root(tmp_path, memfs, capsys, monkeypatch):
    fs, bucket = memfs
    root, url = shapes_on_store(tmp_path, fs, bucket)
    monkeypatch.chdir(tmp_path / "tmp")
    assert main(["convert", root, "--output", str(tmp_path / "local") + "/", "-q"]) == 0
    assert main(["convert", url, "--output", f"memory://{bucket}/out/"]) == 0
    err = capsys.readouterr().err
    assert f"{url} holds 2 splits" in err and "tfrconv-copy" not in err
    same_as_local(store_files(fs, bucket + "/out"), local_files(tmp_path / "local"),
                  {url: root})
    assert left_behind(tmp_path) == []          # nothing named after the scheme either


def test_the_command_line_detects_one_dataset_at_a_url(tmp_path, memfs, capsys):
    """A COCO folder whose JSON names images beside it: detection and conversion read one
    download, and the records are those of the same command on the local folder."""
    fs, bucket = memfs
    layout, options = datasets.make("coco", tmp_path / "coco", datasets.standard_pictures())
    fs.put(str(tmp_path / "coco"), bucket + "/coco", recursive=True)
    url = f"memory://{bucket}/coco"
    assert main(["convert", str(tmp_path / "coco"), "--output",
                 str(tmp_path / "local" / "x.record"), "-q"]) == 0
    assert main(["convert", url, "--output", f"memory://{bucket}/out/x.record"]) == 0
    err = capsys.readouterr().err
    assert f"{url} looks like coco" in err and "tfrconv-copy" not in err
    same_as_local(store_files(fs, bucket + "/out"), local_files(tmp_path / "local"),
                  {url: str(tmp_path / "coco"),
                   f"memory://{bucket}/out": str(tmp_path / "local")})
    assert left_behind(tmp_path) == []


def test_the_command_line_names_the_url_when_nothing_matches(tmp_path, memfs, capsys):
    fs, bucket = memfs
    fs.pipe(f"{bucket}/empty/readme.txt", b"nothing to convert")
    url = f"memory://{bucket}/empty"
    assert main(["convert", url, "--output", f"memory://{bucket}/out/x.record"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and url in err[0] and "tfrconv-copy" not in err[0]
    assert not fs.exists(bucket + "/out")


# -- --report URL -----------------------------------------------------------------------------
def report_lines(fs, path) -> list[dict]:
    return [json.loads(line) for line in fs.cat_file(path).decode().splitlines()]


def test_a_report_url_is_uploaded_with_the_outputs(tmp_path, memfs):
    fs, bucket = memfs
    pictures = datasets.with_bad_box(datasets.standard_pictures())
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    fs.put(str(tmp_path / "data"), bucket + "/data", recursive=True)
    data_url = f"memory://{bucket}/data"
    tfrconv.convert("voc", data_dir=data_url, label_map=options["label_map"],
                    output=f"memory://{bucket}/out/x.record", on_bad_box="skip", workers=1,
                    report=f"memory://{bucket}/reports/problems.jsonl")
    (problem,) = report_lines(fs, f"{bucket}/reports/problems.jsonl")
    # tests/datasets.py: picture 1's first box reaches past the right edge; the file is
    # named as the user gave it, the URL.
    assert problem["kind"] == "bad_box" and problem["action"] == "skipped"
    assert problem["file"] == f"{data_url}/Annotations/img1.xml"
    assert sorted(store_files(fs, bucket + "/out")) == ["x.label_map.pbtxt", "x.manifest.json",
                                                        "x.record"]
    manifest = json.loads(fs.cat_file(f"{bucket}/out/x.manifest.json"))
    assert "tfrconv-stage" not in json.dumps(manifest)
    assert left_behind(tmp_path) == []


def test_a_failed_run_uploads_its_report_and_nothing_else(tmp_path, memfs):
    fs, bucket = memfs
    pictures = datasets.with_missing_image(datasets.standard_pictures())
    layout, options = datasets.make("voc", tmp_path / "data", pictures)
    report = f"memory://{bucket}/out/problems.jsonl"
    with pytest.raises(DataError):
        tfrconv.convert("voc", **options, output=f"memory://{bucket}/out/x.record",
                        on_missing_image="error", workers=1, report=report)
    assert sorted(store_files(fs, bucket + "/out")) == ["problems.jsonl"]
    (problem,) = report_lines(fs, f"{bucket}/out/problems.jsonl")
    assert problem["kind"] == "missing_image" and problem["source_id"] == "img1.jpg"


def test_a_report_url_with_a_local_output(tmp_path, memfs):
    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "data",
                                    datasets.with_bad_box(datasets.standard_pictures()))
    tfrconv.convert("voc", **options, output=str(tmp_path / "out" / "x.record"),
                    on_bad_box="clip", workers=1, report=f"memory://{bucket}/r.jsonl")
    (problem,) = report_lines(fs, f"{bucket}/r.jsonl")
    assert problem["kind"] == "bad_box" and problem["action"] == "clipped"
    assert problem["file"] == str(tmp_path / "data" / "Annotations" / "img1.xml")
    assert sorted(os.listdir(tmp_path / "out")) == ["x.label_map.pbtxt", "x.manifest.json",
                                                    "x.record"]


def test_a_report_url_named_like_an_output_is_refused(tmp_path, memfs):
    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    with pytest.raises(UsageError) as caught:
        tfrconv.convert("voc", **options, output=f"memory://{bucket}/out/x.record", workers=1,
                        report=f"memory://{bucket}/out/x.manifest.json")
    assert f"memory://{bucket}/out/x.manifest.json" in str(caught.value)
    assert "tfrconv-stage" not in str(caught.value)
    assert not fs.exists(bucket + "/out")
