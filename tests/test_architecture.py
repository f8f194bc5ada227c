"""The package's shape, read from the source with `ast` (nothing is imported): no import cycle
among tfrconv's modules and the builtin plugins, and no module reaching another module's
private (underscore) names."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Source folder → the package it installs as (pyproject.toml's package-dir).
PACKAGES = {"tfrconv": "tfrconv", "plugins": "tfrconv_plugins"}


@dataclass
class Module:
    name: str                      # dotted: tfrconv.runners.local
    path: Path                     # relative to the checkout: tfrconv/runners/local.py
    is_package: bool               # an __init__.py
    tree: ast.Module = field(repr=False)

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    target: str                    # the module imported (one of ours)
    line: int
    names: tuple[str, ...] = ()    # for `from target import a, b`: a, b


def load_modules(root: Path = ROOT) -> dict[str, Module]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join([package, *parts])
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            modules[name] = Module(name, path.relative_to(root), is_package, tree)
    return modules


def imports_of(module: Module, known: set[str]) -> list[Import]:
    """Every import of one of `known` in `module`, at any depth (functions, TYPE_CHECKING
    blocks, try/except): each is a dependency whenever that code runs."""
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _ours(alias.name, known)
                if target:
                    found.append(Import(target, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node.module, node.level)
            if base not in known:
                continue
            plain = []
            for alias in node.names:
                if f"{base}.{alias.name}" in known:      # `from . import submodule`
                    found.append(Import(f"{base}.{alias.name}", node.lineno))
                else:
                    plain.append(alias.name)
            if plain:
                found.append(Import(base, node.lineno, tuple(plain)))
    return found


def _absolute(module: Module, name: str | None, level: int) -> str:
    if level == 0:
        return name or ""
    base = module.package.split(".")
    if level > 1:
        base = base[:-(level - 1)]
    return ".".join(base + ([name] if name else []))


def _ours(dotted: str, known: set[str]) -> str | None:
    """The longest of `known` that `dotted` names or lies inside (`import a.b.c` → a.b.c)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_ancestor(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """module → the modules it imports.

    An import of a module's own ancestor package (`from . import __version__`) is left out:
    Python initialises a package before any module inside it, so such an import never starts
    one; counting it would make every lazy import in an `__init__.py` a cycle.
    """
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        for imp in imports_of(module, known):
            if imp.target != name and not _is_ancestor(imp.target, name):
                graph[name].add(imp.target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a → b → ... → a) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:       # Tarjan's algorithm, iterative (no recursion limit)
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_cycle_within(graph, set(group)) for group in groups]


def _cycle_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module, staying inside the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"no cycle found in the group {sorted(group)}")


def private_uses(modules: dict[str, Module]) -> list[str]:
    """`file:line: what` for every use of another module's underscore name: `from m import
    _x`, `m._x` on a module bound by an import, and importing a private module (`_tables`)
    from outside the package that holds it."""
    known = set(modules)
    problems = []
    for name, module in sorted(modules.items()):
        where = module.path.as_posix()
        bound: dict[str, str] = {}           # local name → one of our modules
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = _ours(alias.name, known)
                    if target is None:
                        continue
                    if alias.asname:
                        bound[alias.asname] = target
                    else:                    # `import a.b` binds `a`
                        bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, node.module, node.level)
                for alias in node.names:
                    if f"{base}.{alias.name}" in known:
                        bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        for imp in imports_of(module, known):
            private_part = _private_module_part(imp.target)
            if private_part and not _is_ancestor(private_part.rpartition(".")[0], name):
                problems.append(f"{where}:{imp.line}: imports the private module {imp.target}")
            for imported in imp.names:
                if _private(imported) and imp.target != name:
                    problems.append(f"{where}:{imp.line}: imports {imported} from {imp.target}")
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = _dotted(node.value, bound, known)
                if owner is not None and owner != name:
                    problems.append(f"{where}:{node.lineno}: uses {owner}.{node.attr}")
    return sorted(set(problems), key=_by_file_and_line)


def _private_module_part(target: str) -> str | None:
    """The leading part of `target` that ends in a private name (tfrconv_plugins._tables)."""
    parts = target.split(".")
    for end, part in enumerate(parts, 1):
        if _private(part):
            return ".".join(parts[:end])
    return None


