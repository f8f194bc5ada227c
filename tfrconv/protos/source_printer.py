"""FileDescriptorProto → `.proto` source that protoc compiles back to the same descriptor.

The releases ship compiled descriptors only, so the vendored sources are re-emitted from them.
Everything protoc records is written back: syntax, package, imports, options, nested messages and
enums, oneofs, map fields, defaults, extension ranges, extensions and reserved ranges and names.
A descriptor this printer cannot express faithfully (groups, services, editions, custom options)
is refused, never approximated. Type references are written as short as protoc's scoping rules
allow, so the sources read like hand-written ones.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from tfrconv.protos.errors import GenerateError

Field = descriptor_pb2.FieldDescriptorProto
SCALAR_TYPES = {Field.TYPE_DOUBLE: "double", Field.TYPE_FLOAT: "float",
                Field.TYPE_INT64: "int64", Field.TYPE_UINT64: "uint64",
                Field.TYPE_INT32: "int32", Field.TYPE_FIXED64: "fixed64",
                Field.TYPE_FIXED32: "fixed32", Field.TYPE_BOOL: "bool",
                Field.TYPE_STRING: "string", Field.TYPE_BYTES: "bytes",
                Field.TYPE_UINT32: "uint32", Field.TYPE_SFIXED32: "sfixed32",
                Field.TYPE_SFIXED64: "sfixed64", Field.TYPE_SINT32: "sint32",
                Field.TYPE_SINT64: "sint64"}
PROTO2_LABELS = {Field.LABEL_OPTIONAL: "optional ", Field.LABEL_REQUIRED: "required ",
                 Field.LABEL_REPEATED: "repeated "}
MAX_FIELD_NUMBER = 536870911          # what `max` means in `extensions N to max`
AGGREGATES = {"package", "message", "enum", "service"}   # symbols a dotted name may go through
TYPES = {"message", "enum"}
ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r",
           ord("\t"): "\\t"}


def default_json_name(field_name: str) -> str:
    """The JSON name protoc derives from a field name (underscores dropped, next letter upper)."""
    parts = field_name.split("_")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


def quote(data: bytes) -> str:
    """A .proto string literal holding exactly `data` (anything unprintable as octal)."""
    return '"' + "".join(ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}")
                         for b in data) + '"'


def visible_symbols(file: descriptor_pb2.FileDescriptorProto,
                    files: dict[str, descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    """Full name → kind of every symbol `file` may refer to: its own and its imports' (with what
    those import publicly), as protoc's name lookup sees them."""
    symbols: dict[str, str] = {}

    def add_enum(scope: str, enum) -> None:
        symbols[scope + enum.name] = "enum"
        for value in enum.value:            # C++ scoping: values are the enum's siblings
            symbols[scope + value.name] = "enum_value"

    def add_message(scope: str, message) -> None:
        name = scope + message.name
        symbols[name] = "message"
        for field in [*message.field, *message.extension]:
            symbols[f"{name}.{field.name}"] = "field"
        for oneof in message.oneof_decl:
            symbols[f"{name}.{oneof.name}"] = "oneof"
        for nested in message.nested_type:
            add_message(name + ".", nested)
        for enum in message.enum_type:
            add_enum(name + ".", enum)

    pending, seen = [file.name, *file.dependency], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in files:
            raise GenerateError(f"{file.name}: imports {name}, which is not among the files")
        current = files[name]
        pending.extend(current.dependency[i] for i in current.public_dependency)
        parts = current.package.split(".") if current.package else []
        for i in range(1, len(parts) + 1):
            symbols[".".join(parts[:i])] = "package"
        scope = current.package + "." if current.package else ""
        for message in current.message_type:
            add_message(scope, message)
        for enum in current.enum_type:
            add_enum(scope, enum)
        for extension in current.extension:
            symbols[scope + extension.name] = "field"
    return symbols


def resolve(name: str, relative_to: str, symbols: dict[str, str]) -> str | None:
    """The full name protoc finds for the type reference `name` written in the scope of
    `relative_to` (innermost scope first; a dotted name commits to the first aggregate that
    holds its first part), or None."""
    first, _, rest = name.partition(".")
    scope = relative_to
    while "." in scope:
        scope = scope[:scope.rindex(".")]
        candidate = f"{scope}.{first}"
        kind = symbols.get(candidate)
        if kind is None:
            continue
        if rest and kind in AGGREGATES:
            full = f"{candidate}.{rest}"
            return full if symbols.get(full) in TYPES else None
        if not rest and kind in TYPES:
            return candidate
    return name if symbols.get(name) in TYPES else None


