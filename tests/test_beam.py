"""`--runner beam`: Beam's DirectRunner, in process and in worker processes, gives the local
runner's output: the same examples in the same shards (parsed with TensorFlow, and byte for
byte), the same label map, manifest, summary and report, and the same one-line errors."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_plugins import slow_format_site
from hangs import interruptible
from odapi import parse_records

import tfrconv
from tfrconv import DataError, UsageError
from tfrconv.summary import Summary

HAVE_BEAM = importlib.util.find_spec("apache_beam") is not None
needs_beam = pytest.mark.skipif(not HAVE_BEAM, reason="apache-beam is not installed")
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "VOCdevkit"
MULTI_PROCESS = "--direct_running_mode=multi_processing --direct_num_workers=2"
MESSY_POLICIES = {"on_bad_box": "clip", "on_unknown_class": "skip",
                  "on_missing_image": "skip", "on_degenerate_box": "skip",
                  "on_duplicate_id": "skip"}


# -- data ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from tfrconv.shapes import generate_shapes

    root = tmp_path_factory.mktemp("beam-shapes") / "VOCdevkit"
    generate_shapes(str(root), num_images=12, image_size=64, seed=5, year="VOC2012")
    return root


def broken(tmp_path, shapes, *breaks) -> Path:
    """A copy of the shapes dataset with some of these problems: bad_box, unknown (two unknown
    classes), missing_image, degenerate, duplicate (a second annotation naming one image)."""
    root = tmp_path / "data" / "VOCdevkit"
    shutil.copytree(shapes, root)
    voc = root / "VOC2012"
    ids = (voc / "ImageSets" / "Main" / "train.txt").read_text().split()

    def edit(index, old, new, count=1):
        path = voc / "Annotations" / f"{ids[index]}.xml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, count))

    if "bad_box" in breaks:
        edit(1, "<xmax>", "<xmax>9")             # xmax 9NN: far outside the 64-pixel image
    if "unknown" in breaks:
        edit(2, "<name>", "<name>hexagon-")
        edit(6, "<name>", "<name>star-")
    if "missing_image" in breaks:
        (voc / "JPEGImages" / f"{ids[3]}.jpg").unlink()
    if "degenerate" in breaks:
        text = (voc / "Annotations" / f"{ids[4]}.xml").read_text()
        xmin = text.split("<xmin>")[1].split("</xmin>")[0]
        xmax = text.split("<xmax>")[1].split("</xmax>")[0]
        edit(4, f"<xmax>{xmax}</xmax>", f"<xmax>{xmin}</xmax>")
    if "duplicate" in breaks:
        shutil.copy(voc / "Annotations" / f"{ids[5]}.xml", voc / "Annotations" / "copy.xml")
        with open(voc / "ImageSets" / "Main" / "train.txt", "a") as listing:
            listing.write("copy\n")
    return root


# -- running and comparing -----------------------------------------------------------------
def beam_convert(format: str, beam_options: str | None = None, **options):
    """Like tfrconv.convert(..., runner="beam"), also returning the pipeline's Beam counters."""
    from tfrconv.pipeline import Conversion
    from tfrconv.plugins import get_registry
    from tfrconv.runners.beam import BeamConversion
    from tfrconv.settings import Settings, split_options

    spec = get_registry().format(format)
    common, own = split_options(spec, dict(options, runner="beam", beam_options=beam_options))
    run = BeamConversion(Conversion(spec, spec.resolve(own), Settings.resolve(spec, common)))
    return run.run(), run.counters


def both(tmp_path, monkeypatch, format="voc", beam_options=None, **options):
    """Convert with each runner, each in its own folder with the same relative output names."""
    summaries = {}
    for runner in ("local", "beam"):
        folder = tmp_path / runner
        folder.mkdir()
        monkeypatch.chdir(folder)
        if runner == "local":
            summaries[runner] = tfrconv.convert(format, workers=1, **options)
        else:
            summaries[runner], counters = beam_convert(format, beam_options, **options)
    monkeypatch.chdir(tmp_path)
    return summaries["local"], summaries["beam"], counters


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def assert_same(tmp_path, local, beam) -> None:
    """Every file equal (records parsed example by example first), summaries equal."""
    local_files, beam_files = files(tmp_path / "local"), files(tmp_path / "beam")
    assert sorted(beam_files) == sorted(local_files)      # no temporary names left over
    for name, data in local_files.items():
        if ".record" in name:
            expected = parse_records(str(tmp_path / "local" / name))
            got = parse_records(str(tmp_path / "beam" / name))
            assert len(got) == len(expected), name
            for want, have in zip(expected, got):
                assert want.keys() == have.keys()
                for key in want:
                    assert np.array_equal(want[key], have[key]), (name, key)
        assert beam_files[name] == data, name
    expect, got = local.as_dict(), beam.as_dict()
    expect.pop("seconds"), got.pop("seconds")
    assert got == expect