def _dotted(node: ast.expr, bound: dict[str, str], known: set[str]) -> str | None:
    """The module an expression like `dofns` or `tfrconv.pipeline` stands for, if one of ours."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in bound:
        return None
    dotted = ".".join([bound[node.id], *reversed(parts)])
    return dotted if dotted in known else None


def _by_file_and_line(text: str):
    path, line, rest = text.split(":", 2)
    return path, int(line), rest


# -- the rules, on the real package --------------------------------------------------------
MODULES = load_modules()


def test_the_walk_sees_the_whole_package():
    assert {"tfrconv", "tfrconv.pipeline", "tfrconv.runners.local", "tfrconv_plugins.voc"} \
        <= set(MODULES)
    graph = import_graph(MODULES)
    assert "tfrconv.runners.local" in graph["tfrconv.pipeline"]


def test_no_import_cycle():
    cycles = find_cycles(import_graph(MODULES))
    assert not cycles, "import cycles (each a → b means a imports b, at any depth):\n" + \
        "\n".join("  " + " → ".join(cycle) for cycle in cycles)


def test_no_module_uses_another_modules_private_names():
    problems = private_uses(MODULES)
    assert not problems, "private names used across modules:\n" + \
        "\n".join("  " + line for line in problems)


# Rooms, lowest first (docs/architecture.md): a module imports its own room or a lower one.
ROOMS = {
    "model and encoding": [
              "errors", "sample", "keys", "wire", "tfrecord", "sharding", "seen", "images",
              "manifest", "summary", "proto", "protos", "problems", "labelmap", "example",
              "features", "stats", "progress", "shapes", "annotation_xml", "tables", "masks",
              "jsonstream", "csvstream", "spill",
              "datafiles", "publish", "remote"],
    "plugin platform": ["formats", "commands", "hookspecs", "entrypoints", "plugin_code",
                        "plugins", "settings", "labelmap_refs", "transforms"],
    "conversion": ["conversion", "tally", "build", "class_names"],
    "looking": ["inspect", "verify", "draw", "detect", "layouts", "report", "tfdata"],
    "drive": ["workers", "worker_process", "worker_channel", "runners", "pipeline", "records",
              "dataset", "own_samples"],
    "entry": ["cli", "cli_commands", "cli_convert", "cli_options", "__main__",
              "inspection_commands", "report_commands", "testing", "scaffold"],
    "public faces": ["api", ""],
}
# What a builtin plugin may import from tfrconv: what a third-party plugin may import.
PLUGIN_API = {"tfrconv", "tfrconv.keys", "tfrconv.api", "tfrconv.tables", "tfrconv.masks",
              "tfrconv.jsonstream", "tfrconv.csvstream", "tfrconv.spill",
              "tfrconv.transforms.builtin",
              "tfrconv.inspection_commands",
              "tfrconv.trainer.commands", "tfrconv.records.commands", "tfrconv.report_commands"}


def room_of(module: str) -> int | None:
    """The rank of `module`'s room (tfrconv.runners.local → "drive"); None outside the rooms."""
    if not (module == "tfrconv" or module.startswith("tfrconv.")) or \
            module.startswith("tfrconv.trainer"):
        return None
    first = module.split(".")[1] if "." in module else ""
    for rank, members in enumerate(ROOMS.values()):
        if first in members:
            return rank
    raise AssertionError(f"{module} is in no room: add it to ROOMS and docs/architecture.md")


def upward_imports(modules: dict[str, Module]) -> list[str]:
    rooms = list(ROOMS)
    problems = []
    for name, module in sorted(modules.items()):
        own = room_of(name)
        if own is None:
            continue
        for imp in imports_of(module, set(modules)):
            target = room_of(imp.target)
            if target is not None and target > own and not _is_ancestor(imp.target, name):
                problems.append(f"{module.path.as_posix()}:{imp.line}: {name} ({rooms[own]}) "
                                f"imports {imp.target} ({rooms[target]})")
    return problems


def plugin_imports_outside_the_api(modules: dict[str, Module]) -> list[str]:
    problems = []
    for name, module in sorted(modules.items()):
        if not name.startswith("tfrconv_plugins"):
            continue
        for imp in imports_of(module, set(modules)):
            if imp.target.startswith("tfrconv_plugins"):
                problems.append(f"{module.path.as_posix()}:{imp.line}: the builtin {name} "
                                f"imports the builtin {imp.target}")
            elif imp.target not in PLUGIN_API:
                problems.append(f"{module.path.as_posix()}:{imp.line}: {name} imports "
                                f"{imp.target}, which is not plugin API")
    return problems


def test_every_module_is_in_a_room_and_imports_go_down():
    problems = upward_imports(MODULES)
    assert not problems, "imports that go up the rooms:\n" + "\n".join(
        "  " + line for line in problems)


def documented_rooms(text: str) -> dict[str, set[str]]:
    """The rooms table of docs/architecture.md: room → the modules its row names (`x.py` → x,
    `x/` → x, `tfrconv/__init__.py` → ""), leaving out what stands in parentheses (details)."""
    rooms = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] not in ROOMS:
            continue
        names = set()
        for token in re.findall(r"`([^`]+)`", re.sub(r"\([^()]*\)", "", cells[1])):
            if token == "tfrconv/__init__.py":
                names.add("")
            elif "/" not in token.rstrip("/"):
                names.add(token.removesuffix(".py").rstrip("/"))
        rooms[cells[0]] = names
    return rooms


