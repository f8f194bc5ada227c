"""Label maps: read, write, lint and resolve classes of `StringIntLabelMap` text files.

Parsing goes through protobuf's `text_format.Merge` against a message identical to the OD API's,
so tfrconv accepts exactly the syntax the OD API accepts (item { } or item: { }, ' or " quotes,
comments, repeated fields last-wins), but reports the real syntax error with file, line and
column instead of the OD API's misleading bytes-vs-str TypeError. Plain maps (items with just
name, id and display_name, no escapes) are first read by a small tokenizer that gives the same
result without importing protobuf (~35 ms of every conversion's start-up); anything else it
leaves to text_format.

Class resolution follows the OD API decoder: a class text is looked up by `name` and by
`display_name` (later items win on duplicate keys) and the larger id of the two is used.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import LabelMapError

CURLY_QUOTES = "\u2018\u2019\u201c\u201d"


@dataclass(frozen=True)
class LabelMapItem:
    id: int
    name: str
    display_name: str | None = None

    @property
    def text(self) -> str:
        """The human name: display_name when set, else name."""
        return self.display_name or self.name


@dataclass(frozen=True)
class LintMessage:
    severity: str      # "error" or "warning"
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.severity}: {where}{self.message}"


class LabelMap:
    """An ordered list of items with the OD API's lookup rules."""

    def __init__(self, items: Iterable[LabelMapItem], *, source: str | None = None,
                 message: Any = None, item_lines: list[int] | None = None) -> None:
        self.items = list(items)
        self.source = source                  # file path or builtin name, for messages
        self._message = message               # the parsed proto, kept for lossless writing
        self.item_lines = item_lines or []
        by_name: dict[str, int] = {}
        by_display: dict[str, int] = {}
        for item in self.items:              # later items overwrite, as get_label_map_dict does
            by_name[item.name] = item.id
            if item.display_name is not None:
                by_display[item.display_name] = item.id
        self._by_name = by_name
        self._by_display = by_display

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_names(cls, names: Iterable[str], source: str | None = None) -> LabelMap:
        """Ids 1..N over the given names, in the given order."""
        return cls([LabelMapItem(i, name) for i, name in enumerate(names, start=1)],
                   source=source)

    # -- lookups ---------------------------------------------------------------------------
    def resolve(self, text: str) -> int | None:
        """The id the OD API decoder gives this class text, or None if it would give -1."""
        found = max(self._by_name.get(text, -1), self._by_display.get(text, -1))
        return None if found < 0 else found

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.resolve(text) is not None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    @property
    def max_id(self) -> int:
        return max((item.id for item in self.items), default=0)

    # -- pickling (a Builder carries the label map to Beam workers and process pools) ---------
    def __getstate__(self) -> dict[str, Any]:
        # The parsed proto's class is built at run time (proto.py), so pickle cannot name it:
        # it travels as its bytes and is parsed again on the other side.
        state = dict(self.__dict__)
        if self._message is not None:
            state["_message"] = self._message.SerializeToString(deterministic=True)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("_message"), bytes):
            from .proto import label_map_class

            state["_message"] = label_map_class().FromString(state["_message"])
        self.__dict__.update(state)

    def by_id(self) -> dict[int, LabelMapItem]:
        """id → item; with duplicate ids the first item wins, as the OD API's category list."""
        result: dict[int, LabelMapItem] = {}
        for item in self.items:
            result.setdefault(item.id, item)
        return result

    # -- output ----------------------------------------------------------------------------
    def to_text(self) -> str:
        """Canonical pbtxt: one `item { }` block per item, extra proto fields kept. Plain
        items are written as protobuf's text_format writes them, without importing it."""
        if self._message is not None:
            from google.protobuf import text_format
            blocks = []
            for item in self._message.item:
                body = text_format.MessageToString(item, as_utf8=True, indent=2)
                blocks.append("item {\n" + body + "}\n")
            return "".join(blocks)
        blocks = []
        for item in self.items:
            lines = [f'  name: "{_escape(item.name)}"', f"  id: {item.id}"]
            if item.display_name is not None:
                lines.append(f'  display_name: "{_escape(item.display_name)}"')
            blocks.append("item {\n" + "\n".join(lines) + "\n}\n")
        return "".join(blocks)

    def sha256(self) -> str:
        return hashlib.sha256(self.to_text().encode("utf-8")).hexdigest()

    def write(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as fileobj:
            fileobj.write(self.to_text())

    def as_dicts(self) -> list[dict[str, Any]]:
        out = []
        for item in self.items:
            entry: dict[str, Any] = {"id": item.id, "name": item.name}
            if item.display_name is not None:
                entry["display_name"] = item.display_name
            out.append(entry)
        return out

    def __repr__(self) -> str:
        return f"LabelMap({len(self.items)} items, source={self.source!r})"


# text_format's escapes for UTF-8 output: control characters in octal, quotes and backslash.
_ESCAPES = {i: f"\\{i:03o}" for i in [*range(32), 127]}
_ESCAPES.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r", ord('"'): '\\"',
                 ord("'"): "\\'", ord("\\"): "\\\\"})