# -- equality with the local runner --------------------------------------------------------
@needs_beam
def test_sample_in_process_equals_local(tmp_path, monkeypatch):
    local, beam, counters = both(tmp_path, monkeypatch, data_dir=str(SAMPLE), year="VOC2012",
                                 set="val", output="out/val.record")
    assert_same(tmp_path, local, beam)
    assert beam.examples == 10 and beam.outputs[0].num_shards == 1
    assert counters["examples"] == counters["items"] == 10


@needs_beam
def test_sharded_with_problems_in_process_equals_local(tmp_path, monkeypatch, shapes):
    data = broken(tmp_path, shapes, "bad_box", "unknown", "missing_image", "degenerate",
                  "duplicate")
    local, beam, counters = both(tmp_path, monkeypatch, data_dir=str(data), set="train",
                                 output="out/train.record", num_shards=3,
                                 report="report.jsonl", **MESSY_POLICIES)
    assert_same(tmp_path, local, beam)          # report.jsonl included: same lines, same order
    assert set(beam.problems) == {"bad_box", "unknown_class", "missing_image",
                                  "degenerate_box", "duplicate_id"}
    assert beam.skipped_images == 2 and all(s["examples"] for s in beam.outputs[0].shards)
    # Problems are Beam counters too, and they agree with the summary.
    for kind, entry in beam.problems.items():
        assert counters[f"problems.{kind}"] == entry["count"]
    assert counters["skipped_images"] == beam.skipped_images
    assert counters["examples"] == beam.examples


@needs_beam
def test_multi_process_equals_local_on_the_sample_sharded(tmp_path, monkeypatch):
    local, beam, _ = both(tmp_path, monkeypatch, beam_options=MULTI_PROCESS,
                          data_dir=str(SAMPLE), set="train", output="out/train.record",
                          num_shards=4)
    assert_same(tmp_path, local, beam)
    assert beam.examples == 38 and len(beam.outputs[0].shards) == 4


@needs_beam
def test_multi_process_cli_with_problems_equals_local(tmp_path, monkeypatch, shapes, capsys):
    """The command of the issue, in worker processes that find VOC by its entry point."""
    from tfrconv.cli import main

    data = broken(tmp_path, shapes, "bad_box", "missing_image", "duplicate")
    common = ["voc", "--data-dir", str(data), "--set", "train", "--output", "out/t.record",
              "--num-shards", "2", "--report", "report.jsonl", "--on-bad-box", "clip",
              "--on-missing-image", "skip", "--on-duplicate-id", "skip", "--json"]
    printed = {}
    for runner, extra in (("local", ["--workers", "1"]),
                          ("beam", ["--runner", "beam", "--beam-options",
                                    f"--runner=DirectRunner {MULTI_PROCESS}"])):
        (tmp_path / runner).mkdir()
        monkeypatch.chdir(tmp_path / runner)
        assert main(common + extra) == 0
        printed[runner] = Summary(**json.loads(capsys.readouterr().out))
    assert_same(tmp_path, printed["local"], printed["beam"])
    assert printed["beam"].problems["duplicate_id"]["count"] == 1


# -- stopping: the local runner's one-line errors, nothing left behind ------------------------
def errors_of_both(tmp_path, monkeypatch, **options) -> tuple[str, str]:
    messages = []
    for runner in ("local", "beam"):
        (tmp_path / runner).mkdir()
        monkeypatch.chdir(tmp_path / runner)
        with pytest.raises(DataError) as info:
            tfrconv.convert("voc", output="out/o.record", runner=runner, workers=1,
                            **options)
        messages.append(str(info.value))
        out = tmp_path / runner / "out"
        assert not out.exists() or os.listdir(out) == []
    return messages[0], messages[1]


@needs_beam
@pytest.mark.parametrize("breaks, options, expected", [
    (("missing_image",), {}, "no such image file"),
    (("unknown",), {}, "2 classes are not in the label map"),
    (("duplicate",), {}, "(to skip instead: on_duplicate_id='skip')"),
    (("bad_box", "missing_image", "degenerate"),
     {"on_bad_box": "skip", "on_missing_image": "skip", "on_degenerate_box": "skip",
      "max_errors": 2}, "more than 2 problems were skipped"),
])
def test_error_policies_stop_with_the_local_message(tmp_path, monkeypatch, shapes, breaks,
                                                    options, expected):
    data = broken(tmp_path, shapes, *breaks)
    local, beam = errors_of_both(tmp_path, monkeypatch, data_dir=str(data), set="train",
                                 **options)
    assert expected in local
    assert beam == local


