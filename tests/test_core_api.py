"""The trainer takes from the core only the declared API, `tfrconv.api`, and that API is whole,
documented and cheap to import."""

from __future__ import annotations

import ast
import pathlib

from importcheck import modules_loaded

import tfrconv.api

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRAINER = ROOT / "tfrconv" / "trainer"


def core_imports(source: str, name: str, package: str = "tfrconv.trainer") -> list[tuple]:
    """(where, module, names) for every import of a tfrconv module outside `package`,
    function-level imports included; relative imports resolved against `package`."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            imported = [(module, [alias.name for alias in node.names])]
        elif isinstance(node, ast.Import):
            imported = [(alias.name, []) for alias in node.names]
        else:
            continue
        for module, names in imported:
            inside = module == package or module.startswith(package + ".")
            if (module == "tfrconv" or module.startswith("tfrconv.")) and not inside:
                found.append((f"{name}:{node.lineno}", module, names))
    return sorted(found, key=lambda hit: int(hit[0].rsplit(":", 1)[1]))


def test_the_trainer_imports_nothing_from_the_core_but_the_declared_api():
    wrong = []
    for path in sorted(TRAINER.rglob("*.py")):
        name = str(path.relative_to(ROOT))
        for where, module, names in core_imports(path.read_text(encoding="utf-8"), name):
            undeclared = [n for n in names if n not in tfrconv.api.__all__]
            if module != "tfrconv.api" or undeclared or not names:
                wrong.append(f"{where}: {module} {undeclared or names}")
    assert not wrong, "the trainer may import only tfrconv.api's names:\n" + "\n".join(wrong)


def test_the_import_scan_resolves_relative_and_absolute_imports():
    source = ("from ..api import UsageError\nfrom .data import Resize\n"
              "def f():\n    from ..example import decode\n    import tfrconv.tfrecord\n"
              "from .. import keys\n")
    assert core_imports(source, "m.py") == [
        ("m.py:1", "tfrconv.api", ["UsageError"]),
        ("m.py:4", "tfrconv.example", ["decode"]),
        ("m.py:5", "tfrconv.tfrecord", []),
        ("m.py:6", "tfrconv", ["keys"]),
    ]


def test_every_declared_name_resolves_and_is_documented():
    for name in tfrconv.api.__all__:
        assert getattr(tfrconv.api, name) is not None, name
        assert f"`{name}" in tfrconv.api.__doc__, f"{name} is not described in the docstring"
    assert sorted(dir(tfrconv.api)) == sorted(tfrconv.api.__all__)


def test_the_api_is_the_cores_own_objects():
    from tfrconv import errors, example, manifest, tfrecord

    assert tfrconv.api.UsageError is errors.UsageError
    assert tfrconv.api.read_examples is example.iter_examples
    assert tfrconv.api.read_records is tfrecord.read_records
    assert tfrconv.api.find_manifest is manifest.find_manifest


def test_importing_the_api_loads_no_heavy_module():
    heavy = ["tfrconv.example", "tfrconv.tfrecord", "tfrconv.proto", "google.protobuf",
             "tensorflow", "google_crc32c"]
    assert modules_loaded("import tfrconv.api", heavy) == []
    assert modules_loaded("from tfrconv.api import UsageError, keys", heavy) == []
