"""The builtin label maps (label_maps/*.pbtxt), registered like any plugin's."""

from __future__ import annotations

import os

import tfrconv_label_maps

from tfrconv import hookimpl

BUILTIN = (
    ("pascal", "pascal.pbtxt", "Pascal VOC's 20 classes, ids 1-20"),
    ("mscoco", "mscoco.pbtxt", "COCO's 80 classes with their sparse ids (1-90) and names"),
    ("pets", "pets.pbtxt", "Oxford-IIIT Pet's 37 breeds, ids 1-37"),
    ("kitti", "kitti.pbtxt", "KITTI car and pedestrian, ids 1-2"),
)


@hookimpl
def register_label_maps(register):
    # A plain folder path, not importlib.resources: wheels install unzipped, and importing
    # importlib.resources (zipfile, pathlib) measured at a tenth of `tfrconv --help`.
    folder = os.path.dirname(tfrconv_label_maps.__file__)
    for name, filename, description in BUILTIN:
        register(name, os.path.join(folder, filename), description)