@needs_beam
def test_a_failing_write_leaves_nothing_behind(tmp_path, monkeypatch, shapes):
    import errno

    from tfrconv.tfrecord import RecordWriter

    def disk_full(self, payload):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RecordWriter, "write", disk_full)
    with pytest.raises(DataError, match="writing failed: No space left on device"):
        tfrconv.convert("voc", data_dir=str(shapes), set="train", runner="beam",
                        output=str(tmp_path / "out" / "t.record"), num_shards=2)
    assert os.listdir(tmp_path / "out") == []


@needs_beam
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_beam_run_leaves_nothing_behind(tmp_path, sig):
    """Ctrl-C or SIGTERM while the DirectRunner builds: exit 130, one line, no files."""
    import subprocess
    import time

    site = slow_format_site(tmp_path)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "tfrconv", "slow", "--output", str(out / "x.record"),
         "--num-shards", "2", "--runner", "beam"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(site)),
        preexec_fn=interruptible)
    deadline = time.monotonic() + 120        # a bound on waiting, not a timing
    while not (out.exists() and os.listdir(out)):
        if process.poll() is not None:
            raise AssertionError(f"the run ended before writing: {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("hung: the Beam run never began writing")
        time.sleep(0.1)                      # the hidden temporary folder: the run has begun
    time.sleep(3)                            # Beam is building examples by now
    process.send_signal(sig)
    try:
        _stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"hung: still running 120 s after {sig.name}") from None
    assert process.returncode == 130, stderr
    assert stderr.strip() == ("tfrconv: error: interrupted; no output was written (temporary "
                              "files removed)")
    assert os.listdir(out) == []


# -- third-party formats, several outputs, and gs://-style paths through FileSystems -----------
def toy_plugin(images_root: str, items: list[tuple[str, str]]):
    """A format registered in process: two outputs (train/val), images under `images_root`."""
    from tfrconv import FormatSpec, Object, Option, Sample, hookimpl

    def read_item(item, opts):
        name, split = item
        return Sample(source_id=name, filename=name, split=split,
                      image_path=f"{opts.images}/{name}", image_root=opts.images,
                      objects=[Object("circle", 2, 2, 20, 16)])

    class Plugin:
        @hookimpl
        def register_formats(self, register):
            register(FormatSpec(
                name="toy", help="test format", list_items=lambda opts: list(items),
                read_item=read_item, uses_output=False,
                options=(Option("images", "image folder", "str"),
                         Option("out_dir", "output folder", "str")),
                outputs=lambda opts, output: {s: f"{opts.out_dir}/{s}.record"
                                              for s in ("train", "val")}))
    return Plugin()


@needs_beam
def test_third_party_format_with_remote_paths(tmp_path, monkeypatch):
    """Images, shards, sidecars and the report on `memfs://` (a stand-in for gs://) go through
    Beam's FileSystems; the bytes equal a local run of the same format on local folders."""
    import beam_memfs

    from tfrconv.plugins import temporary_plugin
    from tfrconv.shapes import generate_shapes

    generate_shapes(str(tmp_path / "shapes"), num_images=6, image_size=48, seed=1)
    images = sorted((tmp_path / "shapes" / "JPEGImages").iterdir())
    memfs = beam_memfs.MemoryFileSystem.files
    memfs.clear()
    for image in images:
        memfs[f"memfs://bucket/images/{image.name}"] = image.read_bytes()
    items = [(image.name, "val" if i % 3 == 0 else "train") for i, image in enumerate(images)]
    items.append(("absent.jpg", "train"))                 # a missing image, skipped
    common = {"num_shards": 2, "compression": "gzip", "on_missing_image": "skip",
              "label_map": str(tmp_path / "shapes" / "label_map.pbtxt")}
    with temporary_plugin(toy_plugin("", items), "toy-plugin"):
        local = tfrconv.convert("toy", images=str(tmp_path / "shapes" / "JPEGImages"),
                                out_dir=str(tmp_path / "local"), workers=1,
                                report=str(tmp_path / "local.jsonl"), **common)
        beam, counters = beam_convert("toy", images="memfs://bucket/images",
                                      out_dir="memfs://bucket/out",
                                      report="memfs://bucket/report.jsonl", **common)
    written = sorted(p for p in memfs if p.startswith("memfs://bucket/out/"))
    assert written == sorted(f"memfs://bucket/out/{p.name}"
                             for p in (tmp_path / "local").iterdir())
    for path in written:
        local_path = tmp_path / "local" / path.rsplit("/", 1)[1]
        if path.endswith(".manifest.json"):      # the options name different folders
            want, have = json.loads(local_path.read_text()), json.loads(memfs[path])
            assert want.pop("options") != have.pop("options")
            assert have == want
        else:
            assert memfs[path] == local_path.read_bytes(), path
    local_report = (tmp_path / "local.jsonl").read_text().replace(
        str(tmp_path / "shapes" / "JPEGImages"), "memfs://bucket/images")
    assert memfs["memfs://bucket/report.jsonl"].decode() == local_report
    assert [o.examples for o in beam.outputs] == [o.examples for o in local.outputs] == [4, 2]
    assert counters["problems.missing_image"] == 1
    examples = list(tfrconv.read_examples(str(tmp_path / "local" / "train.record-*")))
    assert len(examples) == 4


