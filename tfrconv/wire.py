"""The protobuf wire format of `tf.train.Example`, written directly (no protobuf import).

Conversion spends most of its Python time per image, and the image bytes are most of each
record. Encoding here returns the serialized Example as a list of pieces in which every large
bytes value (the image, PNG masks) is its own piece, never copied: the pieces go to `pwritev`
and their CRC is computed piece by piece. Importing protobuf (~40 ms) is also avoided on the
conversion path.

The bytes equal `Example.SerializeToString(deterministic=True)` from protobuf and TensorFlow:
map entries in upb's sorted order, packed floats and ints, an empty list still present as an
empty list (tests compare with both).

    message Example  { Features features = 1; }
    message Features { map<string, Feature> feature = 1; }
    message Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                                    Int64List int64_list = 3; } }
    message BytesList { repeated bytes value = 1; }
    message FloatList { repeated float value = 1 [packed = true]; }
    message Int64List { repeated int64 value = 1 [packed = true]; }
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

# Bytes values at least this long stay separate pieces (copying them is the cost to avoid).
LARGE = 4096

_SMALL_VARINTS = [bytes([n]) for n in range(128)]
_SMALL_INTS = dict(enumerate(_SMALL_VARINTS))    # a dict: a negative index must not match
_KIND_TAG = {"bytes": b"\x0a", "float": b"\x12", "int": b"\x1a"}
_KEY_FIELDS: dict[str, bytes] = {}          # key → its encoded map-entry key field
_ORDER: dict[str, bytes] = {}               # key → its sort key
_F32 = struct.Struct("<f")


def varint(value: int) -> bytes:
    """An unsigned varint; a negative int64 as its 10-byte two's complement, as protobuf does."""
    if 0 <= value < 128:
        return _SMALL_VARINTS[value]
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _order(key: str) -> bytes:
    """protobuf's (upb's) deterministic map order: by UTF-8 bytes, except that of two keys
    where one is a prefix of the other the longer comes first. A trailing 0xFF, a byte UTF-8
    never contains, gives exactly that order."""
    order = _ORDER.get(key)
    if order is None:
        order = _ORDER[key] = key.encode("utf-8") + b"\xff"
    return order


def _key_field(key: str) -> bytes:
    field = _KEY_FIELDS.get(key)
    if field is None:
        raw = key.encode("utf-8")
        field = _KEY_FIELDS[key] = b"\x0a" + varint(len(raw)) + raw
    return field


def _floats(values: list) -> bytes:
    try:
        return struct.pack(f"<{len(values)}f", *values)
    except OverflowError:
        # A value that rounds beyond float32's range: protobuf stores ±inf, struct refuses.
        return b"".join([_float32(v) for v in values])


def _float32(value: float) -> bytes:
    try:
        return _F32.pack(value)
    except OverflowError:
        return _F32.pack(math.copysign(math.inf, value))


def _ints(values: list) -> bytes:
    try:
        return b"".join([_SMALL_INTS[v] for v in values])   # the usual case: 0 <= v < 128
    except (KeyError, TypeError):
        return b"".join([varint(int(v)) for v in values])


def encode(features: dict[str, tuple[str, list]]) -> list[bytes]:
    """A serialized Example as pieces; `b"".join(pieces)` is the record payload.

    `features` maps key → (kind, values) with kind "int", "float" or "bytes".
    """
    pieces: list[bytes] = []                # finished pieces, large values among them
    small: list[bytes] = []                 # small chunks waiting to be joined into a piece
    cache = _ENTRIES
    for key in sorted(features, key=_order):
        kind, values = features[key]
        memo = seen = None
        if kind != "float" and len(values) <= 8 and \
                (kind == "int" or sum(map(len, values)) <= 200):
            # Small int and bytes features mostly repeat from image to image (size, format,
            # class names and ids, flags): their encoded map entry is remembered per key.
            seen = cache.get(key)
            if seen is None:
                seen = cache[key] = {}
            memo = (kind, *values)
            try:
                entry = seen.get(memo)
            except TypeError:               # an unhashable value: _entry says what is wrong
                entry = memo = None
            if entry is not None:
                small.append(entry)
                continue
        chunks = _entry(key, kind, values)
        if memo is not None and len(seen) < _PER_KEY and len(chunks) == 1:
            seen[memo] = chunks[0]
        for chunk in chunks:
            if len(chunk) >= LARGE:
                pieces.append(b"".join(small))
                small.clear()
                pieces.append(chunk)
            else:
                small.append(chunk)
    pieces.append(b"".join(small))
    if not features:
        return []                           # an Example with nothing set, as protobuf writes
    # Example.features: one length-delimited field around everything.
    size = sum(map(len, pieces))
    pieces[0] = b"\x0a" + varint(size) + pieces[0]
    return [piece for piece in pieces if piece]


# key → {(kind, *values): encoded entry}; a key whose values never repeat (file names,
# hashes) fills its _PER_KEY slots and then costs one failed lookup per image.
_ENTRIES: dict[str, dict[tuple, bytes]] = {}
_PER_KEY = 64


def _entry(key: str, kind: str, values: list) -> list[bytes]:
    """One map entry (key, Feature) as chunks: its head joined with small values, large
    values apart."""
    if kind == "bytes":
        chunks = _bytes_values(values)
        size = sum(map(len, chunks))
    else:
        if kind == "float":
            packed = _floats(values)
        elif kind == "int":
            packed = _ints(values)
        else:
            raise ValueError(f"feature {key!r}: unknown kind {kind!r}")
        # Packed: one length-delimited field, absent for an empty list.
        chunks = [b"\x0a" + varint(len(packed)) + packed] if values else [b""]
        size = len(chunks[0])
    feature_head = _KIND_TAG[kind] + varint(size)
    entry_head = _key_field(key) + b"\x12" + varint(len(feature_head) + size) + feature_head
    head = b"\x0a" + varint(len(entry_head) + size) + entry_head
    if chunks and len(chunks[0]) < LARGE:
        chunks[0] = head + chunks[0]
    else:
        chunks.insert(0, head)
    return chunks


def _bytes_values(values: Iterable[bytes]) -> list[bytes]:
    """BytesList's fields: a tag and length before each value; large values left uncopied."""
    chunks: list[bytes] = []
    for value in values:
        if not isinstance(value, bytes):
            value = bytes(value)
        size = len(value)
        if size >= LARGE:
            chunks.append(b"\x0a" + varint(size))
            chunks.append(value)
        else:
            chunks.append(b"\x0a" + varint(size) + value)
    return chunks
