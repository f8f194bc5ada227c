"""Shared fixtures: small datasets made on the fly, never downloaded."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # tests/odapi.py and friends
pytest_plugins = ["reach"]       # every @given test carries @reaches (tests/reach.py)


@pytest.fixture(scope="session")
def shapes_voc(tmp_path_factory):
    """A 12-image VOC-layout shapes dataset (VOCdevkit/VOC2012), read-only for tests."""
    from tfrconv.shapes import generate_shapes

    root = tmp_path_factory.mktemp("shapes") / "VOCdevkit"
    generate_shapes(str(root), num_images=12, image_size=64, seed=3, year="VOC2012")
    return root


@pytest.fixture
def voc_copy(tmp_path, shapes_voc):
    """A private, writable copy of the shapes dataset (tests that break files use this)."""
    import shutil

    target = tmp_path / "VOCdevkit"
    shutil.copytree(shapes_voc, target)
    return target


# -- no silent skips in CI ---------------------------------------------------------------------
# CI must prove every test ran: with CI=true a skip (a missing dependency, importorskip, skipif)
# is reported as a failure that quotes the skip's reason, so a dependency CI forgot to install
# shows up as red instead of as a `-ra` line nobody reads.
SKIPS_FAIL = os.environ.get("CI") == "true"


def _fail_if_skipped(report) -> None:
    if not (SKIPS_FAIL and report.skipped) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_if_skipped(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield                       # a module-level importorskip skips at collection
    _fail_if_skipped(outcome.get_result())