# -- options and installation ----------------------------------------------------------------
def test_without_beam_the_runner_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)       # import apache_beam fails
    monkeypatch.delitem(sys.modules, "tfrconv.runners.beam", raising=False)
    with pytest.raises(UsageError, match=r"pip install 'tfrconv\[beam\]'"):
        tfrconv.convert("voc", data_dir=str(SAMPLE), set="val", runner="beam",
                        output=str(tmp_path / "o.record"))
    assert not (tmp_path / "o.record").exists()


@needs_beam
@pytest.mark.parametrize("beam_options, runner, expected", [
    ("--direct_num_wrkers=2", "beam", "unknown Beam option --direct_num_wrkers (did you mean "
                                      "--direct_num_workers?)"),
    ("--runner=NoSuchRunner", "beam", "--beam-options: Unexpected pipeline runner"),
    ("--runner='unclosed", "beam", "--beam-options: No closing quotation"),
    ("--direct_num_workers=2", "local", "--beam-options needs --runner beam"),
])
def test_bad_beam_options_are_usage_errors(tmp_path, beam_options, runner, expected):
    with pytest.raises(UsageError) as info:
        tfrconv.convert("voc", data_dir=str(SAMPLE), set="val", runner=runner,
                        beam_options=beam_options, output=str(tmp_path / "o.record"))
    assert expected in str(info.value)
    assert os.listdir(tmp_path) == []


@needs_beam
def test_output_on_a_filesystem_beam_lacks_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"no Beam filesystem for nosuch:// is installed"):
        tfrconv.convert("voc", data_dir=str(SAMPLE), set="val", runner="beam",
                        output="nosuch://bucket/o.record")


@needs_beam
def test_the_commands_in_docs_scaling_use_real_beam_options():
    """Every `--beam-options="..."` in docs/scaling.md parses against Beam's PipelineOptions
    (tfrconv rejects unknown names) and names a runner Beam knows."""
    import re

    from apache_beam.options.pipeline_options import StandardOptions

    from tfrconv.runners.beam import pipeline_options

    text = (Path(__file__).resolve().parents[1] / "docs" / "scaling.md").read_text()
    found = [value.replace("\\\n", " ") for value in
             re.findall(r'--beam-options="((?:[^"\\]|\\.)*)"', text, flags=re.S)]
    commands = [value for value in found if "--runner=" in value]
    assert len(commands) >= 6
    runners = set()
    for value in commands:
        options = pipeline_options(value)
        runners.add(options.view_as(StandardOptions).runner)
    assert runners <= set(StandardOptions.KNOWN_RUNNER_NAMES)
    assert {"DataflowRunner", "FlinkRunner", "SparkRunner", "DirectRunner"} <= runners


@needs_beam
def test_a_sample_for_an_unknown_split_stops_with_the_local_message(tmp_path):
    from tfrconv.plugins import temporary_plugin
    from tfrconv.shapes import generate_shapes

    generate_shapes(str(tmp_path / "shapes"), num_images=2, image_size=32, seed=2)
    image = next((tmp_path / "shapes" / "JPEGImages").iterdir()).name
    messages = []
    with temporary_plugin(toy_plugin("", [(image, "test")]), "toy-plugin"):
        for runner in ("local", "beam"):
            with pytest.raises(UsageError) as info:
                tfrconv.convert("toy", images=str(tmp_path / "shapes" / "JPEGImages"),
                                out_dir=str(tmp_path / runner), runner=runner,
                                label_map=str(tmp_path / "shapes" / "label_map.pbtxt"))
            messages.append(str(info.value))
            assert os.listdir(tmp_path / runner) == []
    assert "produced a sample for split 'test'" in messages[0]
    assert messages[1] == messages[0]
