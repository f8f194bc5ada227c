"""The worker pool: any number of workers writes the same bytes, forked or spawned; large
messages cannot deadlock the pipes; a worker that fails or dies stops the run cleanly; workers
stopped right after they start leave no traceback."""

from __future__ import annotations

import io
import os
import sys
import threading
import time

import pytest
from fake_plugins import fake_dist

import tfrconv
from tfrconv import FormatSpec, Sample, workers
from tfrconv.build import Builder
from tfrconv.errors import DataError, TfrconvError, UsageError
from tfrconv.plugins import reset_registry
from tfrconv.settings import Settings
from tfrconv.worker_process import PositionalWriter

# Installed as a distribution with entry points, the way a third-party format is: a spawned
# worker finds it by name in its own registry.
FORMATS = """
import os
from tfrconv import DataError, FormatSpec, Object, Option, Sample, hookimpl

OPTIONS = (Option("images", "folder of 0.png..3.png", "path"),
           Option("count", "items", "int", default=150),
           Option("fail_at", "item whose annotation is broken", "int"),
           Option("die_at", "item that kills its worker process", "int"))

@hookimpl
def register_formats(register):
    register(FormatSpec("big", "large items and images", list_items=big_items,
                        read_item=read_big, options=OPTIONS, default_label_map=pascal))
    register(FormatSpec("stops-early", "listing fails after one item", list_items=stop_early,
                        read_item=read_big, options=OPTIONS, default_label_map=pascal))

def pascal(opts):
    return "pascal"

def big_items(opts):
    # Items large themselves (a long note each): with large images, chunks going to the workers
    # and results coming back (payloads, under GZIP) both overflow a pipe. Each item carries
    # the pid of the process that listed it, so a worker knows it is not that process.
    return [(number, "note " * 20_000, os.getpid()) for number in range(opts.count)]

def stop_early(opts):
    yield from big_items(opts)[:1]
    raise DataError("the list ends badly", file="list.txt")

def read_big(item, opts):
    number, _note, lister = item
    if number == opts.fail_at:
        raise ValueError("this item is broken")
    if number == opts.die_at and os.getpid() != lister:
        os._exit(3)                                       # a worker killed mid-run
    return Sample(f"id-{number}", f"{number}.png",
                  image_path=os.path.join(opts.images, f"{number % 4}.png"),
                  objects=[Object("cat", 1, 2, 50 + number % 7, 60)])
"""

START_METHODS = ["fork", "spawn"] if hasattr(os, "fork") else ["spawn"]


def _png(seed: int, size: int) -> bytes:
    """A PNG of random pixels: a hundred KB that GZIP cannot shrink much."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The test formats installed on sys.path (inherited by spawned workers), and their images."""
    root = tmp_path_factory.mktemp("workers")
    site = root / "site"
    fake_dist(site, "bigfmt", FORMATS, entry="big")
    for number in range(4):
        (root / f"{number}.png").write_bytes(_png(number, 200))
    sys.path.insert(0, str(site))
    reset_registry()
    yield str(root)
    sys.path.remove(str(site))
    reset_registry()


@pytest.fixture(params=START_METHODS)
def start(request, monkeypatch):
    monkeypatch.setenv(workers.START_ENV, request.param)
    return request.param


def _convert(images, output, fmt="big", **options):
    return tfrconv.convert(fmt, output=str(output), images=images, **options)


