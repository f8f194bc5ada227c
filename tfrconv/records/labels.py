"""Class names and ids across record sets: what each object is called, and the label map that
gives every name one id.

Records name an object's class twice, `image/object/class/text` and `.../label`; producers
write one, the other or both. `object_names` reads the name (the text, else the id's name in the
set's label map), and `LabelBook` hands out ids: it starts from a label map (a merged one, a
remapped one or the input's own) and gives a name it has never seen the next free id, so an
input without a label map still gets consistent ids, and the map written beside the output is
exactly the one the records were written with.
"""

from __future__ import annotations

from .. import keys as K
from ..errors import DataError
from ..labelmap import LabelMap, LabelMapItem
from .reading import Features


def object_names(features: Features, names_by_id: dict[int, str]) -> list[str] | None:
    """Each object's class name; None when an object has an id without a name anywhere."""
    texts = features.get(K.OBJECT_CLASS_TEXT, (None, []))[1]
    if texts:
        return [t.decode("utf-8", errors="replace") for t in texts]
    labels = features.get(K.OBJECT_CLASS_LABEL, (None, []))[1]
    names = [names_by_id.get(label) for label in labels]
    return None if None in names else names


def object_labels(features: Features) -> list[int]:
    return list(features.get(K.OBJECT_CLASS_LABEL, (None, []))[1])


class LabelBook:
    """A label map that can grow: `id_for(name)` resolves like the OD API decoder (name or
    display name, the larger id) and, when `grow` is set, gives an unknown name max id + 1."""

    def __init__(self, label_map: LabelMap | None = None, *, grow: bool = True,
                 source: str = "") -> None:
        self.items: list[LabelMapItem] = list(label_map.items) if label_map else []
        self.source = source or (label_map.source if label_map else "") or ""
        self.grow = grow
        self.added: list[str] = []
        self._known: set[str] = set()
        self._rebuild()

    def _rebuild(self) -> None:
        self.map = LabelMap(self.items, source=self.source)

    def id_for(self, name: str) -> int | None:
        found = self.map.resolve(name)
        if found is None and self.grow:
            found = self.map.max_id + 1
            self.add(LabelMapItem(found, name))
            self.added.append(name)
        return found

    def learn(self, name: str, label: int | None) -> None:
        """Note a (name, id) pair a record uses: a name the map lacks is added, with the
        record's id when that id is free."""
        if name in self._known:                  # once per name: this runs for every object
            return
        self._known.add(name)
        if self.map.resolve(name) is not None:
            return
        if label is None or label < 1 or label in self.map.by_id():
            label = self.map.max_id + 1
        self.add(LabelMapItem(label, name))
        self.added.append(name)

    def add(self, item: LabelMapItem) -> None:
        self.items.append(item)
        self._rebuild()

    def names_by_id(self) -> dict[int, str]:
        return {item_id: item.name for item_id, item in self.map.by_id().items()}


def merge_label_maps(maps: list[tuple[str, LabelMap | None]]) -> tuple[LabelBook, list[str]]:
    """One label map over several record sets' maps, and a note per conflict.

    The first map keeps its ids. A later map's class with a name already present takes that id
    (noted when its own id differs); a new name keeps its own id when that id is free, else gets
    the next free id (noted: the id meant another class). Display names that differ for one
    name are noted; the first wins.
    """
    book = LabelBook(source="merged")
    notes: list[str] = []
    for origin, label_map in maps:
        if label_map is None:
            continue
        for item in label_map.items:
            existing = next((i for i in book.items if i.name == item.name), None)
            if existing is not None:
                if existing.id != item.id:
                    notes.append(f"{origin}: class {item.name!r} has id {item.id} there and "
                                 f"{existing.id} in the merged label map: its records are "
                                 "rewritten")
                if (item.display_name or existing.display_name) and \
                        item.display_name != existing.display_name:
                    notes.append(f"{origin}: class {item.name!r} is displayed as "
                                 f"{item.display_name!r} there and {existing.display_name!r} "
                                 "in the merged label map (the first kept)")
                continue
            taken = book.map.by_id().get(item.id)
            if taken is None:
                book.add(item)
                continue
            new_id = book.map.max_id + 1
            book.add(LabelMapItem(new_id, item.name, item.display_name))
            notes.append(f"{origin}: id {item.id} is {item.name!r} there but {taken.name!r} "
                         f"in the merged label map: {item.name!r} gets id {new_id} and its "
                         "records are rewritten")
    return book, notes


def unnamed_ids(features: Features, origin: str) -> DataError:
    """The error for objects that carry ids but no names (no class text, no label map)."""
    return DataError(f"objects have class ids {sorted(set(object_labels(features)))} but no "
                     "class text, and no label map names them (put the set's label_map.pbtxt "
                     "beside it, or give --label-map)", file=origin)
