"""Resolve a `--label-map` reference: a `LabelMap` as given, a file, or a registered name.

Kept apart from `labelmap.py` so the dependency runs one way: this module sits above both the
label-map reader and the plugin registry (which knows the builtin and plugin maps by name);
`labelmap.py` never imports the registry.
"""

from __future__ import annotations

import os

from .errors import LabelMapError, UsageError
from .labelmap import LabelMap, parse_label_map, read_label_map_file


def load_label_map(ref: str | os.PathLike | LabelMap, *, validate: bool = True) -> LabelMap:
    """A `LabelMap` from a registered name (pascal, mscoco, ...), a file path, or as given."""
    if isinstance(ref, LabelMap):
        return ref
    ref_str = os.fspath(ref)
    if os.path.isfile(ref_str):
        return read_label_map_file(ref_str, validate=validate)
    from .plugins import get_registry  # loads the plugins: only when a name is looked up

    registered = get_registry().label_maps.get(ref_str)
    if registered is None:
        known = ", ".join(sorted(get_registry().label_maps)) or "none"
        raise UsageError(f"--label-map {ref_str!r}: no such file, and no builtin label map of "
                         f"that name (builtin: {known})")
    source = registered.source
    if isinstance(source, LabelMap):
        return source
    # A path, or a Traversable / Path-like with read_bytes() (importlib.resources); errors name
    # the map as it was asked for.
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fileobj:
                data = fileobj.read()
        else:
            data = source.read_bytes()
    except OSError as exc:
        raise LabelMapError(f"cannot read builtin label map: {exc.strerror or exc}",
                            file=ref_str) from None
    return parse_label_map(data, source=ref_str, validate=validate)
