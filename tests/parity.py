"""Parity with the reference converters: every feature's kind and values, exactly.

Comparing parsed tensors or plain Python lists lets `[1] == [1.0]` pass, so a converter writing
an int64 list as floats would look equal. Here each feature is read from the serialized
`tf.train.Example` (TensorFlow's own parser, not tfrconv's) as (kind, values), and both must
match: the kind by name, floats by their float32 bits (NaN equals NaN, -0.0 differs from 0.0).
"""

from __future__ import annotations

import reprlib
import struct
from collections.abc import Callable, Iterable

KINDS = ("bytes_list", "float_list", "int64_list")


def typed_features(payload: bytes) -> dict[str, tuple[str, list]]:
    """key -> (kind, values) of one serialized tf.train.Example."""
    import tensorflow as tf

    example = tf.train.Example.FromString(payload)
    out = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        if kind == "float_list":                # float32 bit patterns: exact, NaN-safe
            values = [struct.pack("<f", v) for v in values]
        out[key] = (kind, values)
    return out


def assert_same_kinds_and_values(ours: bytes, reference: bytes, *, where: str = "",
                                 differ: Iterable[str] = (), ours_only: Iterable[str] = (),
                                 compare: dict[str, Callable] | None = None,
                                 empty_or_absent: Iterable[str] = ()) -> None:
    """Every key of the reference example is in ours with the same kind and values.

    differ: keys both write, documented to hold other values (their kinds still must match);
    ours_only: keys we add that the reference does not write (any other extra key fails);
    compare: key -> function mapping a value to what must be equal (e.g. PNG bytes -> pixels);
    empty_or_absent: keys one side may leave out where the other writes an empty list (the OD
    API decoder reads both as empty).
    """
    mine, theirs = typed_features(ours), typed_features(reference)
    differ, compare, optional = set(differ), compare or {}, set(empty_or_absent)
    for side, other in ((mine, theirs), (theirs, mine)):
        for key in optional & (set(side) - set(other)):
            if not side[key][1]:
                del side[key]
    extra = set(mine) - set(theirs) - set(ours_only)
    assert not extra, f"{where}: keys the reference does not write: {sorted(extra)}"
    for key, (kind, values) in sorted(theirs.items()):
        assert key in mine, f"{where}: {key} missing (the reference writes it)"
        our_kind, our_values = mine[key]
        assert our_kind == kind, f"{where}: {key} is a {our_kind}, the reference's a {kind}"
        if key in differ:
            continue
        if key in compare:
            our_values = [compare[key](v) for v in our_values]
            values = [compare[key](v) for v in values]
        assert our_values == values, \
            f"{where}: {key} values differ: {reprlib.repr(our_values)} != {reprlib.repr(values)}"