def test_the_documented_rooms_are_the_rooms():
    documented = documented_rooms((ROOT / "docs" / "architecture.md").read_text())
    assert documented == {room: set(members) for room, members in ROOMS.items()}


def test_builtin_plugins_use_only_the_plugin_api():
    problems = plugin_imports_outside_the_api(MODULES)
    assert not problems, "\n".join(problems)


def test_rooms_catch_an_upward_import(tmp_path):
    modules = fake_package(tmp_path, {
        "tfrconv/labelmap.py": "from .plugins import get_registry\n",
        "tfrconv/plugins.py": "from .labelmap import LabelMap\n",
        "plugins/pets.py": "from tfrconv_plugins.voc import parse_xml\nfrom tfrconv.build "
                           "import Builder\nfrom tfrconv import hookimpl\n",
        "plugins/voc.py": "",
        "tfrconv/build.py": "",
    })
    assert upward_imports(modules) == [
        "tfrconv/labelmap.py:1: tfrconv.labelmap (model and encoding) imports tfrconv.plugins "
        "(plugin platform)"]
    assert plugin_imports_outside_the_api(modules) == [
        "plugins/pets.py:1: the builtin tfrconv_plugins.pets imports the builtin "
        "tfrconv_plugins.voc",
        "plugins/pets.py:2: tfrconv_plugins.pets imports tfrconv.build, which is not plugin API"]


# -- the checker itself, on small made-up packages -------------------------------------------
def fake_package(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in PACKAGES:
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "__init__.py").touch()
    return load_modules(tmp_path)


@pytest.mark.parametrize(("files", "expected"), [
    # module level, relative
    ({"tfrconv/a.py": "from . import b\n", "tfrconv/b.py": "from .a import x\n"},
     [["tfrconv.a", "tfrconv.b", "tfrconv.a"]]),
    # a lazy import in a function, absolute, through a subpackage
    ({"tfrconv/a.py": "def f():\n    import tfrconv.sub.c\n",
      "tfrconv/sub/__init__.py": "", "tfrconv/sub/c.py": "from ..a import y\n"},
     [["tfrconv.a", "tfrconv.sub.c", "tfrconv.a"]]),
    # three modules, one import under TYPE_CHECKING
    ({"tfrconv/a.py": "from .b import x\n", "tfrconv/b.py": "from .c import y\n",
      "tfrconv/c.py": "if TYPE_CHECKING:\n    from .a import z\n"},
     [["tfrconv.a", "tfrconv.b", "tfrconv.c", "tfrconv.a"]]),
    # plugins and core
    ({"plugins/p.py": "from tfrconv import a\n", "tfrconv/a.py": "import tfrconv_plugins.p\n"},
     [["tfrconv.a", "tfrconv_plugins.p", "tfrconv.a"]]),
    # one way only; a submodule reading its own package (`__version__`) is no cycle
    ({"tfrconv/a.py": "from . import b\nfrom . import __version__\n",
      "tfrconv/b.py": "import os\n",
      "tfrconv/__init__.py": "def convert():\n    from .a import run\n"}, []),
])
def test_cycles_are_found_at_any_depth(tmp_path, files, expected):
    assert find_cycles(import_graph(fake_package(tmp_path, files))) == expected


def test_private_names_are_found_in_every_spelling(tmp_path):
    modules = fake_package(tmp_path, {
        "tfrconv/a.py": "_x = 1\n_y = 2\n__version__ = '1'\n",
        "tfrconv/sub/__init__.py": "",
        "tfrconv/sub/b.py": ("from ..a import _x, __version__\n"
                             "from .. import a\n"
                             "import tfrconv.a\n"
                             "import tfrconv.a as alias\n"
                             "def f():\n"
                             "    return a._y, tfrconv.a._x, alias._y, a.__doc__\n"),
        "tfrconv/c.py": "class C:\n    def f(self):\n        return self._own\n",
        "plugins/_tables.py": "T = 1\n",
        "plugins/voc.py": "from ._tables import T\n",
        "tfrconv/d.py": "from tfrconv_plugins._tables import T\n",
    })
    assert private_uses(modules) == [
        "tfrconv/d.py:1: imports the private module tfrconv_plugins._tables",
        "tfrconv/sub/b.py:1: imports _x from tfrconv.a",
        "tfrconv/sub/b.py:6: uses tfrconv.a._x",
        "tfrconv/sub/b.py:6: uses tfrconv.a._y",
    ]
