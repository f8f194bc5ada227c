"""VOC joins an item's paths with a shortcut of os.path.join: the same strings for every kind of
folder and name (absolute, empty, trailing or doubled slashes, dots, spaces)."""

from __future__ import annotations

import os

import pytest
from tfrconv_plugins import voc

FOLDERS = ["", "/", "data", "data/", "data//", "/abs/VOC2012", "/abs/VOC2012/", ".", "..",
           "a b/c", "C:\\odd"]
NAMES = ["", "x.xml", "/etc/passwd.xml", "../../outside/evil.xml", "sub/x.jpg", "//double",
         ".hidden", "name with space.jpg", "Annotations", "a\\b.jpg"]


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("name", NAMES)
def test_join_is_os_path_join(folder, name):
    assert voc.join(folder, name) == os.path.join(folder, name)


def test_exists_is_os_path_exists(tmp_path):
    (tmp_path / "there.jpg").write_bytes(b"x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name in ("there.jpg", "missing.jpg", "dangling", "", "there.jpg/child", "nul\0byte"):
        path = os.path.join(str(tmp_path), name)
        assert voc._exists(path) == os.path.exists(path), name
