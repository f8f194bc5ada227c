"""The installed-wheel case: build a wheel from the repo, install it into a fresh venv, run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_environment(tmp_path):
    # Build from a copy: setuptools writes build/ and *.egg-info into the source folder, and a
    # stale egg-info in the checkout would shadow the installed metadata of later runs.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "out", "*.egg-info", "__pycache__", ".*_cache",
        ".hypothesis", "samples"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(source)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = dist.glob("tfrconv-*.whl")
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    # Dependencies come from this test environment (appended after the fresh site-packages, so
    # the wheel's tfrconv wins); the checkout itself must not be importable.
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    deps = [p for p in sys.path if p and os.path.isdir(p)
            and Path(p).resolve() not in (ROOT, ROOT / "tests")]
    (site / "_test_deps.pth").write_text("\n".join(deps) + "\n")

    def run(*args):
        result = subprocess.run(list(args), capture_output=True, text=True, cwd=tmp_path,
                                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert result.returncode == 0, result.stderr
        return result.stdout

    where = run(str(python), "-c", "import tfrconv, tfrconv_plugins; print(tfrconv.__file__); "
                "print(tfrconv_plugins.__file__)")
    assert all(line.startswith(str(env_dir)) for line in where.split())
    tfrconv_bin = str(env_dir / "bin" / "tfrconv")
    assert "tfrconv" in run(tfrconv_bin, "--version")
    assert "voc" in run(tfrconv_bin, "formats")
    maps = {row["name"] for row in json.loads(run(str(python), "-m", "tfrconv", "labelmap",
                                                   "list", "--json"))}
    assert {"pascal", "mscoco", "pets", "kitti"} <= maps
    plugins = json.loads(run(tfrconv_bin, "plugins", "--json"))
    assert plugins["failures"] == []
    assert all(p["module"].startswith("tfrconv_plugins.") for p in plugins["plugins"])
    out = tmp_path / "val.record"
    summary = json.loads(run(tfrconv_bin, "voc", "--data-dir", str(ROOT / "samples" / "VOCdevkit"),
                             "--year", "VOC2012", "--set", "val", "--output", str(out), "--json"))
    assert summary["examples"] > 0 and out.exists()
