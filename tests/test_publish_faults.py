"""Publishing is all or nothing: when any final path is blocked, a rename fails, a signal comes
during the renames, or the disk fills while the sidecars or the report are finished, no file of
the run is left under its final name, every previous file is back as it was, and no hidden
temporary file stays. Shards of an earlier run with another --num-shards are removed, and said so.
"""

from __future__ import annotations

import errno
import os
import signal
import threading

import pytest

import tfrconv
from tests import datasets
from tfrconv import publish
from tfrconv.errors import Interrupted


@pytest.fixture
def voc(tmp_path):
    return datasets.make("voc", tmp_path / "data", datasets.standard_pictures())


def hidden(folder) -> list[str]:
    return [name for name in os.listdir(folder) if name.startswith(".")]


def convert(layout, options, out, **extra):
    return datasets.convert(layout, options, out, **extra)


# -- a final path that is blocked: checked before the first rename ---------------------------
@pytest.mark.parametrize("blocked", ["data.manifest.json", "data.label_map.pbtxt",
                                     "data.record-00001-of-00002"])
def test_a_blocked_final_path_publishes_nothing(blocked, voc, tmp_path):
    layout, options = voc
    out = tmp_path / "out"
    (out / blocked).mkdir(parents=True)
    with pytest.raises(tfrconv.DataError, match="folder is in the way") as caught:
        convert(layout, options, out, num_shards=2)
    assert str(out / blocked) in str(caught.value)
    assert sorted(os.listdir(out)) == [blocked]


def test_kitti_val_blocked_leaves_no_train_output(tmp_path):
    layout, options = datasets.make("kitti", tmp_path / "data", datasets.standard_pictures())
    out = tmp_path / "out"
    (out / "data_val.record").mkdir(parents=True)
    with pytest.raises(tfrconv.DataError, match="data_val.record"):
        convert(layout, options, out)
    assert sorted(os.listdir(out)) == ["data_val.record"]


# -- a rename that fails midway, and a signal during the renames: roll back ------------------
def failing_on_call(monkeypatch, number: int, action):
    """os.replace as it is, except that its `number`-th call inside publishing runs `action`."""
    real = os.replace
    calls = []

    def replace(src, dst, *args, **kwargs):
        calls.append(dst)
        if len(calls) == number:
            action(src, dst)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(publish.os, "replace", replace)
    return calls


def raise_eio(src, dst):
    raise OSError(errno.EIO, "Input/output error", dst)


@pytest.mark.parametrize("number", [1, 3, 5])
def test_a_failed_rename_restores_the_previous_output(number, voc, tmp_path, monkeypatch):
    layout, options = voc
    out = tmp_path / "out"
    convert(layout, options, out, num_shards=3)
    before = datasets.snapshot(out)
    failing_on_call(monkeypatch, number, raise_eio)
    with pytest.raises(tfrconv.DataError, match="previous files were restored"):
        convert(layout, options, out, num_shards=3, box_tolerance=0.5)  # other manifest
    assert datasets.snapshot(out) == before


@pytest.mark.parametrize("other_thread", [False, True])
def test_sigterm_during_the_renames_publishes_nothing(voc, tmp_path, monkeypatch, other_thread):
    """With another thread alive (TensorFlow, Beam and pools start them), the kernel may hand
    the process's SIGTERM to that thread: the renames must still finish and be undone."""
    layout, options = voc
    out = tmp_path / "out"
    convert(layout, options, out, num_shards=2)
    before = datasets.snapshot(out)
    calls = failing_on_call(monkeypatch, 2,
                            lambda src, dst: os.kill(os.getpid(), signal.SIGTERM))
    stop = threading.Event()
    idle = threading.Thread(target=stop.wait, daemon=True)
    if other_thread:
        idle.start()
    try:
        with pytest.raises(Interrupted):
            convert(layout, options, out, num_shards=2, box_tolerance=0.5)
    finally:
        stop.set()
    assert len(calls) == 4                      # every rename ran, then all were undone
    assert datasets.snapshot(out) == before


