"""Shared fixtures: small datasets made on the fly, never downloaded."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # tests/odapi.py and friends


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
