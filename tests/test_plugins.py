"""Plugins: builtins through entry points, isolation of broken plugins, generated CLI, docs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fake_plugins import fake_dist
from odapi import parse_records

import tfrconv
from tfrconv import FormatSpec, Object, Option, Sample, hookimpl
from tfrconv.plugins import temporary_plugin

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None, cwd=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "tfrconv", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd)


def test_builtins_load_through_entry_points():
    result = run_cli("plugins", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["voc"]["dist"] == "tfrconv" and by_name["voc"]["builtin"]
    assert by_name["voc"]["formats"] == ["voc"]
    assert by_name["voc"]["hooks"] == ["register_formats"]
    assert set(by_name["label_maps"]["label_maps"]) >= {"pascal", "mscoco", "pets", "kitti"}
    assert report["failures"] == []


def test_load_plugins_environment_variable():
    only_maps = run_cli("plugins", "--json", env={"TFRCONV_LOAD_PLUGINS": "label_maps"})
    names = [p["name"] for p in json.loads(only_maps.stdout)["plugins"]]
    assert names == ["label_maps"]
    none = run_cli("formats", env={"TFRCONV_LOAD_PLUGINS": ""})
    assert none.returncode == 0 and "no formats registered" in none.stdout


def test_a_broken_plugin_is_reported_and_the_cli_keeps_working(tmp_path):
    site = tmp_path / "site"
    fake_dist(site, "importfails", "raise ImportError('needs libfoo')\n")
    fake_dist(site, "hookfails", """
        from tfrconv import hookimpl

        @hookimpl
        def register_formats(register):
            raise RuntimeError("bad day")
    """)
    fake_dist(site, "clashes", """
        from tfrconv import FormatSpec, hookimpl

        @hookimpl
        def register_formats(register):
            register(FormatSpec("voc", "not the real voc", list_items=list,
                                read_item=lambda i, o: None))
    """)
    env = {"PYTHONPATH": str(site)}
    report = json.loads(run_cli("plugins", "--json", env=env).stdout)
    failures = {f["name"]: f for f in report["failures"]}
    assert failures["importfails"]["stage"] == "import"
    assert "needs libfoo" in failures["importfails"]["error"]
    assert failures["hookfails"]["stage"] == "register_formats"
    assert "bad day" in failures["hookfails"]["error"]
    assert "clashes" not in failures         # a format name taken twice is a warning
    assert [c["ignored"] for c in report["conflicts"] if c["format"] == "voc"] == ["clashes"]
    formats = run_cli("formats", env=env)
    assert formats.returncode == 0 and "Pascal VOC" in formats.stdout
    assert "not the real voc" not in formats.stdout


class CountingFormat:
    """A throwaway in-process format plugin: N negative images of a given colour."""

    def __init__(self, image_path: str):
        self.image_path = image_path

    @hookimpl
    def register_formats(self, register):
        register(FormatSpec(
            "squares", "test format",
            options=(Option("count", "how many images", "int", default=3),
                     Option("label", "class of the one box", "str", default="cat")),
            list_items=lambda opts: list(range(opts.count)),
            read_item=lambda item, opts: Sample(
                f"img-{item}", "a.png", image_path=self.image_path,
                objects=[Object(opts.label, 1, 1, 5, 5)]),
        ))


def test_in_process_plugin_converts_and_gets_a_cli(tmp_path):
    from PIL import Image

    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(image)
    with temporary_plugin(CountingFormat(str(image)), "counting"):
        summary = tfrconv.convert("squares", count=4, output=str(tmp_path / "s.record"),
                                  label_map=str(_label_map(tmp_path)))
        assert summary.examples == 4
        from tfrconv.cli import build_parser

        argv = ["squares", "--count", "2", "--output", "x.record"]
        args = build_parser(argv).parse_args(argv)
        assert args.fmt__count == "2" and args.common__output == "x.record"
        with pytest.raises(tfrconv.UsageError, match="has no option colour"):
            tfrconv.convert("squares", colour="red", output="x")
    with pytest.raises(tfrconv.UsageError, match="unknown format 'squares'"):
        tfrconv.convert("squares", output="x")
    assert len(parse_records(str(tmp_path / "s.record"))) == 4


def _label_map(folder: Path) -> Path:
    path = folder / "lm.pbtxt"
    path.write_text("item { id: 1 name: 'cat' }\n")
    return path


def _docs_files() -> dict[str, str]:
    """The files of the minimal plugin in docs/plugins.md: `name`: followed by a code block."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"`([\w.]+)`:\n\n```\w+\n(.*?)```", text, re.S)
    return dict(blocks)


@pytest.mark.slow
def test_the_documented_plugin_installs_through_a_real_entry_point(tmp_path):
    """Install docs/plugins.md's plugin with pip and convert a boxes set through the CLI."""
    from PIL import Image

    files = _docs_files()
    assert set(files) == {"pyproject.toml", "tfrconv_boxes.py"}
    package = tmp_path / "tfrconv-boxes"
    package.mkdir()
    for name, content in files.items():
        (package / name).write_text(content)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site), str(package)],
                   check=True, capture_output=True)
    data = tmp_path / "boxes"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    (data / "classes.txt").write_text("cat\ndog\n")
    Image.new("RGB", (40, 20)).save(data / "images" / "a.jpg")
    Image.new("RGB", (40, 20)).save(data / "images" / "b.jpg")
    (data / "labels" / "a.txt").write_text("dog 10 5 30 15\ncat 8 4 12 6\n")
    env = {"PYTHONPATH": str(site)}
    help_text = run_cli("boxes", "--help", env=env)
    assert help_text.returncode == 0 and "--data-dir DIR" in help_text.stdout
    assert "--num-shards" in help_text.stdout and "--on-bad-box" in help_text.stdout
    out = tmp_path / "y.record"
    result = run_cli("boxes", "--data-dir", str(data), "--output", str(out), env=env)
    assert result.returncode == 0, result.stderr
    first, second = parse_records(str(out))
    assert first["image/object/class/text"].tolist() == [b"dog", b"cat"]
    assert first["image/object/class/label"].tolist() == [2, 1]
    assert first["image/object/bbox/xmin"][0] == pytest.approx(0.25)
    assert second["image/object/class/label"].size == 0
    plugins = json.loads(run_cli("plugins", "--json", env=env).stdout)
    boxes = next(p for p in plugins["plugins"] if p["name"] == "boxes")
    assert boxes["dist"] == "tfrconv-boxes" and not boxes["builtin"]
    (data / "labels" / "b.txt").write_text("cat 1 1 5 5\ncat left 1 5 5\n")
    bad = run_cli("boxes", "--data-dir", str(data), "--output", str(out), env=env)
    assert bad.returncode == 1
    assert "b.txt:2: expected 'label xmin ymin xmax ymax'" in bad.stderr
    skipped = run_cli("boxes", "--data-dir", str(data), "--output", str(out), "--on-error",
                      "skip", "--json", env=env)
    summary = json.loads(skipped.stdout)
    assert (summary["examples"], summary["objects"], summary["skipped_objects"]) == (2, 3, 1)
