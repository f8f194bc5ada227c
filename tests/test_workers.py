"""The worker pool: any number of workers writes the same bytes, large messages cannot
deadlock the pipes, and a worker that fails or dies stops the run cleanly."""

from __future__ import annotations

import io
import os
import threading

import pytest

import tfrconv
from tfrconv import FormatSpec, Object, Sample, hookimpl
from tfrconv.plugins import temporary_plugin


def _png(seed: int, size: int) -> bytes:
    """A PNG of random pixels: hundreds of KB that GZIP cannot shrink much."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


class BigFormat:
    """Items that are large themselves (a long note each) with large images: chunks going to
    the workers and results coming back (payloads, under GZIP) both overflow a pipe."""

    def __init__(self, count: int, fail_at: int | None = None, die_at: int | None = None):
        self.images = [_png(i, 200) for i in range(4)]
        self.count, self.fail_at, self.die_at = count, fail_at, die_at

    @hookimpl
    def register_formats(self, register):
        register(FormatSpec("big", "test", list_items=self.items, read_item=self.read,
                            default_label_map=lambda o: "pascal"))

    def items(self, opts):
        return [(i, "note " * 20_000) for i in range(self.count)]

    def read(self, item, opts):
        number, _note = item
        if number == self.fail_at:
            raise ValueError("this item is broken")
        if number == self.die_at and os.getpid() != MAIN_PID:
            os._exit(3)                                   # a worker killed mid-run
        return Sample(f"id-{number}", f"{number}.png", image_bytes=self.images[number % 4],
                      objects=[Object("cat", 1, 2, 50 + number % 7, 60)])


MAIN_PID = os.getpid()


def _convert(tmp_path, plugin, name, **options):
    with temporary_plugin(plugin, "big"):
        return tfrconv.convert("big", output=str(tmp_path / name), **options)


def _within(seconds: float, function):
    """Run `function` in a thread and fail (instead of hanging the suite) if it blocks."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (a deadlock?)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_any_number_of_workers_writes_the_same_bytes(tmp_path, compression):
    plugin = BigFormat(150)
    outputs = {}
    for workers in (1, 2, 3):
        name = f"w{workers}.record"
        summary = _within(120, lambda name=name, workers=workers: _convert(
            tmp_path, plugin, name, workers=workers, num_shards=2, compression=compression))
        assert summary.examples == 150
        outputs[workers] = [(tmp_path / os.path.basename(s["path"])).read_bytes()
                            for s in summary.outputs[0].shards]
    assert outputs[1] == outputs[2] == outputs[3]
    assert len(list(tfrconv.read_examples(str(tmp_path / "w2.record-*")))) == 150


def test_a_failing_item_stops_the_run_with_its_message(tmp_path):
    plugin = BigFormat(100, fail_at=70)
    with pytest.raises(tfrconv.DataError, match="this item is broken"):
        _within(60, lambda: _convert(tmp_path, plugin, "x.record", workers=2))
    assert os.listdir(tmp_path) == []


def test_a_worker_that_dies_stops_the_run_and_leaves_nothing(tmp_path):
    plugin = BigFormat(100, die_at=70)
    with pytest.raises(tfrconv.TfrconvError, match="worker process"):
        _within(60, lambda: _convert(tmp_path, plugin, "x.record", workers=2))
    assert os.listdir(tmp_path) == []
