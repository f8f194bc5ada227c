"""`tfrconv plugin new NAME`: the generated package installs, and its own tests (which run the
conformance kit) pass as generated."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tfrconv.cli import main


def _python(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, **(env or {})), timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`tfrconv plugin new boxtxt`, pip-installed into a private target folder (never into the
    shared virtualenv): the folder, with the dist-info that holds the entry point, goes on
    PYTHONPATH."""
    tmp = tmp_path_factory.mktemp("scaffold")
    made = _python("-m", "tfrconv", "plugin", "new", "boxtxt", "--dir", str(tmp / "pkg"))
    assert made.returncode == 0, made.stderr
    site = tmp / "site"
    shutil.copytree(tmp / "pkg", tmp / "to-build")   # (pip leaves build/ and egg-info there)
    pip = _python("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                  "--no-index", "--target", str(site), str(tmp / "to-build"))
    assert pip.returncode == 0, pip.stderr
    return tmp / "pkg", {"PYTHONPATH": str(site)}


def test_the_package_has_what_an_author_needs(installed):
    package, _env = installed
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert files == ["README.md", "example_data/classes.txt", "example_data/images/one.png",
                     "example_data/images/two.png", "example_data/labels/one.txt",
                     "example_data/labels/two.txt", "pyproject.toml", "tests/test_boxtxt.py",
                     "tfrconv_boxtxt.py"]
    pyproject = (package / "pyproject.toml").read_text()
    assert '[project.entry-points.tfrconv]\nboxtxt = "tfrconv_boxtxt"' in pyproject
    assert "tfrconv.testing" in (package / "tests" / "test_boxtxt.py").read_text()


@pytest.mark.slow
def test_the_generated_tests_pass_as_generated(installed):
    package, env = installed
    result = _python("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", env=env,
                     cwd=package)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


def test_the_installed_plugin_is_a_format_of_the_cli(installed, tmp_path):
    package, env = installed
    listed = _python("-m", "tfrconv", "plugins", env=env)
    assert listed.returncode == 0 and "tfrconv-boxtxt" in listed.stdout
    label_map = _python("-m", "tfrconv", "labelmap", "from-data", "boxtxt", "--data-dir",
                        str(package / "example_data"), env=env)
    assert label_map.returncode == 0, label_map.stderr
    # classes.txt says dog, cat: the format's own order, as its conversion numbers them
    assert re.findall(r'name: "(\w+)"\s+id: (\d+)', label_map.stdout) == \
        [("dog", "1"), ("cat", "2")]


def test_a_taken_folder_and_a_bad_name_are_usage_errors(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["plugin", "new", "boxtxt", "--dir", str(tmp_path / "taken")]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert main(["plugin", "new", "Box-Txt", "--dir", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "plugin name 'Box-Txt'" in error
    assert not (tmp_path / "x").exists()