def known_options(options, where: str) -> list[str]:
    """`name = value` of each option set, standard options only."""
    known = type(options)()
    items = []
    for field, value in options.ListFields():
        if field.is_repeated or field.type == field.TYPE_MESSAGE:
            raise GenerateError(f"{where}: option {field.name} is not supported by the printer")
        setattr(known, field.name, value)
        if field.type == field.TYPE_ENUM:
            text = field.enum_type.values_by_number[value].name
        elif field.type == field.TYPE_BOOL:
            text = "true" if value else "false"
        elif field.type == field.TYPE_STRING:
            text = quote(value.encode())
        elif field.type == field.TYPE_BYTES:
            text = quote(value)
        elif isinstance(value, int):
            text = str(value)
        else:
            raise GenerateError(f"{where}: option {field.name} is not supported by the printer")
        items.append(f"{field.name} = {text}")
    if known.SerializeToString(deterministic=True) != options.SerializeToString(
            deterministic=True):
        raise GenerateError(f"{where}: custom options are not supported by the printer")
    return items


def default_literal(field) -> str:
    """A field's default as a .proto literal. protoc keeps numbers, bools, enum names and
    `inf`/`nan` as text it can read back, bytes C-escaped and strings raw."""
    if field.type == Field.TYPE_STRING:
        return quote(field.default_value.encode())
    if field.type == Field.TYPE_BYTES:
        return f'"{field.default_value}"'
    return field.default_value