def _escape(text: str) -> str:
    return text.translate(_ESCAPES)


# -- parsing -------------------------------------------------------------------------------
def parse_label_map(text: str | bytes, source: str | None = None, *,
                    validate: bool = True) -> LabelMap:
    """Parse pbtxt text (or a binary StringIntLabelMap) into a `LabelMap`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            from .proto import label_map_class

            message = label_map_class()()
            try:                      # the OD API also accepts a binary StringIntLabelMap
                message.ParseFromString(text)
            except Exception:  # noqa: BLE001 - protobuf raises DecodeError or RuntimeWarning
                raise LabelMapError("not a UTF-8 text label map (nor a binary one)",
                                    file=source) from None
            return _from_message(message, source, [], validate)
    if text.startswith("\ufeff"):
        text = text[1:]
    _check_curly_quotes(text, source)
    items = _parse_plain(text)
    if items is not None:
        label_map = LabelMap(items, source=source, item_lines=_item_lines(text))
        if validate:
            validate_label_map(label_map)
        return label_map
    from google.protobuf import text_format

    from .proto import label_map_class

    message = label_map_class()()
    try:
        text_format.Merge(text, message)
    except text_format.ParseError as exc:
        raise _parse_error(exc, text, source) from None
    return _from_message(message, source, _item_lines(text), validate)


_TOKENS = re.compile(r"""
    (?P<skip>\s+|\#[^\n]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<int>-?(?:0|[1-9][0-9]{0,9}))(?![\w.])
  | (?P<string>"[^"\\\n]*"|'[^'\\\n]*')
  | (?P<punct>[{}:;,])
""", re.X)
_INT32 = range(-(2**31), 2**31)
_SEPARATORS = (("punct", ";"), ("punct", ","))


def _parse_plain(text: str) -> list[LabelMapItem] | None:
    """Items of a plain label map (name, id, display_name; no escapes, decimal ids), as
    text_format.Merge reads them (a repeated field keeps its last value); None for anything
    else, which text_format then parses or rejects with its own message."""
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKENS.match(text, position)
        if match is None:
            return None
        position = match.end()
        if match.lastgroup != "skip":
            tokens.append((match.lastgroup, match.group()))
    items: list[LabelMapItem] = []
    stream = iter(tokens)
    separator_allowed = False       # text_format: one ';' or ',' after a field, nowhere else
    for token in stream:
        if token in _SEPARATORS and separator_allowed:
            separator_allowed = False
            continue
        if token != ("word", "item"):
            return None
        token = next(stream, None)
        if token == ("punct", ":"):
            token = next(stream, None)
        if token != ("punct", "{"):
            return None
        fields: dict[str, Any] = {}
        separator_allowed = False
        for token in stream:
            if token == ("punct", "}"):
                break
            if token in _SEPARATORS and separator_allowed:
                separator_allowed = False
                continue
            separator_allowed = True
            kind, name = token
            if kind != "word" or next(stream, None) != ("punct", ":"):
                return None
            value = next(stream, ("", ""))
            if name == "id" and value[0] == "int" and int(value[1]) in _INT32:
                fields["id"] = int(value[1])
            elif name in ("name", "display_name") and value[0] == "string":
                fields[name] = value[1][1:-1]
            else:
                return None
        else:
            return None                         # no closing brace
        if "id" not in fields or "name" not in fields:
            return None                         # proto2 presence: text_format handles it
        items.append(LabelMapItem(fields["id"], fields["name"], fields.get("display_name")))
        separator_allowed = True
    return items


def _from_message(message, source, item_lines, validate) -> LabelMap:
    items = [LabelMapItem(int(it.id), it.name,
                          it.display_name if it.HasField("display_name") else None)
             for it in message.item]
    label_map = LabelMap(items, source=source, message=message, item_lines=item_lines)
    if validate:
        validate_label_map(label_map)
    return label_map


def _check_curly_quotes(text: str, source: str | None) -> None:
    for line_no, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        for col, char in enumerate(code, start=1):
            if char in CURLY_QUOTES:
                raise LabelMapError(
                    f"curly quote {char!r}: label maps need straight quotes (' or \"); "
                    "this usually comes from copying out of a word processor",
                    file=source, line=line_no, column=col)


_POSITION = re.compile(r"^(\d+):(\d+) : (.*)$", re.S)


def _parse_error(exc, text: str, source: str | None) -> LabelMapError:
    message = str(exc)
    line = column = None
    match = _POSITION.match(message)
    if match:
        line, column, message = int(match.group(1)), int(match.group(2)), match.group(3)
    if "Couldn't parse integer" in message and re.search(r"integer: ['\"]", message):
        message += " (ids are numbers: write id: 1, not id: '1')"
    elif "has no field named" in message:
        message += " (a label map item has the fields id, name and display_name)"
    return LabelMapError(f"syntax error: {message}", file=source, line=line, column=column)


# Strings (escapes included) and comments are matched whole, so a `#`, brace or `item` inside a
# name is never taken for code (a name with a `#` used to hide the braces after it).
_LINE_TOKENS = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\#.*|[{}]|\bitem\b""")


