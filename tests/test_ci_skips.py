"""CI runs every test: with CI=true, tests/conftest.py reports a skip as a failure quoting the
skip's reason (a test that skips at run time, at setup, or a module skipped at collection)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SKIPPING = '''
import pytest

@pytest.mark.skipif(True, reason="no browser here")
def test_marked():
    pass

def test_inline():
    pytest.skip("needs the moon")

def test_runs():
    pass
'''
SKIPPED_MODULE = 'import pytest\npytest.importorskip("no_such_module_for_tfrconv")\n'


def run_pytest(target: Path, ci: bool) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "true"
    try:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "-rfEs", str(target)], cwd=target.parent, env=env,
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise AssertionError("hung: the inner pytest run did not end in 120 s") from None


@pytest.fixture
def skipping_suite(tmp_path):
    for helper in ("conftest.py", "reach.py"):       # the conftest loads reach as a plugin
        shutil.copy(Path(__file__).with_name(helper), tmp_path / helper)
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_skipped_module.py").write_text(SKIPPED_MODULE)
    return tmp_path


def test_skips_fail_under_ci(skipping_suite):
    done = run_pytest(skipping_suite / "test_skipping.py", ci=True)
    assert done.stdout.strip().splitlines()[-1].startswith("1 failed, 1 passed, 1 error"), \
        done.stdout
    for reason in ("no browser here", "needs the moon"):
        assert f"skipped under CI=true, where every test must run: Skipped: {reason}" in \
            done.stdout, reason


def test_a_module_skipped_at_collection_fails_under_ci(skipping_suite):
    done = run_pytest(skipping_suite / "test_skipped_module.py", ci=True)
    assert done.returncode != 0 and "skipped" not in done.stdout.strip().splitlines()[-1]
    assert "skipped under CI=true, where every test must run: Skipped: could not import " \
           "'no_such_module_for_tfrconv'" in done.stdout


def test_skips_stay_skips_elsewhere(skipping_suite):
    done = run_pytest(skipping_suite, ci=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 passed, 3 skipped"), done.stdout
