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

Each map entry is a head (tags and lengths, which depend only on the key, the kind and the
size of the values' encoding, so it is cached) followed by the values' encoding. Small int and
bytes features that repeat from image to image (size, format, class names, flags) are cached
whole.
"""

from __future__ import annotations

import math
import struct

# Bytes values at least this long stay separate pieces (copying them is the cost to avoid).
LARGE = 4096

_SMALL_VARINTS = [bytes([n]) for n in range(128)]
_KIND_TAG = {"bytes": b"\x0a", "float": b"\x12", "int": b"\x1a"}
_F32 = struct.Struct("<f")

_ORDER: dict[str, bytes] = {}                       # key → its sort key
_SORTED: dict[tuple[str, ...], list[str]] = {}      # a features dict's keys → sorted
_KEY_FIELDS: dict[str, bytes] = {}                  # key → its encoded map-entry key field
_HEADS: dict[tuple[str, str, int], bytes] = {}      # (key, kind, size of values) → entry head
_CACHED_SIZE = 256                                  # heads of larger values are not kept
# key → {(kind, *values): whole entry}; a key whose values never repeat (file names, hashes)
# fills its _PER_KEY slots and then costs one failed lookup per image.
_ENTRIES: dict[str, dict[tuple, bytes]] = {}
_PER_KEY = 64


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


def encode(features: dict[str, tuple[str, list]]) -> list[bytes]:
    """A serialized Example as pieces; `b"".join(pieces)` is the record payload.

    `features` maps key → (kind, values) with kind "int", "float" or "bytes".
    """
    if not features:
        return []                           # an Example with nothing set, as protobuf writes
    pieces: list[bytes] = []                # finished pieces, large values among them
    small: list[bytes] = []                 # small chunks waiting to be joined into a piece
    entries, heads = _ENTRIES, _HEADS
    keys = tuple(features)                  # the same keys in the same order, image after image
    ordered = _SORTED.get(keys)
    if ordered is None:
        ordered = sorted(keys, key=_order)
        if len(_SORTED) < _PER_KEY:
            _SORTED[keys] = ordered
    for key in ordered:
        kind, values = features[key]
        memo = seen = None
        if kind != "float" and len(values) <= 8 and \
                (kind == "int" or sum(map(len, values)) <= 200):
            seen = entries.get(key)
            if seen is None:
                seen = entries[key] = {}
            memo = (kind, *values)
            try:
                entry = seen.get(memo)
            except TypeError:               # an unhashable value: encoding says what is wrong
                entry = memo = None
            if entry is not None:
                small.append(entry)
                continue
        if kind == "float":
            body = _floats(values)
        elif kind == "int":
            body = _ints(values)
        elif kind == "bytes":
            body = _bytes_list(values, key)
        else:
            raise ValueError(f"feature {key!r}: unknown kind {kind!r}")
        if isinstance(body, bytes):
            size = len(body)
            head = heads.get((key, kind, size)) or _head(key, kind, size)
            if memo is not None and len(seen) < _PER_KEY:
                seen[memo] = head + body
            small.append(head)
            small.append(body)
        else:                               # a bytes list holding large values: pieces
            size = sum(map(len, body))
            small.append(heads.get((key, kind, size)) or _head(key, kind, size))
            for chunk in body:
                if len(chunk) >= LARGE:
                    pieces.append(b"".join(small))
                    small.clear()
                    pieces.append(chunk)
                else:
                    small.append(chunk)
    pieces.append(b"".join(small))
    # Example.features: one length-delimited field around everything.
    pieces[0] = b"\x0a" + varint(sum(map(len, pieces))) + pieces[0]
    return [piece for piece in pieces if piece]


def _order(key: str) -> bytes:
    """protobuf's (upb's) deterministic map order: by UTF-8 bytes, except that of two keys
    where one is a prefix of the other the longer comes first. A trailing 0xFF, a byte UTF-8
    never contains, gives exactly that order."""
    order = _ORDER.get(key)
    if order is None:
        order = _ORDER[key] = key.encode("utf-8") + b"\xff"
    return order


def _head(key: str, kind: str, size: int) -> bytes:
    """Everything of a map entry before its values' encoding of `size` bytes."""
    key_field = _KEY_FIELDS.get(key)
    if key_field is None:
        raw = key.encode("utf-8")
        key_field = _KEY_FIELDS[key] = b"\x0a" + varint(len(raw)) + raw
    if kind == "bytes":
        values_field = b""                  # BytesList: the values are its fields already
        inner = size
    else:                                   # packed: one length-delimited field, or none
        values_field = b"\x0a" + varint(size) if size else b""
        inner = len(values_field) + size
    feature = _KIND_TAG[kind] + varint(inner) + values_field      # (+ values)
    value_field = b"\x12" + varint(len(feature) + size)
    entry_size = len(key_field) + len(value_field) + len(feature) + size
    head = b"\x0a" + varint(entry_size) + key_field + value_field + feature
    if size < _CACHED_SIZE:
        _HEADS[(key, kind, size)] = head
    return head


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
        packed = bytes(values)              # the usual case, 0 <= v < 128: one byte each
        if packed.isascii():
            return packed
    except (TypeError, ValueError):
        pass
    return b"".join([varint(int(v)) for v in values])


def _bytes_list(values: list, key: str) -> bytes | list[bytes]:
    """BytesList's fields: a tag and a length before each value. Joined into one bytes object,
    unless a value is large: then a list of chunks with each large value apart, uncopied."""
    if len(values) == 1:
        value = values[0]
        if not isinstance(value, bytes):
            value = _as_bytes(value, key)
        if len(value) < LARGE:
            return b"\x0a" + varint(len(value)) + value
        return [b"\x0a" + varint(len(value)), value]
    chunks: list[bytes] = []
    large = False
    for value in values:
        if not isinstance(value, bytes):
            value = _as_bytes(value, key)
        chunks.append(b"\x0a" + varint(len(value)))
        chunks.append(value)
        large = large or len(value) >= LARGE
    return chunks if large else b"".join(chunks)


def _as_bytes(value, key: str) -> bytes:
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"feature {key!r}: a bytes feature needs bytes values, got "
                    f"{type(value).__name__}")
