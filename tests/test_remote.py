"""URLs on the local runner (docs/remote.md), against fsspec's memory filesystem: every format
reads its dataset from URLs and writes to URLs the bytes a local run writes; publishing to a
store is all or nothing; records are read back from URLs."""

from __future__ import annotations

import json
import os
import uuid

import pytest

import tfrconv
from tests import datasets
from tfrconv.errors import DataError

fsspec = pytest.importorskip("fsspec")


@pytest.fixture()
def memfs():
    """fsspec's memory filesystem and a fresh bucket-like folder in it (removed afterwards)."""
    fs = fsspec.filesystem("memory")
    bucket = f"/b{uuid.uuid4().hex[:8]}"
    yield fs, bucket
    if fs.exists(bucket):
        fs.rm(bucket, recursive=True)


def local_files(folder) -> dict[str, bytes]:
    return {name: open(os.path.join(folder, name), "rb").read()
            for name in sorted(os.listdir(folder))}


def store_files(fs, folder) -> dict[str, bytes]:
    return {path.rsplit("/", 1)[1]: fs.cat_file(path) for path in sorted(fs.find(folder))}


def as_urls(options: dict, root, url_root: str) -> dict:
    """The options with every path inside the local dataset root spelled as a URL."""
    root = str(root)
    return {key: url_root + value[len(root):].replace(os.sep, "/")
            if isinstance(value, str) and value.startswith(root) else value
            for key, value in options.items()}


def output_options(layout, url_folder: str) -> dict:
    if layout.name == "pets":
        return {"output_dir": url_folder}
    return {"output": url_folder + "/data.record"}


@pytest.mark.parametrize("name", datasets.FORMATS)
def test_every_format_reads_and_writes_urls_byte_for_byte(tmp_path, memfs, name):
    fs, bucket = memfs
    layout, options = datasets.make(name, tmp_path / "data", datasets.standard_pictures())
    if name == "coco":      # a file URL downloads that file only: its images get their own URL
        options["image_dir"] = str(tmp_path / "data" / "val2017")
    datasets.convert(layout, options, tmp_path / "local")
    fs.put(str(tmp_path / "data"), bucket + "/data", recursive=True)
    url_options = as_urls(options, tmp_path / "data", f"memory://{bucket}/data")
    assert url_options != options
    summary = tfrconv.convert(name, **url_options,
                              **output_options(layout, f"memory://{bucket}/out"), workers=1)
    local = local_files(tmp_path / "local")
    written = store_files(fs, bucket + "/out")
    assert sorted(written) == sorted(local)
    for file_name, data in local.items():
        if file_name.endswith(".manifest.json"):
            # The manifest records the options as given: the URLs, not the local copies.
            text = written[file_name].decode()
            assert "tfrconv-stage" not in text
            text = text.replace(f"memory://{bucket}/data", str(tmp_path / "data"))
            text = text.replace(f"memory://{bucket}/out", str(tmp_path / "local"))
            assert json.loads(text) == json.loads(data)
        else:
            assert written[file_name] == data, file_name
    assert all(out.path.startswith("memory://") for out in summary.outputs)
    assert not fs.find(bucket + "/out", withdirs=False) or all(
        not p.rsplit("/", 1)[1].startswith(".") for p in fs.find(bucket + "/out"))


def test_sharded_url_output_and_stale_shards_removed(tmp_path, memfs):
    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    url = f"memory://{bucket}/out/train.record"
    tfrconv.convert("voc", **options, output=url, num_shards=3, workers=2)
    names = sorted(p.rsplit("/", 1)[1] for p in fs.find(bucket + "/out"))
    assert names == ["train.label_map.pbtxt", "train.manifest.json",
                     "train.record-00000-of-00003", "train.record-00001-of-00003",
                     "train.record-00002-of-00003"]
    datasets.convert(layout, options, tmp_path / "local", num_shards=3)
    for shard in names[2:]:
        assert fs.cat_file(f"{bucket}/out/{shard}") == \
            (tmp_path / "local" / shard.replace("train", "data")).read_bytes()
    summary = tfrconv.convert("voc", **options, output=url, workers=1)
    assert sorted(p.rsplit("/", 1)[1] for p in fs.find(bucket + "/out")) == \
        ["train.label_map.pbtxt", "train.manifest.json", "train.record"]
    assert len(summary.removed_stale_shards) == 3


