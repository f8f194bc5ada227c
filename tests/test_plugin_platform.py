"""The plugin platform tells the truth: traced hook calls, a hook reference derived from the
spec, warned format conflicts, reported load failures, and plugin bugs blamed on the plugin."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import hook_reference
import pytest
from fake_plugins import fake_dist, one_image_format

from tfrconv import hookspecs

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_ERROR_EXIT = 3


def run_cli(*args, site: Path | None = None, env=None):
    full_env = dict(os.environ, **(env or {}))
    if site is not None:
        full_env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "tfrconv", *args], capture_output=True,
                          text=True, env=full_env)


@pytest.fixture
def image(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(path)
    return path


# -- tracing ---------------------------------------------------------------------------------
def test_trace_prints_every_hook_call_of_every_plugin(tmp_path, image):
    site = tmp_path / "site"
    fake_dist(site, "extra", one_image_format("extra", image))
    fake_dist(site, "hookfails", """
        from tfrconv import hookimpl

        @hookimpl
        def register_label_maps(register):
            raise RuntimeError("bad day")
    """)
    traced = run_cli("formats", site=site, env={"TFRCONV_TRACE_PLUGINS": "1"})
    assert traced.returncode == 0
    calls = [line for line in traced.stderr.splitlines() if "trace: calling" in line]
    # One call per hook implementation: the builtins' and both third parties'.
    assert "tfrconv: trace: calling register_formats(register) of extra" in calls
    assert "tfrconv: trace: calling register_formats(register) of voc" in calls
    assert "tfrconv: trace: calling register_commands(register) of trainer" in calls
    assert "tfrconv: trace: calling register_label_maps(register) of hookfails" in calls
    assert "tfrconv: trace: register_label_maps of hookfails raised RuntimeError: bad day" \
        in traced.stderr
    # ... and the failing one did not stop the others.
    assert "extra " in traced.stdout and "voc " in traced.stdout
    assert "trace:" not in run_cli("formats", site=site).stderr


# -- the hook reference ----------------------------------------------------------------------
def test_hook_names_are_the_hooks_pluggy_finds_in_the_spec():
    import pluggy

    manager = pluggy.PluginManager("tfrconv")
    manager.add_hookspecs(hookspecs)
    assert set(hookspecs.HOOK_NAMES) == {n for n in vars(manager.hook) if not n.startswith("_")}
    assert set(hookspecs.__all__) >= set(hookspecs.HOOK_NAMES)


def test_docs_hook_reference_is_the_spec():
    """docs/plugins.md lists each hook with the signature and docstring of hookspecs.py; on a
    difference run `python tests/hook_reference.py` to regenerate it."""
    text = (ROOT / "docs" / "plugins.md").read_text()
    documented = hook_reference.generated_part(text)
    assert documented is not None, "docs/plugins.md lost its hook reference markers"
    assert documented == hook_reference.render()
    # The oracle itself covers every hook, by name, signature and docstring.
    for name in hookspecs.HOOK_NAMES:
        function = getattr(hookspecs, name)
        assert f"### {name}(register: " in documented
        first_line = function.__doc__.strip().splitlines()[0]
        assert first_line in documented


# -- format conflicts ------------------------------------------------------------------------
def test_a_format_two_plugins_register_warns_on_every_use_naming_both(tmp_path, image):
    site = tmp_path / "site"
    fake_dist(site, "alpha", one_image_format("dup", image, help_text="alpha's dup"))
    fake_dist(site, "beta", one_image_format("dup", image, help_text="beta's dup",
                                             read_body="raise KeyError('beta was used')"))
    formats = run_cli("formats", site=site)
    assert "alpha's dup" in formats.stdout and "beta's dup" not in formats.stdout
    expected = ("tfrconv: warning: format 'dup' is registered by two plugins: alpha "
                "(distribution alpha 0.1) is used, beta (distribution beta 0.1) is ignored")
    for command in (["dup", "--output", str(tmp_path / "d.record")],
                    ["convert", "--format", "dup", "--output", str(tmp_path / "c.record")]):
        run = run_cli(*command, "--no-progress", site=site)
        assert run.returncode == 0, run.stderr
        assert run.stderr.count(expected) == 1, run.stderr
    plugins = run_cli("plugins", "--json", site=site)
    assert plugins.returncode == 0          # a conflict is a warning, not a failure
    conflicts = json.loads(plugins.stdout)["conflicts"]
    assert [(c["format"], c["used"], c["ignored"]) for c in conflicts] == [("dup", "alpha",
                                                                            "beta")]
    assert "WARNING format 'dup' is registered by two plugins" in \
        run_cli("plugins", site=site).stderr


def test_builtins_keep_their_format_names(tmp_path, image):
    site = tmp_path / "site"
    fake_dist(site, "aaavoc", one_image_format("voc", image, help_text="not the real voc"),
              entry="aaa")
    run = run_cli("voc", "--data-dir", str(tmp_path / "nowhere"), "--output",
                  str(tmp_path / "v.record"), site=site)
    assert run.returncode != 0                           # the real VOC: no such folder
    assert "format 'voc' is registered by two plugins: voc (distribution tfrconv " in run.stderr
    assert "aaa (distribution aaavoc 0.1) is ignored" in run.stderr
    assert "not the real voc" not in run_cli("formats", site=site).stdout


# -- load failures ---------------------------------------------------------------------------
def test_load_failures_fail_plugins_and_are_mentioned_by_formats_and_help(tmp_path):
    site = tmp_path / "site"
    fake_dist(site, "importfails", "raise ImportError('needs libfoo')\n")
    line = "1 plugin failed to load: importfails (see `tfrconv plugins`)"
    plugins = run_cli("plugins", site=site)
    assert plugins.returncode == 1 and "FAILED importfails (import)" in plugins.stderr
    assert run_cli("plugins", "--json", site=site).returncode == 1
    formats = run_cli("formats", site=site)
    assert formats.returncode == 0 and formats.stderr.count(line) == 1
    help_text = run_cli("--help", site=site)
    assert help_text.returncode == 0 and line in help_text.stdout.replace("\n", " ")
    healthy = [run_cli("plugins"), run_cli("formats"), run_cli("--help")]
    assert healthy[0].returncode == 0
    assert not any("failed to load: " in r.stdout + r.stderr for r in healthy)


# -- exceptions inside a plugin's code -------------------------------------------------------
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bug_in_read_item_is_blamed_on_the_plugin_and_its_item(tmp_path, image, workers):
    """Item 40 is built by a forked worker when there are two (the first item is built in the
    main process, then chunks of 32 go to the workers)."""
    site = tmp_path / "site"
    fake_dist(site, "buggy", one_image_format(
        "buggy", image, items="[f'img_{i:03}' for i in range(64)]",
        read_body="if item == 'img_040': {}['width']"))
    out = tmp_path / "b.record"
    run = run_cli("buggy", "--output", str(out), "--workers", workers, "--no-progress",
                  site=site)
    assert run.returncode == PLUGIN_ERROR_EXIT, run.stderr
    assert run.stderr.strip().splitlines() == [
        "tfrconv: plugin error in format 'buggy' (distribution buggy 0.1): KeyError: 'width' "
        "while reading item 'img_040'"]
    assert not out.exists() and list(tmp_path.glob("*.record*")) == []


def test_a_bug_in_list_items_is_blamed_on_the_plugin(tmp_path, image):
    site = tmp_path / "site"
    fake_dist(site, "badlist", one_image_format(
        "badlist", image, items="(len(name) for name in ['a', None])"))
    run = run_cli("badlist", "--output", str(tmp_path / "l.record"), site=site)
    assert run.returncode == PLUGIN_ERROR_EXIT
    assert run.stderr.strip() == (
        "tfrconv: plugin error in format 'badlist' (distribution badlist 0.1): TypeError: "
        "object of type 'NoneType' has no len() while listing items")


def test_data_errors_and_bad_files_keep_their_meaning(tmp_path, image):
    """A DataError or an OSError in read_item is an unreadable annotation, not a plugin bug."""
    site = tmp_path / "site"
    fake_dist(site, "dataerr", one_image_format(
        "dataerr", image, read_body="raise OSError('disk on fire')"))
    run = run_cli("dataerr", "--output", str(tmp_path / "e.record"), "--no-progress",
                  site=site)
    assert run.returncode == 1 and "disk on fire" in run.stderr
    assert "plugin error" not in run.stderr


def test_builtin_formats_are_blamed_on_the_tfrconv_distribution():
    from tfrconv.errors import PluginCodeError
    from tfrconv.plugins import get_registry

    voc = get_registry().format("voc")
    with pytest.raises(PluginCodeError, match=r"^plugin error in format 'voc' \(distribution "
                       r"tfrconv [^)]+\): \w+Error: .* while reading item 12345$"):
        voc.read_item(12345, voc.resolve({"data_dir": "/nowhere"}))


# -- one home per command family -------------------------------------------------------------
@pytest.mark.parametrize("plugin", ["trainer", "inspection", "records"])
def test_command_plugins_only_register(plugin):
    """plugins/trainer.py and plugins/inspection.py hold no command code: one hook that
    registers commands declared in the core."""
    tree = ast.parse((ROOT / "plugins" / f"{plugin}.py").read_text())
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ["register_commands"]
    assert not [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.Assign))]


def _failing_read_item(item, opts):
    raise KeyError("width")


def _items(opts):
    return iter(["a", "b"])


def test_a_guarded_format_pickles_and_still_blames_its_plugin():
    """Spawned workers receive a run-time format pickled: the guard must survive the trip."""
    import pickle

    from tfrconv import FormatSpec
    from tfrconv.errors import PluginCodeError
    from tfrconv.plugin_code import guard_format

    spec = FormatSpec(name="picky", help="", list_items=_items,
                      read_item=_failing_read_item)
    copy = pickle.loads(pickle.dumps(guard_format(spec, "distribution picky 1.0")))
    assert list(copy.list_items(None)) == ["a", "b"]
    with pytest.raises(PluginCodeError) as caught:
        copy.read_item("img_7", None)
    assert str(caught.value) == ("plugin error in format 'picky' (distribution picky 1.0): "
                                 "KeyError: 'width' while reading item 'img_7'")
