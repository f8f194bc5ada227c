"""Plugins load when what they register is looked up: a format command imports its own builtin
(plus the label maps' and the transforms'), and a partly loaded registry answers as a full one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_plugins import fake_dist, one_image_format

from tfrconv import plugins
from tfrconv.plugins import BUILTIN_FORMATS, BUILTIN_PROVIDERS, OWN_DIST, Registry

LOADED_PLUGIN_MODULES = """
import json, sys
from tfrconv.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:          # --help
    code = exc.code
loaded = sorted(m for m in sys.modules if m.startswith("tfrconv_plugins."))
print("LOADED " + json.dumps({"code": code, "loaded": loaded}))
"""


def full_registry() -> Registry:
    registry = Registry()
    registry.load_entry_points()
    return registry


def test_the_builtin_table_is_what_the_builtins_register():
    registry = full_registry()
    builtins = {name: info for name, info in registry.plugins.items() if info.dist == OWN_DIST}
    assert registry.failures == []
    assert {name for name, info in builtins.items() if info.formats} == BUILTIN_FORMATS
    for name in BUILTIN_FORMATS:
        assert builtins[name].formats == [name]          # named after its format
    for kind in ("label_maps", "transforms"):
        assert {name for name, info in builtins.items() if getattr(info, kind)} == \
            {BUILTIN_PROVIDERS[kind]}


def loaded_by(*args: str, site: Path | None = None) -> dict:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    done = subprocess.run([sys.executable, "-c", LOADED_PLUGIN_MODULES, *args],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.rsplit("LOADED ", 1)[1])


def test_a_format_command_imports_only_the_plugins_it_uses(tmp_path):
    from tests import datasets

    layout, options = datasets.make("voc", tmp_path / "data", datasets.standard_pictures())
    args = datasets.command_line(layout, options, tmp_path / "out")
    run = loaded_by(*args, "--workers", "1", "--quiet")
    assert run["code"] == 0
    assert run["loaded"] == ["tfrconv_plugins.transforms", "tfrconv_plugins.voc"]  # a map file
    run = loaded_by(*args, "--workers", "1", "--quiet", "--label-map", "pascal")
    assert run["code"] == 0
    assert run["loaded"] == ["tfrconv_plugins.builtin_label_maps", "tfrconv_plugins.transforms",
                             "tfrconv_plugins.voc"]
    assert loaded_by("kitti", "--help")["loaded"] == ["tfrconv_plugins.kitti",
                                                      "tfrconv_plugins.transforms"]


@pytest.mark.parametrize("first", ["voc", "transforms", "label_maps", "dup"])
def test_a_partly_loaded_registry_answers_as_a_full_one(tmp_path, monkeypatch, first):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(image)
    site = tmp_path / "site"
    # Third parties: one takes the builtin voc's name and ranks before it by name, two share a
    # format, one fails to import.
    fake_dist(site, "aaavoc", one_image_format("voc", image, help_text="not the real voc"),
              entry="aaa")
    fake_dist(site, "alpha", one_image_format("dup", image, help_text="alpha's dup"))
    fake_dist(site, "beta", one_image_format("dup", image, help_text="beta's dup"))
    fake_dist(site, "importfails", "raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(site))
    full = full_registry()
    lazy = Registry()
    lazy.find_entry_points()
    if first in ("transforms", "label_maps"):
        getattr(lazy, first)
    else:
        assert lazy.format(first).help == full.format(first).help
        assert [c.as_dict() for c in lazy.conflicts_for(first)] == \
            [c.as_dict() for c in full.conflicts_for(first)]
    assert lazy.format("voc").help != "not the real voc"
    assert lazy.format_owner("dup") == "alpha"
    assert [p.as_dict() for p in lazy.plugins.values()] == \
        [p.as_dict() for p in full.plugins.values()]
    assert [f.as_dict() for f in lazy.failures] == [f.as_dict() for f in full.failures]
    assert [c.as_dict() for c in lazy.conflicts] == [c.as_dict() for c in full.conflicts]
    assert list(lazy.formats) == list(full.formats)
    assert list(lazy.label_maps) == list(full.label_maps)
    assert list(lazy.transforms) == list(full.transforms)
    assert list(lazy.commands) == list(full.commands)


def test_an_unknown_format_loads_everything_to_say_so():
    registry = Registry()
    registry.find_entry_points()
    assert not registry.has_format("no-such-format")
    assert "voc" in registry.formats and "inspect" in registry.commands
    assert plugins.RESERVED_NAMES.isdisjoint(registry.formats)