def test_a_failing_run_publishes_nothing_and_keeps_the_previous_files(tmp_path, memfs):
    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "good", datasets.standard_pictures())
    url = f"memory://{bucket}/out/train.record"
    tfrconv.convert("voc", **options, output=url, workers=1)
    before = store_files(fs, bucket + "/out")
    bad_layout, bad = datasets.make("voc", tmp_path / "bad",
                                    datasets.with_missing_image(datasets.standard_pictures()))
    with pytest.raises(DataError):
        tfrconv.convert("voc", **bad, output=url, workers=1, on_missing_image="error")
    assert store_files(fs, bucket + "/out") == before


def test_an_error_names_the_url_not_the_local_copy(tmp_path, memfs):
    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "bad",
                                    datasets.with_missing_image(datasets.standard_pictures()))
    fs.put(str(tmp_path / "bad"), bucket + "/bad", recursive=True)
    url_options = as_urls(options, tmp_path / "bad", f"memory://{bucket}/bad")
    with pytest.raises(DataError) as caught:
        tfrconv.convert("voc", **url_options, output=str(tmp_path / "o.record"), workers=1,
                        on_missing_image="error")
    assert f"memory://{bucket}/bad" in str(caught.value)
    assert "tfrconv-stage" not in str(caught.value)
    assert not (tmp_path / "o.record").exists()


def test_a_missing_input_url_is_one_line_naming_it(tmp_path, memfs):
    fs, bucket = memfs
    url = f"memory://{bucket}/nothing"
    with pytest.raises(DataError) as caught:
        tfrconv.convert("voc", data_dir=url, output=str(tmp_path / "o.record"))
    assert url in str(caught.value) and "\n" not in str(caught.value)


def test_a_store_failing_while_publishing_restores_the_previous_files(tmp_path, memfs,
                                                                      monkeypatch):
    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    url = f"memory://{bucket}/out/train.record"
    tfrconv.convert("voc", **options, output=url, workers=1)
    before = store_files(fs, bucket + "/out")
    calls = []
    real_mv = type(fs).mv

    def failing_mv(self, source, target, **kwargs):
        calls.append((source, target))
        if len(calls) == 4:            # after some files were already moved into place
            raise OSError("store unavailable")
        return real_mv(self, source, target, **kwargs)

    monkeypatch.setattr(type(fs), "mv", failing_mv)
    with pytest.raises(DataError, match="nothing was published"):
        tfrconv.convert("voc", **options, output=url, workers=1, num_shards=2)
    monkeypatch.setattr(type(fs), "mv", real_mv)
    assert store_files(fs, bucket + "/out") == before    # no temporary file left either


def test_records_read_back_from_urls(tmp_path, memfs):
    from tfrconv.inspect import inspect_records
    from tfrconv.tfrecord import record_paths
    from tfrconv.verify import verify_records

    fs, bucket = memfs
    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    datasets.convert(layout, options, tmp_path / "local", num_shards=2)
    tfrconv.convert("voc", **options, output=f"memory://{bucket}/r/out.record", num_shards=2,
                    workers=1)
    local = list(tfrconv.read_examples(str(tmp_path / "local" / "data.record-*")))
    assert list(tfrconv.read_examples(f"memory://{bucket}/r/out.record-*")) == local
    assert len(record_paths(f"memory://{bucket}/r")) == 2
    stats = inspect_records(f"memory://{bucket}/r")
    assert stats == inspect_records(str(tmp_path / "local")) | {"files": stats["files"]}
    verified = verify_records(f"memory://{bucket}/r/out.record-*")
    assert verified["ok"] and verified["examples"] == len(local)
