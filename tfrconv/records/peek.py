"""A few features of a serialized Example, read straight from the wire format.

Copying, splitting or counting records needs only the source id, the image hash and the
classes, not the image: decoding the whole Example with protobuf costs more than copying its
bytes. `peek` walks the Example's map entries, skips every value it was not asked for without
touching it, and decodes the rest. Anything unusual (a field it does not expect, unpacked
repeated numbers, a truncated varint) gives None and the caller decodes with protobuf instead,
so the result is always what protobuf would give.

    Example { Features features = 1 }   Features { map<string, Feature> feature = 1 }
    Feature { oneof { BytesList bytes_list = 1; FloatList float_list = 2;
                      Int64List int64_list = 3 } }          each: repeated value = 1
"""

from __future__ import annotations

import struct
from collections.abc import Collection

# {key: (kind, values)}, as `tfrconv.features.decode_typed` gives.
Features = dict[str, tuple[str | None, list]]

_KINDS = {0x0A: "bytes", 0x12: "float", 0x1A: "int"}


class _Unusual(Exception):
    """The payload is not in the plain shape this reader handles."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Unusual
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _field(data: bytes, pos: int, tag: int, end: int) -> tuple[int, int]:
    """The (start, end) of a length-delimited field with `tag` at `pos`."""
    if pos >= end or data[pos] != tag:
        raise _Unusual
    length = data[pos + 1]
    if length < 0x80:                       # the usual one-byte length, without a call
        pos += 2
    else:
        length, pos = _varint(data, pos + 1)
    if pos + length > end:
        raise _Unusual
    return pos, pos + length


def _values(data: bytes, start: int, end: int, kind: str) -> list:
    if start == end:
        return []
    if kind == "bytes":
        out, pos = [], start
        while pos < end:
            if data[pos] == 0x0A and data[pos + 1] < 0x80:     # the usual short value
                begin = pos + 2
                pos = begin + data[pos + 1]
            else:
                begin, pos = _field(data, pos, 0x0A, end)
            out.append(data[begin:pos])
        if pos != end:
            raise _Unusual
        return out
    begin, stop = _field(data, start, 0x0A, end)            # packed values only
    if stop != end:
        raise _Unusual
    if kind == "float":
        if (stop - begin) % 4:
            raise _Unusual
        return list(struct.unpack(f"<{(stop - begin) // 4}f", data[begin:stop]))
    packed = data[begin:stop]
    if not packed or max(packed) < 0x80:                     # every value under 128
        return list(packed)
    out, pos = [], begin
    while pos < stop:
        value, pos = _varint(data, pos)
        out.append(value - (1 << 64) if value >= 1 << 63 else value)
    return out


# keys asked for → ({key as bytes: key}, the lengths of those keys in bytes)
_WANTED: dict[frozenset, tuple[dict[bytes, str], frozenset]] = {}


def peek(payload: bytes, wanted: Collection[str]) -> Features | None:
    """{key: (kind, values)} for the `wanted` keys present, or None when the payload should
    be decoded with protobuf instead."""
    wanted = frozenset(wanted)
    found_keys = _WANTED.get(wanted)
    if found_keys is None:
        raw = {key.encode("utf-8"): key for key in wanted}
        found_keys = _WANTED[wanted] = (raw, frozenset(map(len, raw)))
    raw, lengths = found_keys
    try:
        start, end = _field(payload, 0, 0x0A, len(payload))
        if end != len(payload):
            raise _Unusual
        found: Features = {}
        pos = start
        while pos < end:
            # One map entry: 0x0A, its length, then the key field (0x0A, length, key bytes).
            if payload[pos] != 0x0A:
                raise _Unusual
            length = payload[pos + 1]
            if length < 0x80:
                entry, pos = pos + 2, pos + 2 + length
            else:
                entry, pos = _field(payload, pos, 0x0A, end)
            if pos > end or payload[entry] != 0x0A:
                raise _Unusual
            key_length = payload[entry + 1]
            if key_length < 0x80:
                if key_length not in lengths:      # most keys: not even sliced out
                    continue
                key_start = entry + 2
                key_end = key_start + key_length
            else:
                key_start, key_end = _field(payload, entry, 0x0A, pos)
            text = raw.get(payload[key_start:key_end])
            if text is None:
                continue
            if text in found:
                raise _Unusual                               # a repeated key: protobuf merges
            # The value: 0x12, its length, then one list (tag = its kind, length, values);
            # it ends where the entry ends.
            value_start, value_end = _field(payload, key_end, 0x12, pos)
            if value_end != pos:
                raise _Unusual
            if value_start == value_end:
                found[text] = (None, [])
                continue
            tag = payload[value_start]
            kind = _KINDS.get(tag)
            if kind is None:
                raise _Unusual
            list_start, list_end = _field(payload, value_start, tag, value_end)
            if list_end != value_end:
                raise _Unusual
            found[text] = (kind, _values(payload, list_start, list_end, kind))
        return found
    except (_Unusual, struct.error, IndexError):
        return None
