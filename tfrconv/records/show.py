"""`records cat` / `records head`: one line per example, for a quick look (or one JSON object
per line with `--json`)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .. import keys as K
from .labels import object_names
from .reading import IDENTITY_KEYS, RecordSource, input_label_map

SHOWN_KEYS = IDENTITY_KEYS | {K.FILENAME, K.FORMAT, K.WIDTH, K.HEIGHT, K.ENCODED}


def example_summary(path: str, index: int, features, names_by_id: dict[int, str]
                    ) -> dict[str, Any]:
    """The few facts shown for one example: where, which image, its size and its objects."""
    def one(key: str) -> Any:
        found = features.get(key, (None, []))[1]
        value = found[0] if found else None
        return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value

    names = object_names(features, names_by_id)
    if names is None:
        names = [str(label) for label in features.get(K.OBJECT_CLASS_LABEL, (None, []))[1]]
    image = features.get(K.ENCODED, (None, []))[1]
    return {"file": path, "index": index, "source_id": one(K.SOURCE_ID),
            "filename": one(K.FILENAME), "format": one(K.FORMAT),
            "width": one(K.WIDTH), "height": one(K.HEIGHT),
            "image_bytes": len(image[0]) if image else 0,
            "objects": len(names), "classes": dict(Counter(names))}


def summaries(inputs: Any, *, limit: int | None = None, label_map: Any = None,
              on_error: str = "error") -> Iterator[dict[str, Any]]:
    source = RecordSource(inputs, on_error=on_error)
    own = input_label_map(source.paths, label_map)
    names_by_id = {i: item.name for i, item in own.by_id().items()} if own else {}
    examples = source.features(SHOWN_KEYS)
    try:
        for record, features in itertools.islice(examples, limit):
            yield example_summary(record.path, record.index, features, names_by_id)
    finally:
        examples.close()
        source.report_skipped()


def line(summary: dict[str, Any]) -> str:
    classes = ", ".join(f"{name}×{n}" if n > 1 else name
                        for name, n in sorted(summary["classes"].items()))
    size = f"{summary['width']}x{summary['height']}" if summary["width"] else "?x?"
    return (f"{summary['file']}:{summary['index']}  {summary['source_id'] or '-'}  "
            f"{summary['format'] or '?'} {size}  {summary['objects']} objects"
            + (f": {classes}" if classes else ""))


def show(inputs: Any, *, limit: int | None = None, as_json: bool = False,
         label_map: Any = None, on_error: str = "error") -> int:
    """Print one line per example (the first `limit`); the number printed."""
    shown = 0
    for summary in summaries(inputs, limit=limit, label_map=label_map, on_error=on_error):
        print(json.dumps(summary, ensure_ascii=False) if as_json else line(summary),
              flush=False)
        shown += 1
    return shown