def _item_lines(text: str) -> list[int]:
    """Line number of each top-level `item` block, for lint messages."""
    lines: list[int] = []
    depth = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        for token in _LINE_TOKENS.finditer(line):
            if token.group() == "{":
                depth += 1
            elif token.group() == "}":
                depth -= 1
            elif token.group() == "item" and depth == 0:
                lines.append(line_no)
    return lines


def validate_label_map(label_map: LabelMap) -> None:
    """The OD API's own rules (what would make its loader raise), as a LabelMapError."""
    for index, item in enumerate(label_map.items):
        line = label_map.item_lines[index] if index < len(label_map.item_lines) else None
        if item.id < 0:
            raise LabelMapError(f"item {item.name!r} has id {item.id}: ids must be >= 1",
                                file=label_map.source, line=line)
        if item.id == 0 and "background" not in (item.name, item.display_name):
            raise LabelMapError(
                f"item {item.name!r} has id 0, which the OD API reserves for 'background': "
                "number classes from 1", file=label_map.source, line=line)


def lint_label_map(label_map: LabelMap, text: str | None = None) -> list[LintMessage]:
    """Everything suspicious in a label map: errors that break training, warnings otherwise."""
    messages: list[LintMessage] = []

    def line_of(index: int) -> int | None:
        return label_map.item_lines[index] if index < len(label_map.item_lines) else None

    if not label_map.items:
        messages.append(LintMessage("error", "the label map has no items"))
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    seen_display: dict[str, int] = {}
    for index, item in enumerate(label_map.items):
        line = line_of(index)
        if item.id < 0:
            messages.append(LintMessage("error", f"negative id {item.id} ({item.name!r})", line))
        elif item.id == 0:
            if "background" in (item.name, item.display_name):
                messages.append(LintMessage(
                    "warning", "id 0 'background' is implicit in the OD API; it is not a class",
                    line))
            else:
                messages.append(LintMessage(
                    "error", f"id 0 ({item.name!r}) is reserved for background: start at 1",
                    line))
        if not item.name:
            messages.append(LintMessage("warning", f"item with id {item.id} has no name", line))
        for table, key, what in ((seen_ids, item.id, "id"), (seen_names, item.name, "name"),
                                 (seen_display, item.display_name, "display_name")):
            if key is None or key == "":
                continue
            if key in table:
                first = line_of(table[key])
                where = f" (first at line {first})" if first else ""
                messages.append(LintMessage("error", f"duplicate {what} {key!r}{where}", line))
            else:
                table[key] = index
    # A display name equal to another item's name makes one text mean two ids; the decoder
    # takes the larger, so objects labelled with that text never get the other id.
    names_to_ids: dict[str, set[int]] = {}
    for item in label_map.items:
        names_to_ids.setdefault(item.name, set()).add(item.id)
    for index, item in enumerate(label_map.items):
        if item.display_name is None:       # unset, so no text that could match a name ""
            continue
        others = names_to_ids.get(item.display_name, set()) - {item.id}
        if others:
            messages.append(LintMessage(
                "error", f"display_name {item.display_name!r} of id {item.id} is also the name "
                f"of id {min(others)}: the decoder resolves {item.display_name!r} to id "
                f"{label_map.resolve(item.display_name)}", line_of(index)))
    ids = sorted(i.id for i in label_map.items if i.id > 0)
    if ids:
        missing = sorted(set(range(1, ids[-1] + 1)) - set(ids))
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            messages.append(LintMessage(
                "warning", f"ids have gaps ({shown}); num_classes must still be {ids[-1]}"))
    if text is not None:
        messages.extend(_repeated_field_warnings(text, label_map.source))
    return messages


def _repeated_field_warnings(text: str, source: str | None) -> list[LintMessage]:
    # Merge (what the OD API uses) silently keeps the last of a repeated singular field;
    # Parse rejects it, which is how we find it.
    from google.protobuf import text_format

    from .proto import label_map_class

    try:
        text_format.Parse(text, label_map_class()())
    except text_format.ParseError as exc:
        match = _POSITION.match(str(exc))
        line = int(match.group(1)) if match else None
        detail = match.group(3) if match else str(exc)
        return [LintMessage("warning", f"{detail}: the OD API keeps the last value", line)]
    return []


# -- files ----------------------------------------------------------------------------------
def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as fileobj:
        return fileobj.read()


def read_label_map_file(path: str | os.PathLike, *, validate: bool = True) -> LabelMap:
    try:
        data = _read_bytes(path)
    except OSError as exc:
        raise LabelMapError(f"cannot read label map: {exc.strerror or exc}", file=str(path)) \
            from None
    return parse_label_map(data, source=os.fspath(path), validate=validate)