def _finishes(seconds: float, what: str, function):
    """`function()`, run in a thread: raises AssertionError("hung: ...") instead of hanging the
    suite when it is still running after `seconds`."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(f"hung: {what} still running after {seconds} s (a deadlock?)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- the same bytes, whatever the number of workers and however they start ---------------------
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_any_number_of_workers_writes_the_same_bytes(tmp_path, images, start, compression):
    outputs = {}
    for count in (1, 2, 3):
        output = tmp_path / f"w{count}" / "x.record"
        summary = _finishes(180, f"{count} workers", lambda output=output, count=count: _convert(
            images, output, workers=count, num_shards=2, compression=compression))
        assert summary.examples == 150
        outputs[count] = [(output.parent / f"x.record-0000{i}-of-00002").read_bytes()
                          for i in (0, 1)]
        assert sorted(os.listdir(output.parent)) == [
            "x.label_map.pbtxt", "x.manifest.json",
            "x.record-00000-of-00002", "x.record-00001-of-00002"]       # no temporary left
    assert outputs[1] == outputs[2] == outputs[3]
    ids = [f["image/source_id"][0] for f in tfrconv.read_examples(str(tmp_path / "w3/x.record-*"))]
    assert sorted(ids) == sorted(f"id-{n}".encode() for n in range(150))


def test_a_failing_item_stops_the_run_with_its_message(tmp_path, images, start):
    with pytest.raises(DataError, match="this item is broken"):
        _finishes(120, "a failing run", lambda: _convert(images, tmp_path / "x.record",
                                                          workers=2, count=100, fail_at=70))
    assert os.listdir(tmp_path) == []


def test_a_worker_that_dies_stops_the_run_and_leaves_nothing(tmp_path, images, start):
    with pytest.raises(TfrconvError, match="a worker process died"):
        _finishes(120, "a run whose worker dies", lambda: _convert(
            images, tmp_path / "x.record", workers=2, count=100, die_at=70))
    assert os.listdir(tmp_path) == []


# -- stopped right after the start: no traceback from a worker (issue 17, item 3) ---------------
_slow_after_fork = {"on": False}


def _linger_after_fork() -> None:
    # Widens the race on purpose: a forked worker still in fork's own after-fork code when the
    # parent, stopped by an error, sends it SIGTERM.
    if _slow_after_fork["on"]:
        time.sleep(0.2)


@pytest.fixture
def slow_after_fork():
    if not getattr(os, "register_at_fork", None):
        yield
        return
    if not _slow_after_fork.get("registered"):
        os.register_at_fork(after_in_child=_linger_after_fork)
        _slow_after_fork["registered"] = True
    _slow_after_fork["on"] = True
    yield
    _slow_after_fork["on"] = False


def test_workers_stopped_as_they_start_print_nothing(tmp_path, images, start, slow_after_fork,
                                                     capfd, monkeypatch):
    """The listing fails just after the workers start, so the parent terminates them at once
    (SIGTERM, whose handler in the parent raises KeyboardInterrupt): many short runs, in this
    process (its handlers are the ones a fork inherits), and nothing on stderr but the error."""
    # Python's own report of an exception it cannot raise, not pytest's (which keeps it).
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    runs = 8 if start == "fork" else 2              # a spawn costs a new interpreter
    for run in range(runs):
        with pytest.raises(DataError, match="the list ends badly"):
            _convert(images, tmp_path / f"{run}.record", "stops-early", workers=4)

    stderr = capfd.readouterr().err
    assert "Exception ignored" not in stderr and "Traceback" not in stderr, stderr
    assert os.listdir(tmp_path) == []


# -- how workers start ----------------------------------------------------------------------
@pytest.mark.parametrize(("platform", "chosen", "expected"), [
    ("linux", None, "fork" if sys.version_info < (3, 14) else "spawn"),
    ("linux", "fork", "fork"),
    ("linux", "forkserver", "spawn"),
    ("linux", "spawn", "spawn"),
    ("darwin", None, "spawn"),
    ("darwin", "fork", "spawn"),
    ("win32", None, "spawn"),
])
def test_fork_only_where_it_is_the_safe_default(monkeypatch, platform, chosen, expected):
    class Multiprocessing:                      # a program that imported it, and chose or not
        @staticmethod
        def get_start_method(allow_none=False):
            return chosen

    monkeypatch.delenv(workers.START_ENV, raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setitem(sys.modules, "multiprocessing", Multiprocessing)
    assert workers.start_method() == expected


@pytest.mark.parametrize(("value", "expected"), [("spawn", "spawn"), (" Fork ", "fork"),
                                                 ("", None)])
def test_the_environment_forces_the_start_method(monkeypatch, value, expected):
    monkeypatch.setenv(workers.START_ENV, value)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert workers.start_method() == (expected or "spawn")


def test_an_unknown_start_method_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv(workers.START_ENV, "thread")
    with pytest.raises(UsageError, match="TFRCONV_WORKER_START='thread': use fork or spawn"):
        workers.start_method()


# -- a format registered at run time, spawned -------------------------------------------------
def echo_items(opts):
    return [0, 1]


def echo_read(item, opts):
    return Sample(f"id-{item}", "x.png", image_bytes=_png(item, 8))


def _builder(spec: FormatSpec) -> Builder:
    settings = Settings.resolve(spec, {"output": "unused", "workers": 2})
    return Builder(spec, spec.resolve({}), tfrconv.load_label_map("pascal"), settings)


def test_a_spawned_worker_gets_an_unregistered_format_from_the_parent():
    """No entry point names this format: the spawned worker uses the parent's, pickled."""
    builder = _builder(FormatSpec("by-value", "test", list_items=echo_items, read_item=echo_read))
    with workers.WorkerPool(builder, 2, send_payloads=True, start="spawn") as pool:
        results = [result for chunk in pool.chunks(range(40)) for result in chunk]
        pool.finish()
    expected = [builder.build(item) for item in range(40)]     # the same Builder, in process
    assert [(r.source_id, r.payload, r.problems) for r in results] == \
           [(r.source_id, r.payload, r.problems) for r in expected]


def test_a_format_that_cannot_reach_a_spawned_worker_says_so():
    builder = _builder(FormatSpec("lambda-only", "test", list_items=echo_items,
                                  read_item=lambda item, opts: echo_read(item, opts)))
    pool = workers.WorkerPool(builder, 1, send_payloads=True, start="spawn")
    with pytest.raises(UsageError, match="'lambda-only' cannot run in spawned worker processes"), \
            pool:
        list(pool.chunks(range(3)))


# -- records written at their offsets, with or without pwritev ----------------------------------
@pytest.mark.parametrize(("vectored", "positional"), [(True, True), (False, True), (False, False)])
def test_records_land_at_their_offsets_however_written(tmp_path, vectored, positional):
    if (vectored and not hasattr(os, "pwritev")) or (positional and not hasattr(os, "pwrite")):
        pytest.skip("not on this platform")
    path = tmp_path / "shard"
    path.write_bytes(bytes(20))
    writer = PositionalWriter(vectored=vectored, positional=positional)
    writer.write((str(path), 12), [b"ab\n", b"cd\r\n"])      # out of order, and binary-safe
    writer.write((str(path), 2), [b"xyz"])
    writer.close()
    assert path.read_bytes() == bytes(2) + b"xyz" + bytes(7) + b"ab\ncd\r\n" + bytes(1)


def test_a_failed_write_names_the_file(tmp_path):
    writer = PositionalWriter()
    with pytest.raises(DataError, match="writing failed") as caught:
        writer.write((str(tmp_path / "missing"), 0), [b"x"])
    assert caught.value.file == str(tmp_path / "missing")