class SourcePrinter:
    """Writes one file; `lines` holds the result."""

    def __init__(self, file, files):
        if file.syntax not in ("", "proto2", "proto3"):
            raise GenerateError(f"{file.name}: syntax {file.syntax!r} is not supported")
        if file.service:
            raise GenerateError(f"{file.name}: services are not supported by the printer")
        self.file = file
        self.proto3 = file.syntax == "proto3"
        self.symbols = visible_symbols(file, files)
        self.lines: list[str] = []
        self.depth = 0

    def emit(self, text: str = "") -> None:
        self.lines.append("  " * self.depth + text if text else "")

    def open_block(self, head: str) -> None:
        self.emit(head + " {")
        self.depth += 1

    def close_block(self) -> None:
        self.depth -= 1
        self.emit("}")

    def reference(self, full_name: str, relative_to: str) -> str:
        """The shortest spelling of `.a.b.C` that protoc resolves back to it from here."""
        target = full_name.lstrip(".")
        parts = target.split(".")
        for start in range(len(parts) - 1, -1, -1):
            candidate = ".".join(parts[start:])
            if resolve(candidate, relative_to, self.symbols) == target:
                return candidate
        return "." + target

    def print_file(self, header: list[str]) -> str:
        file = self.file
        for line in header:
            self.emit(f"// {line}".rstrip())
        self.emit()
        self.emit(f'syntax = "{"proto3" if self.proto3 else "proto2"}";')
        self.emit()
        if file.package:
            self.emit(f"package {file.package};")
            self.emit()
        for index, dependency in enumerate(file.dependency):
            kind = ("public " if index in file.public_dependency
                    else "weak " if index in file.weak_dependency else "")
            self.emit(f'import {kind}"{dependency}";')
        if file.dependency:
            self.emit()
        for item in known_options(file.options, file.name):
            self.emit(f"option {item};")
        if file.options.ListFields():
            self.emit()
        scope = file.package
        for enum in file.enum_type:
            self.print_enum(enum, scope)
            self.emit()
        for message in file.message_type:
            self.print_message(message, scope)
            self.emit()
        self.print_extensions(file.extension, scope, top_level=True)
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"

    def print_enum(self, enum, scope: str) -> None:
        where = f"{scope}.{enum.name}".lstrip(".")
        self.open_block(f"enum {enum.name}")
        for item in known_options(enum.options, where):
            self.emit(f"option {item};")
        for value in enum.value:
            options = known_options(value.options, f"{where}.{value.name}")
            suffix = f" [{', '.join(options)}]" if options else ""
            self.emit(f"{value.name} = {value.number}{suffix};")
        ranges = [str(r.start) if r.start == r.end else f"{r.start} to {r.end}"   # inclusive
                  for r in enum.reserved_range]
        self.print_reserved(ranges, enum.reserved_name)
        self.close_block()

    def print_reserved(self, ranges: list[str], names) -> None:
        if ranges:
            self.emit(f"reserved {', '.join(ranges)};")
        if names:
            self.emit(f"reserved {', '.join(quote(n.encode()) for n in names)};")

    def print_message(self, message, scope: str) -> None:
        name = f"{scope}.{message.name}".lstrip(".")
        self.open_block(f"message {message.name}")
        for item in known_options(message.options, name):
            self.emit(f"option {item};")
        for enum in message.enum_type:
            self.print_enum(enum, name)
        # protoc adds a map field's entry type to the nested types where the field is declared,
        # so fields are written up to each map field before the next nested type.
        entries = {f".{name}.{nested.name}": nested for nested in message.nested_type
                   if nested.options.map_entry}
        fields = list(message.field)
        closed_oneofs: set[int] = set()
        for nested in message.nested_type:
            if not nested.options.map_entry:
                self.print_message(nested, name)
                continue
            owner = next((i for i, f in enumerate(fields)
                          if f.type_name == f".{name}.{nested.name}"), None)
            if owner is None:
                raise GenerateError(f"{name}.{nested.name}: a map entry without its map field")
            self.print_fields(message, fields[:owner + 1], name, entries, closed_oneofs)
            fields = fields[owner + 1:]
        self.print_fields(message, fields, name, entries, closed_oneofs)
        for extension_range in message.extension_range:
            last = extension_range.end - 1
            options = known_options(extension_range.options, name)
            suffix = f" [{', '.join(options)}]" if options else ""
            end = "" if last == extension_range.start else \
                " to max" if last == MAX_FIELD_NUMBER else f" to {last}"
            self.emit(f"extensions {extension_range.start}{end}{suffix};")
        self.print_extensions(message.extension, name)
        ranges = [str(r.start) if r.end == r.start + 1 else f"{r.start} to {r.end - 1}"
                  for r in message.reserved_range]
        self.print_reserved(ranges, message.reserved_name)
        self.close_block()

    def print_fields(self, message, fields, scope: str, entries, closed: set[int]) -> None:
        """Fields in order; consecutive members of one oneof inside its block. protoc numbers
        oneofs as declared, so each must be one run, opened in index order."""
        open_oneof = None
        for field in fields:
            oneof = field.oneof_index if field.HasField("oneof_index") \
                and not field.proto3_optional else None
            if oneof != open_oneof and open_oneof is not None:
                self.close_block()
                closed.add(open_oneof)
                open_oneof = None
            if oneof is not None and oneof != open_oneof:
                if oneof != len(closed):
                    raise GenerateError(f"{scope}.{field.name}: oneof members out of order")
                declaration = message.oneof_decl[oneof]
                self.open_block(f"oneof {declaration.name}")
                for item in known_options(declaration.options, f"{scope}.{declaration.name}"):
                    self.emit(f"option {item};")
                open_oneof = oneof
            self.print_field(field, scope, entries, in_oneof=oneof is not None)
        if open_oneof is not None:
            self.close_block()
            closed.add(open_oneof)

    def print_field(self, field, scope: str, entries, in_oneof: bool) -> None:
        where = f"{scope}.{field.name}".lstrip(".")
        if field.type == Field.TYPE_GROUP:
            raise GenerateError(f"{where}: groups are not supported by the printer")
        entry = entries.get(field.type_name) if field.label == Field.LABEL_REPEATED else None
        if entry is not None:
            key, value = entry.field
            entry_scope = f"{field.type_name.lstrip('.')}.value"
            type_text = f"map<{self.type_text(key, entry_scope)}, " \
                        f"{self.type_text(value, entry_scope)}>"
            label = ""
        else:
            type_text = self.type_text(field, where)
            label = self.label(field, in_oneof, where)
        options = []
        if field.HasField("default_value"):
            options.append(f"default = {default_literal(field)}")
        if field.HasField("json_name") and field.json_name != default_json_name(field.name):
            options.append(f"json_name = {quote(field.json_name.encode())}")
        options += known_options(field.options, where)
        suffix = f" [{', '.join(options)}]" if options else ""
        self.emit(f"{label}{type_text} {field.name} = {field.number}{suffix};")

    def type_text(self, field, relative_to: str) -> str:
        if field.type in SCALAR_TYPES:
            return SCALAR_TYPES[field.type]
        return self.reference(field.type_name, relative_to)

    def label(self, field, in_oneof: bool, where: str) -> str:
        if in_oneof:
            return ""
        if not self.proto3:
            return PROTO2_LABELS[field.label]
        if field.label == Field.LABEL_REQUIRED:
            raise GenerateError(f"{where}: a required field in a proto3 file")
        if field.label == Field.LABEL_REPEATED:
            return "repeated "
        return "optional " if field.proto3_optional else ""

    def print_extensions(self, extensions, scope: str, top_level: bool = False) -> None:
        """`extend` blocks, one per run of extensions of the same message."""
        index = 0
        while index < len(extensions):
            extendee = extensions[index].extendee
            run = []
            while index < len(extensions) and extensions[index].extendee == extendee:
                run.append(extensions[index])
                index += 1
            where = f"{scope}.{run[0].name}".lstrip(".")
            self.open_block(f"extend {self.reference(extendee, where)}")
            for extension in run:
                self.print_field(extension, scope, {}, in_oneof=False)
            self.close_block()
            if top_level:
                self.emit()


def proto_source(file: descriptor_pb2.FileDescriptorProto,
                 files: dict[str, descriptor_pb2.FileDescriptorProto],
                 header: list[str]) -> str:
    """The .proto text of `file` (its imports among `files`), `header` as leading comments."""
    return SourcePrinter(file, files).print_file(header)
