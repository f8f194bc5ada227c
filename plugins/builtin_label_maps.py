"""The builtin label maps (label_maps/*.pbtxt), registered like any plugin's."""

from __future__ import annotations

from importlib.resources import files

from tfrconv import hookimpl

BUILTIN = (
    ("pascal", "pascal.pbtxt", "Pascal VOC's 20 classes, ids 1-20"),
    ("mscoco", "mscoco.pbtxt", "COCO's 80 classes with their sparse ids (1-90) and names"),
    ("pets", "pets.pbtxt", "Oxford-IIIT Pet's 37 breeds, ids 1-37"),
    ("kitti", "kitti.pbtxt", "KITTI car and pedestrian, ids 1-2"),
)


@hookimpl
def register_label_maps(register):
    folder = files("tfrconv_label_maps")
    for name, filename, description in BUILTIN:
        register(name, folder / filename, description)
