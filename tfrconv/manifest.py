"""The files written beside an output: the label map used and a JSON manifest.

For `out/train.record` they are `out/train.label_map.pbtxt` and `out/train.manifest.json` (the
`.record` suffix is dropped so a glob such as `train.record*` never picks them up). The manifest
is what later tools read: shards with their example counts and sizes, the class histogram, the
label map and its hash, the source format and options, and the tfrconv version. It holds no
timestamps, so re-running the same conversion gives the same manifest. `find_manifest` and
`find_label_map` find them again from a record path or shard glob.
"""

from __future__ import annotations

import json
import os
from typing import Any

RECORD_SUFFIXES = (".record", ".tfrecord", ".tfrecords", ".records")
MANIFEST_VERSION = 1


def sidecar_base(output: str) -> str:
    for suffix in RECORD_SUFFIXES:
        if output.endswith(suffix) and len(output) > len(suffix):
            return output[: -len(suffix)]
    return output


def manifest_path(output: str) -> str:
    return sidecar_base(output) + ".manifest.json"


def label_map_path(output: str) -> str:
    return sidecar_base(output) + ".label_map.pbtxt"


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def find_manifest(path_or_glob: str) -> str | None:
    """The manifest that describes a record path, shard glob or manifest path, if any."""
    candidates = [path_or_glob]
    for marker in ("-?????-of-", "-*", "*", "?"):
        if marker in path_or_glob:
            candidates.append(path_or_glob.split(marker, 1)[0])
    for candidate in candidates:
        if candidate.endswith(".manifest.json") and os.path.isfile(candidate):
            return candidate
        path = manifest_path(candidate)
        if os.path.isfile(path):
            return path
    return None


def read_manifest(path_or_glob: str) -> dict[str, Any]:
    """Load the manifest for an output (record path, shard glob or the manifest itself)."""
    from .errors import DataError, UsageError

    path = find_manifest(path_or_glob)
    if path is None:
        raise UsageError(f"no tfrconv manifest found for {path_or_glob!r} (expected "
                         f"{manifest_path(path_or_glob)})")
    try:
        with open(path, encoding="utf-8") as fileobj:
            manifest = json.load(fileobj)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read manifest: {exc}", file=path) from None
    manifest["_path"] = path
    return manifest


def find_label_map(path_or_glob: str) -> str | None:
    """The label map that belongs to a record path or glob: the tfrconv manifest's label map,
    the `<name>.label_map.pbtxt` sidecar, or a `label_map.pbtxt` in the same folder (what
    Datumaro and many scripts write)."""
    manifest = find_manifest(path_or_glob)
    if manifest is not None:
        try:
            with open(manifest, encoding="utf-8") as fileobj:
                name = (json.load(fileobj).get("label_map") or {}).get("path")
        except (OSError, ValueError, AttributeError):
            name = None
        if name:
            candidate = os.path.join(os.path.dirname(manifest), name)
            if os.path.isfile(candidate):
                return candidate
    if os.path.isdir(path_or_glob):
        candidate = os.path.join(path_or_glob, "label_map.pbtxt")
        return candidate if os.path.isfile(candidate) else None
    base = path_or_glob
    for marker in ("-?????-of-", "-*", "*", "?"):
        base = base.split(marker, 1)[0]
    for candidate in (label_map_path(base),
                      os.path.join(os.path.dirname(base) or ".", "label_map.pbtxt")):
        if os.path.isfile(candidate):
            return candidate
    return None


def class_entries(label_map, objects_by_class, images_by_class) -> list[dict[str, Any]]:
    """A manifest's "classes": for each label-map item, the objects and the images written
    with it, counted by the class text each was written with and resolved through the map (the
    decoder's rule), so two texts of one id add up."""
    objects_by_id: dict[int | None, int] = {}
    images_by_id: dict[int | None, int] = {}
    for counts, by_id in ((objects_by_class, objects_by_id), (images_by_class, images_by_id)):
        for text, n in counts.items():
            label = label_map.resolve(text)
            by_id[label] = by_id.get(label, 0) + n
    return [{"id": item.id, "name": item.name, "display_name": item.display_name,
             "objects": objects_by_id.get(item.id, 0), "images": images_by_id.get(item.id, 0)}
            for item in label_map.by_id().values()]


def label_map_entry(label_map, output: str, source: str) -> dict[str, Any]:
    """A manifest's "label_map": the file written beside `output`, where it came from, its
    hash and items."""
    return {
        "path": os.path.basename(label_map_path(output)),
        "source": source,
        "sha256": label_map.sha256(),
        "num_classes": label_map.max_id,
        "items": label_map.as_dicts(),
    }
