"""Checks before training or evaluating: do the records, the label map and the model agree?

The OD API decodes class text through the label map and silently drops boxes whose text it does
not know, so a label map that does not match the records trains a model on nothing. Here that is
an error naming the classes. The conversion's manifest answers quickly; without one, up to
`SCAN_LIMIT` records are read (no TensorFlow needed).
"""

from __future__ import annotations

import os
from collections import Counter

from ..api import UsageError
from ..api import keys as K

SCAN_LIMIT = 5000


def record_classes(patterns: list[str], files: list[str]) -> tuple[Counter, Counter, int, str]:
    """(class text → objects, label id → objects for objects without text, examples, source)."""

    from ..api import TfrconvError, find_manifest, read_manifest

    texts: Counter = Counter()
    listed: set[str] = set()
    examples = 0
    manifests = []
    for pattern in patterns:
        path = find_manifest(pattern)
        if path is None:
            break
        try:
            manifest = read_manifest(path)
        except TfrconvError:
            break
        folder = os.path.dirname(path)
        listed.update(os.path.normpath(os.path.join(folder, s["path"]))
                      for s in manifest.get("shards", []))
        manifests.append((path, manifest))
    if manifests and {os.path.normpath(f) for f in files} <= listed:
        for _path, manifest in manifests:
            examples += int(manifest.get("examples", 0))
            for entry in manifest.get("classes", []):
                if entry.get("objects"):
                    texts[entry["name"]] += int(entry["objects"])
        return texts, Counter(), examples, ", ".join(p for p, _ in manifests)

    from ..api import read_examples

    labels: Counter = Counter()
    for features in read_examples(files):
        examples += 1
        names = features.get(K.OBJECT_CLASS_TEXT, [])
        if names:
            texts.update(n.decode("utf-8", "replace") for n in names)
        else:
            labels.update(int(v) for v in features.get(K.OBJECT_CLASS_LABEL, []))
        if examples >= SCAN_LIMIT:
            break
    return texts, labels, examples, f"the first {examples:,} records"


def check_inputs(*, patterns: list[str], files: list[str], label_map, num_classes: int,
                 what: str, config: str | None) -> list[str]:
    """Raise for what would silently break training; return warnings to print."""
    notes: list[str] = []
    if label_map.max_id > num_classes:
        raise UsageError(f"{what}: the label map {label_map.source} has ids up to "
                         f"{label_map.max_id}, but the model's num_classes is {num_classes}",
                         file=config)
    texts, labels, examples, source = record_classes(patterns, files)
    if examples == 0:
        raise UsageError(f"{what}: {', '.join(patterns)} hold no examples", file=config)
    unknown = sorted(t for t in texts if label_map.resolve(t) is None)
    if unknown:
        known = ", ".join(item.name for item in list(label_map)[:12])
        shown = ", ".join(repr(t) for t in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        raise UsageError(
            f"{what}: the records use classes the label map {label_map.source} does not have: "
            f"{shown} (it has {known}). The OD API would silently drop those boxes; point "
            "label_map_path at the label map the records were converted with", file=config)
    too_big = sorted(i for i in labels if i < 1 or i > num_classes)
    if too_big:
        raise UsageError(f"{what}: records without class text carry label ids "
                         f"{too_big[:8]} outside 1..{num_classes}", file=config)
    if not texts and not labels:
        notes.append(f"{what}: {source} contain no objects at all")
    else:
        unseen = [item.name for item in label_map
                  if item.id > 0 and item.name not in texts and item.id not in labels
                  and (item.display_name or "") not in texts]
        if unseen and len(unseen) < len(label_map):
            notes.append(f"{what}: no objects of {', '.join(unseen[:8])} in {source}")
    return notes
