"""Reading any producer's records back: payloads, typed features, `Sample`s.

Every `tfrconv records` command reads through `RecordSource`, which walks the input files in
path order with tfrconv's one tolerant reader (`tfrconv.tfrecord.scan_records`) and applies one
damaged-record policy: `on_error="error"` stops at the first bad record with a message naming
the shard and the record index; `"skip"` leaves it out, counts it, and goes on (a damaged
length or a truncated file ends that file, as nothing after it can be found).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import keys as K
from ..errors import DataError, UsageError
from ..example import OBJECT_FIELDS
from ..features import decode_typed
from ..labelmap import LabelMap
from ..manifest import find_label_map
from ..sample import ImageLabel, Object, Sample
from ..tfrecord import Record, record_paths, scan_records

ON_ERROR_CHOICES = ("error", "skip")
Features = dict[str, tuple[str | None, list]]

# Keys `sample_from_features` turns into Sample fields; anything else goes to `extra`.
_IMAGE_KEYS = {K.ENCODED, K.FILENAME, K.SOURCE_ID, K.HEIGHT, K.WIDTH,
               K.CLASS_TEXT, K.CLASS_LABEL, K.CLASS_CONFIDENCE, K.NEG_CATEGORY_IDS}
_OBJECT_KEYS = {*K.BOX_KEYS, K.OBJECT_CLASS_TEXT, K.OBJECT_CLASS_LABEL, K.OBJECT_MASK,
                *(key for key, _kind, _default in OBJECT_FIELDS.values())}
# What copying, splitting and counting an example needs of it.
IDENTITY_KEYS = frozenset({K.SOURCE_ID, K.KEY_SHA256, K.OBJECT_CLASS_TEXT, K.OBJECT_CLASS_LABEL})

# Per-object keys share this prefix (derived: keys are spelled only in tfrconv.keys).
OBJECT_PREFIX = K.OBJECT_AREA.rpartition("/")[0] + "/"


def input_paths(paths_or_globs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """The record files named by a path, glob or folder, or a list of them (in order given,
    each glob sorted); UsageError when one names nothing."""
    if isinstance(paths_or_globs, (str, os.PathLike)):
        paths_or_globs = [paths_or_globs]
    paths: dict[str, None] = {}                    # ordered, each file once
    for entry in paths_or_globs:
        for path in record_paths(os.fspath(entry)):
            paths[path] = None
    if not paths:
        raise UsageError("no record files given")
    return list(paths)


def check_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR_CHOICES:
        raise UsageError(f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}, "
                         f"got {on_error!r}")
    return on_error


@dataclass
class Skipped:
    """Records left out under `on_error="skip"`: how many, and the first few, described."""

    count: int = 0
    first: list[str] = field(default_factory=list)
    KEEP = 20

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.first) < self.KEEP:
            self.first.append(text)


class RecordSource:
    """The records of a list of files, in order, under one damaged-record policy."""

    def __init__(self, paths_or_globs: Any, *, on_error: str = "error") -> None:
        self.on_error = check_on_error(on_error)
        self.paths = input_paths(paths_or_globs)
        self.skipped = Skipped()
        self.ahead = None            # a `ahead.ReadAhead` reading later files, if any

    def records(self) -> Iterator[Record]:
        """Each whole record (its payload checked against its CRC), with path and index."""
        for path in self.paths:
            for record in scan_records(path):
                if record.payload is None:
                    self.reject(record, record.error or "unreadable")
                    continue
                yield record

    def features(self, keys: Collection[str] | None = None
                 ) -> Iterator[tuple[Record, Features]]:
        """Each record with its decoded, typed features (records that are not Examples are
        damaged records too). With `keys`, at least those keys are decoded, straight from the
        wire where that is possible (`peek`: the image is never copied), else all of them.
        Files a helper has read ahead (`ahead`) are replayed from its results (their records
        are `ahead.ReadRecord`s)."""
        for path in self.paths:
            if self.ahead is not None and path in self.ahead.numbers:
                found_records = self.ahead.replay(path)
            else:
                found_records = path_features(path, keys)
            for record, found, reason in found_records:
                if reason is None:
                    yield record, found
                else:
                    self.reject(record, reason)

    def decode(self, record: Record) -> Features | None:
        """All the features of one record (None, under `skip`, when it is not an Example)."""
        try:
            return decode_typed(record.payload)
        except ValueError as exc:
            self.reject(record, str(exc))
            return None

    def reject(self, record: Record, reason: str) -> None:
        """Apply the policy to one bad record: raise, or count it and go on."""
        text = f"record {record.index} (offset {record.offset}): {reason}"
        if self.on_error == "error":
            raise DataError(f"{text}; --on-error skip leaves damaged records out",
                            file=record.path)
        self.skipped.add(f"{record.path}: {text}")

    def report_skipped(self, stream=None) -> None:
        """One line per skipped record (the first 20) and a count, on stderr."""
        stream = stream or sys.stderr
        for line in self.skipped.first:
            print(f"tfrconv: skipped {line}", file=stream)
        if self.skipped.count > len(self.skipped.first):
            print(f"tfrconv: ... {self.skipped.count - len(self.skipped.first)} more damaged "
                  "records skipped", file=stream)


def path_features(path: str, keys: Collection[str] | None
                  ) -> Iterator[tuple[Record, Features | None, str | None]]:
    """Each record of one file with its features (see `RecordSource.features`), or None and
    the reason it is damaged."""
    from .peek import peek

    for record in scan_records(path):
        if record.payload is None:
            yield record, None, record.error or "unreadable"
            continue
        found = peek(record.payload, keys) if keys else None
        if found is None:
            try:
                found = decode_typed(record.payload)
            except ValueError as exc:
                yield record, None, str(exc)
                continue
        yield record, found, None


def read_samples(paths_or_globs: Any, *, label_map: LabelMap | str | os.PathLike | None = None,
                 on_error: str = "error") -> Iterator[Sample]:
    """Yield a `Sample` for every example in OD-API records from any producer.

    `paths_or_globs`: a record file, a shard glob (``"train.record-*"``), a folder of record
    files, or a list of these; files are read in the order given (each glob sorted), GZIP
    detected from the bytes.

    Each `Sample` has the image bytes inline (`image_bytes`), `width`/`height` as stored,
    boxes normalized (`normalized=True`, in 0..1 as stored), one `Object` per box with the
    optional fields the record has (difficult, truncated, occluded, pose from
    ``image/object/view``, group_of, is_crowd, depiction, inside, area, weight, PNG masks),
    image-level labels, and `origin` = ``"<file>:<record index>"``. Every other feature is kept
    in `extra` (per object when it has one value per box, else on the sample; ``image/format``
    and ``image/key/sha256`` included), so nothing the record holds is lost.

    `label_map` (a `LabelMap`, a file or a builtin name) names objects whose records carry a
    class id but no ``image/object/class/text``; by default the label map beside the records
    is used when there is one (the manifest's, ``<name>.label_map.pbtxt``, ``label_map.pbtxt``),
    and an unnamed id becomes its number as text.

    `on_error`: ``"error"`` raises `DataError` at the first damaged record (bad CRC, truncated
    file, not an Example, inconsistent list lengths), naming the file and record index;
    ``"skip"`` leaves damaged records out and goes on, reporting each on stderr when done.
    """
    source = RecordSource(paths_or_globs, on_error=on_error)
    names = _class_names(label_map, source.paths)
    try:
        for record, features in source.features():
            try:
                sample = sample_from_features(features, names)
            except ValueError as exc:
                source.reject(record, str(exc))
                continue
            sample.origin = f"{record.path}:{record.index}"
            yield sample
    finally:
        source.report_skipped()


def _class_names(label_map: Any, paths: list[str]) -> dict[int, str]:
    found = input_label_map(paths, label_map)
    if found is None:
        return {}
    return {item_id: item.name for item_id, item in found.by_id().items()}


def input_label_map(paths: list[str], given: Any = None) -> LabelMap | None:
    """The label map `given` (a LabelMap, file or builtin name), else the one beside the first
    record file (see `tfrconv.manifest.find_label_map`), else None."""
    from ..labelmap_refs import load_label_map

    if given is None:
        given = find_label_map(paths[0])
        if given is None:
            return None
    return load_label_map(given)


def shard_key(record: Record, features: Features) -> str:
    """What picks an example's shard: its source id as in conversion; else its image's sha256;
    else its place in the inputs (records without either still spread over the shards)."""
    for key in (K.SOURCE_ID, K.KEY_SHA256):
        found = features.get(key, (None, []))[1]
        if found and found[0]:
            return _text(found[0])
    return f"{record.path}:{record.index}"


_NONE: tuple = (None, ())
# Distinct class lists remembered by `ClassMemo` before it starts over (memory stays flat).
_MEMO_SIZE = 4096


class ClassMemo(dict):
    """What a command worked out from an example's classes, kept per distinct pair of class
    texts and ids: images repeat the same few, and names, ids and counts then cost one lookup.
    `key(features)` is the pair; `keep(key, value)` stores, forgetting all past `_MEMO_SIZE`."""

    @staticmethod
    def key(features: Features) -> tuple:
        return (tuple(features.get(K.OBJECT_CLASS_TEXT, _NONE)[1]),
                tuple(features.get(K.OBJECT_CLASS_LABEL, _NONE)[1]))

    def keep(self, key: tuple, value: Any) -> Any:
        if len(self) >= _MEMO_SIZE:
            self.clear()
        self[key] = value
        return value


def image_key(features: Features, fallback: str) -> str:
    """What identifies an example's image: its stated sha256, else `fallback`."""
    found = features.get(K.KEY_SHA256, (None, []))[1]
    return _text(found[0]) if found and found[0] else fallback


def sample_from_features(features: Features, names: dict[int, str] | None = None) -> Sample:
    """One decoded example as a `Sample` (see `read_samples`); ValueError when its per-object
    lists disagree in length."""
    names = names or {}

    def values(key: str) -> list:
        entry = features.get(key)
        return entry[1] if entry else []

    def one(key: str, default: Any = None) -> Any:
        found = values(key)
        return found[0] if found else default

    boxes = [values(key) for key in K.BOX_KEYS]
    count = len(boxes[0])
    per_object = {key: values(key) for key in _OBJECT_KEYS if key in features}
    per_object.pop(K.OBJECT_MASK, None)        # numerical masks are H*W floats per object
    for key, found in per_object.items():
        if len(found) != count:
            raise ValueError(f"{key} has {len(found)} values for {count} boxes")
    texts = values(K.OBJECT_CLASS_TEXT)
    labels = values(K.OBJECT_CLASS_LABEL)
    masks = values(K.OBJECT_MASK)
    png_masks = len(masks) == count and all(isinstance(m, bytes) for m in masks)
    extra_per_object = {key: vals for key, (_kind, vals) in features.items()
                        if key.startswith(OBJECT_PREFIX) and key not in _OBJECT_KEYS
                        and len(vals) == count and count > 0}

    objects = []
    for i in range(count):
        if texts:
            label = _text(texts[i])
        elif labels:
            label = names.get(labels[i], str(labels[i]))
        else:
            label = ""
        obj = Object(label=label, xmin=boxes[0][i], ymin=boxes[1][i], xmax=boxes[2][i],
                     ymax=boxes[3][i])
        for attr, (key, kind, _default) in OBJECT_FIELDS.items():
            if key in features:
                value = features[key][1][i]
                setattr(obj, attr, _text(value) if kind == "bytes" else value)
        if png_masks:
            obj.mask = masks[i]
        obj.extra = {key: vals[i] for key, vals in extra_per_object.items()}
        objects.append(obj)

    class_texts = values(K.CLASS_TEXT)
    confidences = values(K.CLASS_CONFIDENCE) or [1.0] * len(class_texts)
    image_labels = [ImageLabel(_text(t), c) for t, c in zip(class_texts, confidences)]
    extra = {key: vals[0] if len(vals) == 1 else list(vals)
             for key, (_kind, vals) in features.items()
             if key not in _IMAGE_KEYS and key not in _OBJECT_KEYS
             and key not in extra_per_object}
    if masks and not png_masks:
        extra[K.OBJECT_MASK] = list(masks)
    return Sample(source_id=_text(one(K.SOURCE_ID, b"")), filename=_text(one(K.FILENAME, b"")),
                  image_bytes=one(K.ENCODED), width=one(K.WIDTH), height=one(K.HEIGHT),
                  objects=objects, image_labels=image_labels, normalized=True, extra=extra)


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
