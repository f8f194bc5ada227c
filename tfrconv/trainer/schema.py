"""Pipeline-config message classes built at run time from the field table in `odapi_schema`.

The classes live in a private descriptor pool (never clashing with TensorFlow's or the OD API's
own), under the OD API's package name, so the text format they accept is exactly the OD API's.
"""

from __future__ import annotations

import difflib
import re
from functools import cache

from ..errors import UsageError

PACKAGE = "object_detection.protos"
MAX_FIELD_NUMBER = 536870911
SCALARS = ("double", "float", "int32", "int64", "uint32", "uint64", "bool", "string", "bytes")


def parse_table(text: str) -> tuple[dict, dict]:
    """The table → (messages, enums). messages: name → {"fields", "oneofs", "extensions",
    "map"}; enums: full name → [(value name, number)]."""
    messages: dict[str, dict] = {}
    enums: dict[str, list] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        words = line.split()
        nested = line.startswith(" ")
        try:
            if not nested and words[0] == "msg":
                current = words[1]
                messages[current] = {"fields": [], "oneofs": {}, "extensions": None, "map": None}
            elif not nested and words[0] == "map":
                current = None
                messages[words[1]] = {"fields": [], "oneofs": {}, "extensions": None,
                                      "map": (words[2], words[3])}
            elif not nested and words[0] == "enum":
                current = None
                enums.setdefault(words[1], []).extend(_enum_values(words[2:]))
            elif nested and current and words[0] == "enum":
                enums.setdefault(f"{current}.{words[1]}", []).extend(_enum_values(words[2:]))
            elif nested and current and words[0] == "oneof":
                group = words[1].rstrip(":")
                messages[current]["oneofs"].setdefault(group, []).extend(words[2:])
            elif nested and current and words[0] == "extensions":
                last = int(words[2]) if len(words) > 2 else MAX_FIELD_NUMBER
                messages[current]["extensions"] = (int(words[1]), last + 1)
            elif nested and current:
                field_number, name, kind = int(words[0]), words[1], words[2]
                default = " ".join(words[3:])[1:] if len(words) > 3 else None
                messages[current]["fields"].append((field_number, name, kind, default))
            else:
                raise ValueError("unexpected line")
        except (IndexError, ValueError) as exc:
            raise ValueError(f"schema line {number}: {raw.strip()!r}: {exc}") from None
    return messages, enums


def _enum_values(words: list[str]) -> list[tuple[str, int]]:
    return [(w.split("=")[0], int(w.split("=")[1])) for w in words]


def build_file(messages: dict, enums: dict):
    """A FileDescriptorProto for the whole table."""
    from google.protobuf import descriptor_pb2

    F = descriptor_pb2.FieldDescriptorProto
    scalar_types = {"double": F.TYPE_DOUBLE, "float": F.TYPE_FLOAT, "int32": F.TYPE_INT32,
                    "int64": F.TYPE_INT64, "uint32": F.TYPE_UINT32, "uint64": F.TYPE_UINT64,
                    "bool": F.TYPE_BOOL, "string": F.TYPE_STRING, "bytes": F.TYPE_BYTES}
    fd = descriptor_pb2.FileDescriptorProto(name="tfrconv/odapi_pipeline.proto", package=PACKAGE,
                                            syntax="proto2")
    protos: dict[str, object] = {}
    for name in sorted(messages, key=lambda n: n.count(".")):
        parent, _, short = name.rpartition(".")
        container = protos[parent].nested_type if parent else fd.message_type
        protos[name] = container.add(name=short)
    for name, values in enums.items():
        parent, _, short = name.rpartition(".")
        container = protos[parent].enum_type if parent else fd.enum_type
        enum = container.add(name=short)
        for value, number in values:
            enum.value.add(name=value, number=number)

    def set_type(field, kind: str) -> None:
        if kind in scalar_types:
            field.type = scalar_types[kind]
        elif kind in enums:
            field.type, field.type_name = F.TYPE_ENUM, f".{PACKAGE}.{kind}"
        elif kind in messages:
            field.type, field.type_name = F.TYPE_MESSAGE, f".{PACKAGE}.{kind}"
        else:
            raise ValueError(f"unknown type {kind!r}")

    for name, spec in messages.items():
        proto = protos[name]
        if spec["map"]:
            proto.options.map_entry = True
            for number, (field_name, kind) in enumerate(zip(("key", "value"), spec["map"]), 1):
                set_type(proto.field.add(name=field_name, number=number,
                                         label=F.LABEL_OPTIONAL), kind)
            continue
        if spec["extensions"] is not None:
            start, end = spec["extensions"]
            proto.extension_range.add(start=start, end=end)
        oneof_of = {}
        for index, (group, members) in enumerate(spec["oneofs"].items()):
            proto.oneof_decl.add(name=group)
            oneof_of.update({member: index for member in members})
        for number, field_name, kind, default in spec["fields"]:
            repeated = kind.startswith("*")
            kind = kind.lstrip("*")
            field = proto.field.add(name=field_name, number=number,
                                    label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            set_type(field, kind)
            if default is not None:
                field.default_value = default[1:-1] if kind == "string" else default
            if field_name in oneof_of:
                field.oneof_index = oneof_of[field_name]
    return fd


@cache
def _pool():
    from google.protobuf import descriptor_pool

    from .odapi_schema import SCHEMA

    pool = descriptor_pool.DescriptorPool()
    pool.Add(build_file(*parse_table(SCHEMA)))
    return pool


def message_class(name: str):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"{PACKAGE}.{name}"))


def pipeline_class():
    """The `TrainEvalPipelineConfig` message class."""
    return message_class("TrainEvalPipelineConfig")


_POSITION = re.compile(r"^(\d+):(\d+) : (.*)$", re.S)
_NO_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')


def parse_pipeline(text: str, source: str | None = None):
    """Parse pipeline-config text the way the OD API does (`text_format.Merge`); a problem is a
    UsageError with file, line and column, and a suggestion for a misspelled field."""
    from google.protobuf import text_format

    message = pipeline_class()()
    try:
        text_format.Merge(text, message)
    except text_format.ParseError as exc:
        detail, line, column = str(exc), None, None
        match = _POSITION.match(detail)
        if match:
            line, column, detail = int(match.group(1)), int(match.group(2)), match.group(3)
        missing = _NO_FIELD.search(detail)
        if missing:
            owner = _pool().FindMessageTypeByName(missing.group(1))
            close = difflib.get_close_matches(missing.group(2), owner.fields_by_name, n=1)
            detail = (f"{owner.name} has no field {missing.group(2)!r} in the OD API's protos" +
                      (f" (did you mean {close[0]!r}?)" if close else ""))
        raise UsageError(f"pipeline config: {detail}", file=source, line=line,
                         column=column) from None
    return message
