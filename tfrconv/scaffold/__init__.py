"""`tfrconv plugin new NAME`: a plugin package to start from, whose tests pass as generated.

The package holds a pyproject.toml with the `tfrconv` entry point, a small working format (one
text file of `label xmin ymin xmax ymax` boxes per image), tests that run the conformance kit
(`tfrconv.testing`) on a tiny dataset whose images are drawn here (no binary files shipped),
and a README. The templates are package data of this package (templates/*.tmpl).
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from ..errors import UsageError

NAME_RULE = re.compile(r"^[a-z][a-z0-9_]*$")
# The example dataset: image name → size and boxes (label, xmin, ymin, xmax, ymax).
EXAMPLE = {
    "one": ((32, 24), [("cat", 4, 4, 20, 18)]),
    "two": ((40, 30), [("cat", 2, 2, 12, 10), ("dog", 14, 6, 30, 22)]),
}
CLASSES = ("dog", "cat")         # deliberately not sorted: the label map keeps this order


def new_plugin(name: str, directory: str | os.PathLike | None = None) -> Path:
    """Write the plugin package `tfrconv-NAME` for the format NAME into `directory` (default:
    ./tfrconv-NAME, which must not exist yet); returns the package folder."""
    if not NAME_RULE.match(name):
        raise UsageError(f"plugin name {name!r}: use lower-case letters, digits and '_', "
                         "starting with a letter (it is the format name and part of the "
                         "module name)")
    dist, module = f"tfrconv-{name.replace('_', '-')}", f"tfrconv_{name}"
    root = Path(directory if directory is not None else dist)
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} already exists and is not empty; give another --dir")
    words = {"__FORMAT__": name, "__DIST__": dist, "__MODULE__": module}
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        f"{module}.py": "module.py.tmpl",
        f"tests/test_{name}.py": "test_format.py.tmpl",
        "README.md": "README.md.tmpl",
    }
    templates = resources.files(__package__) / "templates"
    for target, template in files.items():
        text = (templates / template).read_text(encoding="utf-8")
        for word, value in words.items():
            text = text.replace(word, value)
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    write_example_data(root / "example_data")
    return root


def write_example_data(folder: Path) -> None:
    """Two small PNGs with their label files, and classes.txt."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "classes.txt").write_text("".join(f"{c}\n" for c in CLASSES), encoding="utf-8")
    for index, (stem, (size, boxes)) in enumerate(EXAMPLE.items()):
        Image.new("RGB", size, (60 * index, 120, 200)).save(folder / "images" / f"{stem}.png")
        (folder / "labels" / f"{stem}.txt").write_text(
            "".join(f"{label} {x0} {y0} {x1} {y1}\n" for label, x0, y0, x1, y1 in boxes),
            encoding="utf-8")