def test_a_fresh_output_is_removed_again_on_failure(voc, tmp_path, monkeypatch):
    layout, options = voc
    out = tmp_path / "out"
    failing_on_call(monkeypatch, 4, raise_eio)
    with pytest.raises(tfrconv.DataError):
        convert(layout, options, out, num_shards=3)
    assert os.listdir(out) == []


# -- a full disk while the sidecars or the report are finished --------------------------------
class FullDisk:
    """A real file whose writes fail with ENOSPC (the file itself is created, as on a disk)."""

    def __init__(self, path, *args, **kwargs):
        self.file = open(path, *args, **kwargs)  # noqa: SIM115

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_a_full_disk_while_writing_the_manifest_is_one_line_naming_it(voc, tmp_path,
                                                                       monkeypatch):
    layout, options = voc
    out = tmp_path / "out"
    monkeypatch.setattr(publish, "open", FullDisk, raising=False)   # write_temp's open
    with pytest.raises(tfrconv.DataError, match="No space left on device") as caught:
        convert(layout, options, out)
    assert str(out / "data.label_map.pbtxt") in str(caught.value)
    assert "\n" not in str(caught.value)
    assert os.listdir(out) == []


class ReportOnFullDisk(FullDisk):
    """Lines are buffered; the disk fills when the report is flushed and closed."""

    def write(self, data):
        return len(data)

    def close(self):
        self.file.close()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_report_on_a_full_disk_publishes_no_records(voc, tmp_path, monkeypatch):
    layout, options = voc
    out = tmp_path / "out"
    report = tmp_path / "problems.jsonl"
    monkeypatch.setattr(tfrconv.problems, "open", ReportOnFullDisk, raising=False)
    with pytest.raises(tfrconv.DataError, match="cannot write the report") as caught:
        convert(layout, options, out, report=str(report))
    assert str(report) in str(caught.value)
    assert os.listdir(out) == []


# -- --report naming an output file -----------------------------------------------------------
@pytest.mark.parametrize("name", ["data.record", "data.manifest.json", "data.label_map.pbtxt"])
def test_a_report_path_that_is_an_output_is_a_usage_error(name, voc, tmp_path):
    layout, options = voc
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(tfrconv.UsageError, match="also an output"):
        convert(layout, options, out, report=str(out / name))
    assert os.listdir(out) == []


# -- shards of an earlier run with another --num-shards ----------------------------------------
def test_stale_shards_are_removed_and_said(voc, tmp_path):
    layout, options = voc
    out = tmp_path / "out"
    convert(layout, options, out, num_shards=3)
    (out / "data.record-notes.txt").write_text("mine")
    (out / "other.record-00000-of-00003").write_text("another output's")
    summary = convert(layout, options, out, num_shards=2)
    assert sorted(summary.removed_stale_shards) == sorted(
        str(out / f"data.record-{i:05d}-of-00003") for i in range(3))
    assert "removed 3 shards of an earlier run" in summary.line()
    assert sorted(os.listdir(out)) == sorted(
        ["data.record-00000-of-00002", "data.record-00001-of-00002", "data.manifest.json",
         "data.label_map.pbtxt", "data.record-notes.txt", "other.record-00000-of-00003"])
    summary = convert(layout, options, out, num_shards=1)
    assert len(summary.removed_stale_shards) == 2
    assert not [n for n in os.listdir(out) if n.startswith("data.record-0")]


def test_a_failed_run_removes_no_stale_shard(voc, tmp_path):
    layout, options = voc
    out = tmp_path / "out"
    convert(layout, options, out, num_shards=3)
    (out / "data.manifest.json").unlink()
    (out / "data.manifest.json").mkdir()
    with pytest.raises(tfrconv.DataError):
        convert(layout, options, out, num_shards=2)
    assert len([n for n in os.listdir(out) if n.endswith("-of-00003")]) == 3
    assert hidden(out) == []
