"""Which splits a dataset root holds, as exports really arrive.

Two shapes are recognised, both from what the registered formats say, never from a list of
tools:

- **split folders**: a root whose subfolders are named like splits (train/, valid/, val/,
  test/ ...), each one a dataset any registered format detects on its own. Roboflow exports
  look like this in every detection format tfrconv reads (`_annotations.coco.json`,
  `_annotations.csv` or VOC XML beside the images).
- **a format's own splits**: a folder one format matches, which names the splits inside it
  through `FormatSpec.splits` (VOC's ImageSets/Main/<set>.txt as CVAT and Datumaro export them,
  COCO's annotations/instances_{split}.json with {split}/ beside).

`tfrconv convert ROOT --output DIR/` converts every split found (`tfrconv.dataset`);
`tfrconv detect-format ROOT` shows what was found and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .detect import detect_formats, only_subfolder

# Folder names read as splits (lower case); the split keeps the folder's own name.
SPLIT_FOLDER_NAMES = ("train", "training", "valid", "val", "validation", "dev", "test",
                      "testing")
DESCEND_DEPTH = 2          # look this many single-folder levels down (an unpacked archive)


@dataclass(frozen=True)
class Split:
    """One split of a dataset: what to convert it as."""

    name: str
    format: str
    options: dict[str, Any]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"split": self.name, "format": self.format, "reason": self.reason,
                "options": {k: v if isinstance(v, (str, int, float, bool)) or v is None
                            else str(v) for k, v in self.options.items()}}


@dataclass
class Layout:
    """The splits found under `root`, and the folders that look like splits but are not
    datasets any format reads (`problems`: folder → why)."""

    root: str
    kind: str                                  # "split folders" or "<format> splits"
    splits: list[Split] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [split.name for split in self.splits]

    def as_dict(self) -> dict[str, Any]:
        return {"root": self.root, "kind": self.kind,
                "splits": [split.as_dict() for split in self.splits],
                "problems": dict(self.problems)}

    def lines(self) -> list[str]:
        out = [f"{self.root} holds {len(self.splits)} split"
               f"{'' if len(self.splits) == 1 else 's'} ({self.kind}):"]
        width = max((len(s.name) for s in self.splits), default=0)
        out.extend(f"  {s.name:{width}}  {s.format}: {s.reason}" for s in self.splits)
        out.extend(f"  {folder}: not converted: {why}" for folder, why in self.problems.items())
        if self.splits:
            out.append(f"convert them all with: tfrconv convert {self.root} --output OUT/ "
                       "(one OUT/<split>.record each, one label map)")
        return out


def find_layout(root: str | os.PathLike, *, registry=None) -> Layout | None:
    """The splits `root` holds, or None when it is one dataset (or none). Never raises for a
    folder that exists: what cannot be read is in `Layout.problems`."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    folder = os.fspath(root)
    for _ in range(DESCEND_DEPTH + 1):
        if not os.path.isdir(folder):
            return None
        layout = _split_folders(folder, registry) or _format_splits(folder, registry)
        if layout is not None:
            return layout
        inner = only_subfolder(folder)
        if inner is None:
            return None
        folder = inner
    return None


def _split_folders(root: str, registry) -> Layout | None:
    folders = sorted((entry.name for entry in os.scandir(root)
                      if entry.is_dir() and entry.name.lower() in SPLIT_FOLDER_NAMES),
                     key=_split_order)
    if not folders:
        return None
    layout = Layout(root=root, kind="split folders")
    for name in folders:
        path = os.path.join(root, name)
        report = detect_formats(path, registry=registry)
        matches = report.matches
        if report.searched != path:
            layout.problems[path] = f"the dataset is in {report.searched}; name it yourself"
        elif len(matches) == 1:
            match = matches[0]
            spec = registry.format(match.format)
            options = dict(match.options)
            if spec.option("data_dir") is not None:
                options.setdefault("data_dir", path)
            layout.splits.append(Split(name, match.format, options, match.reason))
        elif matches:
            layout.problems[path] = ("matches " + ", ".join(r.format for r in matches)
                                     + "; convert it with --format NAME")
        else:
            layout.problems[path] = "no registered format matches it (see tfrconv " \
                                    f"detect-format {path})"
    return layout


def _format_splits(root: str, registry) -> Layout | None:
    report = detect_formats(root, registry=registry)
    if report.verdict != "unique" or report.searched != root:
        return None
    match = report.matches[0]
    spec = registry.format(match.format)
    if spec.splits is None:
        return None
    found = spec.splits(root)
    if not found:
        return None
    layout = Layout(root=root, kind=f"{spec.name} splits")
    for name, options in found.items():
        shown = ", ".join(f"{k}={_short(v, root)}" for k, v in options.items())
        layout.splits.append(Split(str(name), spec.name, dict(options), shown))
    return layout


def _split_order(name: str) -> tuple[int, str]:
    """train before valid before test; the rest by name."""
    low = name.lower()
    rank = {"train": 0, "training": 0, "valid": 1, "val": 1, "validation": 1, "dev": 1}
    return rank.get(low, 2), low


def _short(value: Any, root: str) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if isinstance(value, (str, os.PathLike)) and os.path.isabs(text) == os.path.isabs(root) \
            and text.startswith(root):
        return os.path.relpath(text, root)
    return text
