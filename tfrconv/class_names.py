"""How the data's class names meet the label map: near-miss suggestions for unknown classes,
and `--ignore-class-case`, which rewrites each class to the map's own spelling as items are read
(so the class text written is what the OD API decoder finds in the map)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .labelmap import LabelMap

SUGGESTIONS = 3


def map_names(label_map: LabelMap) -> list[str]:
    """Every spelling the map resolves: names and display names."""
    names = []
    for item in label_map:
        names.append(item.name)
        if item.display_name:
            names.append(item.display_name)
    return list(dict.fromkeys(names))


def suggestions(unknown: str, label_map: LabelMap) -> list[str]:
    """The map's names closest to `unknown`: those equal but for case first, then difflib's."""
    names = map_names(label_map)
    folded = [n for n in names if n.casefold() == unknown.casefold()]
    import difflib  # only when a class is unknown

    close = difflib.get_close_matches(unknown, names, n=SUGGESTIONS, cutoff=0.6)
    return list(dict.fromkeys(folded + close))[:SUGGESTIONS]


def did_you_mean(unknown: str, label_map: LabelMap) -> str:
    """" (did you mean 'circle'?)" or ""."""
    found = suggestions(unknown, label_map)
    if not found:
        return ""
    return " (did you mean " + " or ".join(repr(n) for n in found) + "?)"


def case_table(label_map: LabelMap) -> dict[str, str]:
    """casefolded spelling → the map's spelling (the first one, by id, when two fold alike)."""
    table: dict[str, str] = {}
    for name in map_names(label_map):
        table.setdefault(name.casefold(), name)
    return table


def resolve_ignoring_case(label_map: LabelMap, table: dict[str, str], text: str) -> int | None:
    found = label_map.resolve(text)
    if found is None and isinstance(text, str) and text.casefold() in table:
        found = label_map.resolve(table[text.casefold()])
    return found


class MatchCase:
    """A format's `read_item` whose samples carry the map's spelling of each class that matches
    it but for case. Picklable: it travels to workers with the spec."""

    def __init__(self, read_item: Callable[[Any, Any], Any], label_map: LabelMap) -> None:
        self.read_item = read_item
        self.label_map = label_map
        self.table = case_table(label_map)

    def respell(self, text: str) -> str:
        if self.label_map.resolve(text) is not None or not isinstance(text, str):
            return text
        return self.table.get(text.casefold(), text)

    def __call__(self, item: Any, opts: Any) -> Any:
        sample = self.read_item(item, opts)
        for obj in sample.objects:
            obj.label = self.respell(obj.label)
        for image_label in sample.image_labels:
            image_label.label = self.respell(image_label.label)
        return sample


def unmatched(names: Iterable[str], label_map: LabelMap, *, ignore_case: bool) -> list[str]:
    """The names the map does not resolve (ignoring case when asked), sorted."""
    table = case_table(label_map) if ignore_case else {}
    return sorted({n for n in names if resolve_ignoring_case(label_map, table, n) is None})
