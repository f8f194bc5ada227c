"""`records filter` and `records remap`: fewer objects or examples, or classes renamed.

Both rewrite only what changes: an example left as it was is copied byte for byte; otherwise
only its per-object features lose the dropped objects and its class text and labels take the new
names and ids (the image and every other feature untouched). Ids come from the output's label
map: the input's, with renamed classes renamed (a class renamed onto one that exists merges
into it), or the `label_map` given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import keys as K
from ..errors import DataError, UsageError
from ..labelmap import LabelMap, LabelMapItem
from ..labelmap_refs import load_label_map
from .edit import encode, keep_objects, object_count, with_classes
from .labels import LabelBook, object_labels, object_names, unnamed_ids
from .output import RecordSetWriter, publish_all
from .reading import IDENTITY_KEYS, Features, RecordSource, input_label_map, shard_key

# What deciding about an example needs of it (the whole example is decoded only to change it).
_DECISION_KEYS = IDENTITY_KEYS | {K.WIDTH, K.HEIGHT, *K.BOX_KEYS}


def parse_remap(text: str | dict[str, str]) -> dict[str, str]:
    """'van=car,Truck=truck' (or a dict) → {old name: new name}."""
    if isinstance(text, dict):
        return dict(text)
    mapping = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        old, sep, new = (part.strip() for part in entry.partition("="))
        if not sep or not old or not new:
            raise UsageError(f"remap {text!r}: write renames as old=new, e.g. van=car,Truck=truck")
        mapping[old] = new
    if not mapping:
        raise UsageError("remap: give at least one rename, e.g. van=car")
    return mapping


def names_list(text: str | list[str] | None) -> set[str] | None:
    if text is None:
        return None
    return {n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()}


@dataclass
class Rules:
    """What to change: class renames, classes kept or dropped, a minimum box side in pixels,
    and whether examples left without objects are dropped."""

    remap: dict[str, str]
    keep: set[str] | None = None
    drop: set[str] | None = None
    min_box_size: float = 0.0
    drop_empty: bool = False

    def keeps(self, name: str, features: Features, index: int) -> bool:
        if self.keep is not None and name not in self.keep:
            return False
        if self.drop is not None and name in self.drop:
            return False
        return self.min_box_size <= 0 or smaller_side(features, index) >= self.min_box_size


def smaller_side(features: Features, index: int) -> float:
    """The box's shorter side in pixels (the stored image size times the normalized box)."""
    def one(key: str) -> Any:
        found = features.get(key, (None, []))[1]
        return found[0] if found else None

    width, height = one(K.WIDTH), one(K.HEIGHT)
    if not width or not height:
        raise ValueError("no image/width and image/height to measure boxes in pixels")
    box = [features[key][1][index] for key in K.BOX_KEYS]     # xmin, ymin, xmax, ymax
    return min((box[2] - box[0]) * width, (box[3] - box[1]) * height)


def renamed_label_map(label_map: LabelMap | None, remap: dict[str, str]) -> LabelMap | None:
    """The input's map with classes renamed; a class renamed onto an existing name is folded
    into it (the existing id stays)."""
    if label_map is None:
        return None
    items: list[LabelMapItem] = []
    for item in label_map.items:
        name = remap.get(item.name, item.name)
        if any(kept.name == name for kept in items) or \
                (name != item.name and any(i.name == name for i in label_map.items)):
            continue
        display = item.display_name if name == item.name else None
        items.append(LabelMapItem(item.id, name, display))
    return LabelMap(items, source=f"{label_map.source} (renamed)")


def transform_records(inputs: Any, output: str, rules: Rules, *, command: str,
                      label_map: Any = None, num_shards: int = 1,
                      compression: str | None = None, on_error: str = "error"
                      ) -> dict[str, Any]:
    """Apply `rules` to every example of `inputs`, writing `output`; the manifest."""
    source = RecordSource(inputs, on_error=on_error)
    own = input_label_map(source.paths)
    names_by_id = {i: item.name for i, item in own.by_id().items()} if own else {}
    if label_map is not None:
        book = LabelBook(load_label_map(label_map), grow=False, source=str(label_map))
    else:
        book = LabelBook(renamed_label_map(own, rules.remap),
                         source=own.source if own else "built from the records' class names")
    counts = {"examples_dropped": 0, "objects_dropped": 0, "examples_rewritten": 0}
    with RecordSetWriter(output, num_shards, compression) as out:
        for record, features in source.features(_DECISION_KEYS):
            where = f"{record.path} record {record.index}"
            names = object_names(features, names_by_id)
            if names is None:
                raise unnamed_ids(features, where)
            try:
                keep = [rules.keeps(name, features, i) for i, name in enumerate(names)]
            except ValueError as exc:
                raise DataError(str(exc), file=where) from None
            if rules.drop_empty and not any(keep):
                counts["examples_dropped"] += 1
                counts["objects_dropped"] += len(keep)
                continue
            new_names = [rules.remap.get(name, name) for name in names]
            ids = [book.id_for(name) for name in new_names]
            if None in ids:
                missing = sorted({n for n, i in zip(new_names, ids) if i is None})
                raise DataError(f"classes {missing} are not in the label map {label_map}",
                                file=where)
            kept_names = [n for n, k in zip(new_names, keep) if k]
            if new_names == names and ids == object_labels(features) and all(keep):
                out.copy(record, shard_key(record, features), kept_names)
                continue
            everything = source.decode(record)
            if everything is None:
                continue
            try:
                changed = keep_objects(with_classes(everything, new_names, ids), keep)
            except ValueError as exc:
                raise DataError(str(exc), file=where) from None
            out.write(encode(changed), shard_key(record, features), kept_names)
            counts["examples_rewritten"] += 1
            counts["objects_dropped"] += object_count(everything) - len(kept_names)
        if out.examples == 0 and counts["examples_dropped"]:
            raise DataError(f"every example was dropped ({counts['examples_dropped']}): "
                            "nothing was written", file=output)
        notes = [f"{n} {what.replace('_', ' ')}" for what, n in counts.items()]
        notes += [f"{name!r} is not in the input's label map: given id "
                  f"{book.map.resolve(name)}" for name in book.added]
        manifest = out.stage(
            book.map, command=command, inputs=source.paths,
            options={"remap": rules.remap, "keep": sorted(rules.keep or ()),
                     "drop": sorted(rules.drop or ()), "min_box_size": rules.min_box_size,
                     "drop_empty": rules.drop_empty, "num_shards": num_shards},
            label_map_source=book.source, notes=notes,
            skipped_records=source.skipped.count)
        publish_all([out])
    source.report_skipped()
    manifest.update(counts)
    return manifest


def filter_records(inputs: Any, output: str, *, keep: Any = None, drop: Any = None,
                   min_box_size: float = 0.0, drop_empty: bool = False, **options: Any
                   ) -> dict[str, Any]:
    """Keep only the classes `keep` and/or drop the classes `drop` (names, or comma-separated
    text), drop boxes whose shorter side is under `min_box_size` pixels, and drop examples left
    without objects when `drop_empty`; the manifest. Options as `transform_records`."""
    rules = Rules({}, names_list(keep), names_list(drop), min_box_size, drop_empty)
    return transform_records(inputs, output, rules, command="filter", **options)


def remap_records(inputs: Any, output: str, remap: str | dict[str, str], **options: Any
                  ) -> dict[str, Any]:
    """Rename classes (``"van=car,Truck=truck"``); the manifest. Options as
    `transform_records`."""
    return transform_records(inputs, output, Rules(parse_remap(remap)), command="remap",
                             **options)
