"""The entry points of one group, found without importing importlib.metadata.

Every `tfrconv` command starts by finding its plugins. `importlib.metadata` pulls in email,
zipfile, csv and more, which measured at a third of `tfrconv --help`. Installed distributions
announce their entry points in `<name>-<version>.dist-info/entry_points.txt` (or
`<name>.egg-info/`) on sys.path; reading those small files directly is all a plugin lookup needs.
The same rules apply: sys.path order, and the first distribution of a name wins. A zip archive on
sys.path (rare) makes the lookup fall back to importlib.metadata.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any

_SUFFIXES = (".dist-info", ".egg-info")


class EntryPoint:
    """`name = module:attr` from a distribution's entry_points.txt."""

    __slots__ = ("name", "value", "dist", "version")

    def __init__(self, name: str, value: str, dist: str | None, version: str | None) -> None:
        self.name = name
        self.value = value
        self.dist = dist          # normalized distribution name (PEP 503)
        self.version = version

    def load(self) -> Any:
        module_name, _, attr = self.value.partition(":")
        target: Any = importlib.import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            target = getattr(target, part)
        return target

    def __repr__(self) -> str:
        return f"EntryPoint({self.name!r}, {self.value!r}, dist={self.dist!r})"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entry_points(group: str) -> list[EntryPoint]:
    """Entry points of `group` from every distribution on sys.path, first of a name wins."""
    if any(os.path.isfile(entry) for entry in sys.path if entry):
        return _from_importlib_metadata(group)
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if not name.endswith(_SUFFIXES):
                continue
            dist, version = _name_and_version(name)
            key = normalize(dist)
            if key in seen:
                continue
            seen.add(key)
            path = os.path.join(folder, name, "entry_points.txt")
            try:
                with open(path, encoding="utf-8") as fileobj:
                    text = fileobj.read()
            except OSError:
                continue
            if group not in text:         # most distributions: no need to read it line by line
                continue
            found.extend(EntryPoint(ep_name, value, key, version)
                         for ep_name, value in _section(text, group))
    return found


def _name_and_version(folder_name: str) -> tuple[str, str | None]:
    stem = folder_name.rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    return name, (rest.split("-", 1)[0] or None)


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """`name = value` pairs of one [group] of an entry_points.txt (extras dropped)."""
    pairs = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == group and "=" in line:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.split("[", 1)[0].strip()))
    return pairs


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    import importlib.metadata

    found = []
    for ep in importlib.metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        metadata = dist.metadata if dist is not None else None
        name = metadata["Name"] if metadata is not None else None
        found.append(EntryPoint(ep.name, ep.value, normalize(name) if name else None,
                                metadata["Version"] if metadata is not None else None))
    return found
