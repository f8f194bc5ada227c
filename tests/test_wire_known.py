"""The hand-written Example encoder against wire bytes written out by hand (protobuf's encoding
rules: tags, varint lengths, packed float32/int64), and its pieces (large values uncopied).

Each expected payload is spelled field by field from the outside in; `test_wire.py` compares
the same encoder with protobuf's serializer on generated features. Keys are unique per test:
the encoder caches entries by key across calls.
"""

from __future__ import annotations

import pytest

from tfrconv import wire


def payload(features) -> bytes:
    return b"".join(wire.encode(features))


@pytest.mark.parametrize("value,expected", [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
    (16384, b"\x80\x80\x01"), (2**63 - 1, b"\xff" * 8 + b"\x7f"),
    (-1, b"\xff" * 9 + b"\x01"), (-(2**63), b"\x80" * 9 + b"\x01"),
])
def test_varints(value, expected):
    assert wire.varint(value) == expected


def test_no_features_is_an_empty_example():
    assert wire.encode({}) == []


# Example{features(1)} ⊃ Features{feature(1): map entry} ⊃ entry{key(1), value(2): Feature}
# ⊃ Feature{bytes_list(1) | float_list(2) | int64_list(3)} ⊃ the list's value field(1).
@pytest.mark.parametrize("features,expected", [
    ({"i1": ("int", [1])},
     b"\x0a\x0d" b"\x0a\x0b" b"\x0a\x02i1" b"\x12\x05" b"\x1a\x03" b"\x0a\x01\x01"),
    ({"i2": ("int", [0, 127, 128, 300])},                  # 128 and 300: two bytes each
     b"\x0a\x12" b"\x0a\x10" b"\x0a\x02i2" b"\x12\x0a" b"\x1a\x08" b"\x0a\x06"
     b"\x00\x7f\x80\x01\xac\x02"),
    ({"i3": ("int", [-1])},                                # ten bytes, two's complement
     b"\x0a\x16" b"\x0a\x14" b"\x0a\x02i3" b"\x12\x0e" b"\x1a\x0c" b"\x0a\x0a"
     b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
    ({"i4": ("int", [True, 2.0])},                         # bool and a whole float as ints
     b"\x0a\x0e" b"\x0a\x0c" b"\x0a\x02i4" b"\x12\x06" b"\x1a\x04" b"\x0a\x02\x01\x02"),
    ({"i5": ("int", [])},                                  # an empty list: kind tag, no values
     b"\x0a\x0a" b"\x0a\x08" b"\x0a\x02i5" b"\x12\x02" b"\x1a\x00"),
    ({"f1": ("float", [1.0, -2.5])},                       # float32 little-endian
     b"\x0a\x14" b"\x0a\x12" b"\x0a\x02f1" b"\x12\x0c" b"\x12\x0a" b"\x0a\x08"
     b"\x00\x00\x80\x3f" b"\x00\x00\x20\xc0"),
    ({"f2": ("float", [])},
     b"\x0a\x0a" b"\x0a\x08" b"\x0a\x02f2" b"\x12\x02" b"\x12\x00"),
    ({"f3": ("float", [1.0, 1e39, -1e39])},                # beyond float32: ±inf, as protobuf
     b"\x0a\x18" b"\x0a\x16" b"\x0a\x02f3" b"\x12\x10" b"\x12\x0e" b"\x0a\x0c"
     b"\x00\x00\x80\x3f" b"\x00\x00\x80\x7f" b"\x00\x00\x80\xff"),
    ({"b1": ("bytes", [b"xy"])},                           # each value its own field
     b"\x0a\x0e" b"\x0a\x0c" b"\x0a\x02b1" b"\x12\x06" b"\x0a\x04" b"\x0a\x02xy"),
    ({"b2": ("bytes", [b"x", b"", bytearray(b"yz")])},
     b"\x0a\x13" b"\x0a\x11" b"\x0a\x02b2" b"\x12\x0b" b"\x0a\x09"
     b"\x0a\x01x" b"\x0a\x00" b"\x0a\x02yz"),
    ({"b3": ("bytes", [memoryview(b"m")])},
     b"\x0a\x0d" b"\x0a\x0b" b"\x0a\x02b3" b"\x12\x05" b"\x0a\x03" b"\x0a\x01m"),
    ({"b4": ("bytes", [])},
     b"\x0a\x0a" b"\x0a\x08" b"\x0a\x02b4" b"\x12\x02" b"\x0a\x00"),
    ({"\u00e9": ("int", [5])},                             # the key's UTF-8 bytes
     b"\x0a\x0d" b"\x0a\x0b" b"\x0a\x02\xc3\xa9" b"\x12\x05" b"\x1a\x03" b"\x0a\x01\x05"),
])
def test_one_feature_known_bytes(features, expected):
    assert payload(features) == expected
    assert payload(dict(features)) == expected                 # again, from the caches


def test_cached_entries_are_per_value():
    assert payload({"c1": ("int", [1])})[-1:] == b"\x01"
    assert payload({"c1": ("int", [2])})[-1:] == b"\x02"
    assert payload({"c1": ("bytes", [b"\x01"])}) != payload({"c1": ("int", [1])})
    assert payload({"c2": ("bytes", [b"p"])})[-1:] == b"p"
    assert payload({"c2": ("bytes", [b"q"])})[-1:] == b"q"


def entry(key: bytes, int_value: int) -> bytes:
    """One map entry of a one-value int feature below 128, spelled out."""
    return b"\x0a" + bytes([len(key) + 9]) + b"\x0a" + bytes([len(key)]) + key + \
        b"\x12\x05\x1a\x03\x0a\x01" + bytes([int_value])


@pytest.mark.parametrize("keys,order", [
    # by UTF-8 bytes; of a key and its prefix, the longer first (upb's order)
    (["o/b", "o/a", "o/ab", "o/"], ["o/ab", "o/a", "o/b", "o/"]),
    (["o\uffff", "o\U0001d11e", "oz"], ["oz", "o\uffff", "o\U0001d11e"]),
])
def test_map_entries_in_upbs_order(keys, order):
    features = {key: ("int", [index]) for index, key in enumerate(keys)}
    body = b"".join(entry(key.encode("utf-8"), keys.index(key)) for key in order)
    expected = b"\x0a" + bytes([len(body)]) + body
    assert payload(features) == expected
    assert payload(dict(reversed(features.items()))) == expected


def test_a_large_value_is_its_own_piece_and_the_rest_joined():
    big = bytes(range(256)) * 16                       # exactly LARGE: 4096 bytes
    assert len(big) == wire.LARGE == 4096
    pieces = wire.encode({"img": ("bytes", [big])})
    # entry = key(5) + value head(3) + Feature head(3) + BytesList field head(3) + 4096 = 4110;
    # Features field = 3 + 4110 = 4113. Varints: 4096 = 80 20, 4099 = 83 20, 4102 = 86 20,
    # 4110 = 8e 20, 4113 = 91 20.
    assert pieces == [b"\x0a\x91\x20" b"\x0a\x8e\x20" b"\x0a\x03img" b"\x12\x86\x20"
                      b"\x0a\x83\x20" b"\x0a\x80\x20", big]
    assert pieces[1] is big                            # not copied


def test_values_just_below_large_are_joined():
    almost = b"a" * (wire.LARGE - 1)
    pieces = wire.encode({"img2": ("bytes", [almost])})
    assert len(pieces) == 1 and pieces[0].endswith(almost)
    pieces = wire.encode({"img3": ("bytes", [almost, b"b"])})
    assert len(pieces) == 1 and pieces[0].endswith(b"\x0a\x01b")


def test_large_values_among_small_ones_and_keys_after_them():
    big, other = b"B" * 5000, b"C" * 4096
    pieces = wire.encode({"m/a": ("bytes", [b"s", big, b"t", other]), "m/b": ("int", [7])})
    # BytesList: 0a 01 s | 0a 88 27 B*5000 | 0a 01 t | 0a 80 20 C*4096 = 9108 bytes;
    # Feature head 0a 94 47 (9108), value head 12 97 47 (9111), key 0a 03 m/a;
    # entry 5 + 3 + 3 + 9108 = 9119 (0a 9f 47); the m/b entry is 14 bytes.
    # Features: 3 + 9119 + 14 = 9136 (0a b0 47).
    assert pieces == [
        b"\x0a\xb0\x47" b"\x0a\x9f\x47" b"\x0a\x03m/a" b"\x12\x97\x47" b"\x0a\x94\x47"
        b"\x0a\x01s" b"\x0a\x88\x27",
        big,
        b"\x0a\x01t" b"\x0a\x80\x20",
        other,
        b"\x0a\x0c\x0a\x03m/b\x12\x05\x1a\x03\x0a\x01\x07",
    ]
    assert pieces[1] is big and pieces[3] is other


def test_a_large_value_last_leaves_no_empty_piece():
    big = b"L" * 4096
    pieces = wire.encode({"z/last": ("bytes", [b"", big])})
    assert pieces[-1] is big and all(pieces)


@pytest.mark.parametrize("values,got", [
    (["text"], "str"), ([b"ok", "text"], "str"), ([b"o"] * 8 + [2.5], "float")])
def test_bytes_features_need_bytes(values, got):
    with pytest.raises(TypeError, match=f"^feature 'bad': a bytes feature needs bytes "
                                        f"values, got {got}$"):
        wire.encode({"bad": ("bytes", values)})


def test_an_unhashable_value_is_reported_by_encoding():
    with pytest.raises(TypeError, match="^feature 'bad2': a bytes feature needs bytes values, "
                                        "got list$"):
        wire.encode({"bad2": ("bytes", [[1]])})


def test_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="^feature 'k': unknown kind 'text'$"):
        wire.encode({"k": ("text", [b"x"])})
