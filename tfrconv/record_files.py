"""Reading record files to look at them: tolerant framing and the label map beside them.

`tfrconv.tfrecord.iter_records` stops at the first damaged record, which is right for reading
data. Inspect and verify want to see as much as they can: a record whose payload fails its CRC
(a flipped bit) is reported and skipped, and reading goes on with the next one, because its
length is intact. Only a damaged length or a file that ends inside a record stops the file.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from .tfrecord import GZIP_MAGIC, masked_crc

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


@dataclass(frozen=True)
class Record:
    """One record slot of a file: the payload, or what is wrong with it."""

    path: str
    index: int
    offset: int                 # byte offset of the record (uncompressed stream for GZIP)
    payload: bytes | None       # None when the record could not be read
    error: str | None = None
    fatal: bool = False         # the rest of the file cannot be read


def is_gzip(path: str) -> bool:
    with open(path, "rb") as fileobj:
        head = fileobj.read(12)
    if head[:2] != GZIP_MAGIC:
        return False
    # A plain record file could start with these two bytes; its header CRC tells them apart.
    return not (len(head) == 12 and _FOOTER.unpack(head[8:])[0] == masked_crc(head[:8]))


def scan_records(path: str) -> Iterator[Record]:
    """Every record of one file, in order; damaged ones (and a file that cannot be opened)
    come with an error instead of a payload. Never raises for bad content."""
    try:
        compressed = is_gzip(path)
        size = None if compressed else os.path.getsize(path)
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        yield Record(path, 0, 0, None, f"cannot read the file: {exc.strerror or exc}",
                     fatal=True)
        return
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    index = offset = 0
    where = "uncompressed offset" if compressed else "offset"
    try:
        while True:
            try:
                header = stream.read(12)
                if not header:
                    return
                if len(header) < 12:
                    what = (f"only {len(header)} bytes: not a TFRecord file" if index == 0 else
                            "file ends inside a record header (truncated file)")
                    yield Record(path, index, offset, None, what, fatal=True)
                    return
                length, length_crc = _HEADER.unpack(header)
                if length_crc != masked_crc(header[:8]):
                    what = ("not a TFRecord file (the first record's length fails its CRC)"
                            if index == 0 else "corrupt record length (CRC mismatch); the rest "
                            "of the file cannot be read")
                    yield Record(path, index, offset, None, what, fatal=True)
                    return
                if size is not None and offset + 16 + length > size:
                    yield Record(path, index, offset, None, f"file ends inside the record "
                                 f"({length} bytes announced, {size - offset - 12} left; "
                                 "truncated file)", fatal=True)
                    return
                body = stream.read(length + 4)
            except (OSError, EOFError, zlib.error) as exc:
                yield Record(path, index, offset, None, f"cannot read ({where} {offset}): "
                             f"{exc}", fatal=True)
                return
            if len(body) < length + 4:
                yield Record(path, index, offset, None, "file ends inside the record "
                             "(truncated file)", fatal=True)
                return
            payload = body[:length]
            if _FOOTER.unpack(body[length:])[0] != masked_crc(payload):
                yield Record(path, index, offset, None, "data CRC mismatch: the record's "
                             "bytes are corrupt (TensorFlow stops reading the file here)")
            else:
                yield Record(path, index, offset, payload)
            index += 1
            offset += 16 + length
    finally:
        stream.close()
        raw.close()


SIDECAR_SUFFIXES = (".json", ".pbtxt", ".txt", ".csv", ".md", ".html", ".png", ".jpg")


def record_paths(path_or_glob: str) -> list[str]:
    """The record files a path names: a file, a glob, or a folder (its files whose names
    contain "record", as FiftyOne and most scripts name them; manifests and label maps aside)."""
    from .errors import UsageError
    from .tfrecord import expand_paths

    if os.path.isdir(path_or_glob):
        found = sorted(entry.path for entry in os.scandir(path_or_glob)
                       if entry.is_file() and "record" in entry.name.lower()
                       and not entry.name.endswith(SIDECAR_SUFFIXES))
        if not found:
            raise UsageError(f"{path_or_glob} is a folder without record files (no file name "
                             "contains 'record'); name the files or a glob instead")
        return found
    return expand_paths(path_or_glob)


def find_label_map(path_or_glob: str) -> str | None:
    """The label map that belongs to a record path or glob: the tfrconv manifest's label map,
    the `<name>.label_map.pbtxt` sidecar, or a `label_map.pbtxt` in the same folder (what
    Datumaro and many scripts write)."""
    import json

    from .manifest import find_manifest, label_map_path

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
