"""One large JSON object read member by member, in flat memory (a COCO annotation file).

`members(path, streamed)` yields the top-level members in file order; a member named in
`streamed` whose value is a list comes as an iterator of `(element, start, end)`, the element
parsed and `start`/`end` its byte span in the file, so a caller can keep the span and parse the
element again later (`SpanReader`) instead of keeping it. With `parse_float`, the elements'
numbers with a fraction or exponent are `parse_float(text)` (json.JSONDecoder's hook): e.g.
`str.encode` keeps them checked as JSON but unconverted, which costs a third of making floats.

The parsing is the standard library's C scanner (`json.JSONDecoder.raw_decode`) on a sliding
window of the file, so every value is exactly what `json.loads` gives. Anything that is not
plainly one JSON object (bad UTF-8, a syntax error, a streamed member given twice, data after
the object) raises `NotStreamable`: the caller then parses the whole file the ordinary way,
which says what is wrong and where.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from typing import Any

CHUNK = 1 << 22                    # bytes read at a time (the window holds one or two)
WHITESPACE = " \t\n\r"
BOM = codecs.BOM_UTF8


class NotStreamable(Exception):
    """The file is not plainly one JSON object: parse it whole to report why."""


class Window:
    """The unread part of the file as text, with the byte offset of any position in it."""

    def __init__(self, fileobj, parse_float=None) -> None:
        self.file = fileobj
        self.decode = codecs.getincrementaldecoder("utf-8")().decode
        self.scan = json.JSONDecoder().raw_decode
        self.scan_element = json.JSONDecoder(parse_float=parse_float).raw_decode \
            if parse_float is not None else self.scan
        self.text = ""
        self.pos = 0
        self.base = 0              # byte offset of text[0]
        self.ascii = True          # text is ASCII: a character is a byte
        self.cursor = (0, 0)       # (position, its byte offset) when it is not
        self.eof = False
        head = fileobj.read(len(BOM))
        if head == BOM:
            self.base = len(BOM)
            self.cursor = (0, self.base)
        else:
            self.append(head)

    def append(self, data: bytes) -> None:
        try:
            text = self.decode(data, final=not data)
        except UnicodeDecodeError:
            raise NotStreamable("not UTF-8") from None
        self.ascii = self.ascii and text.isascii()
        self.text += text

    def fill(self) -> bool:
        """Read more of the file (as much again as the window holds: a value longer than the
        window costs a logarithmic number of tries); False at the end."""
        if self.eof:
            return False
        if self.pos > CHUNK:       # drop what was read
            self.base = self.offset(self.pos)
            self.text = self.text[self.pos:]
            self.pos = 0
            self.ascii = self.text.isascii()
            self.cursor = (0, self.base)
        data = self.file.read(max(CHUNK, len(self.text)))
        self.eof = not data
        self.append(data)
        return True

    def offset(self, position: int) -> int:
        """Byte offset in the file of text[position] (positions asked for only grow)."""
        if self.ascii:
            return self.base + position
        start, byte = self.cursor
        if position < start:
            start, byte = 0, self.base
        byte += len(self.text[start:position].encode("utf-8", "surrogatepass"))
        self.cursor = (position, byte)
        return byte

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the file)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text) or not self.fill():
                return text[pos] if pos < len(text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise NotStreamable(f"expected {char!r}")
        self.pos += 1

    def value(self, element: bool = False) -> Any:
        """The JSON value at the current position (after whitespace); `element`: one of a
        streamed list's (parse_float applies)."""
        self.peek()
        scan = self.scan_element if element else self.scan
        while True:
            try:
                value, end = scan(self.text, self.pos)
            except json.JSONDecodeError:
                end = None
            except ValueError:             # an int beyond Python's digit limit
                raise NotStreamable("a number too long") from None
            except RecursionError:
                raise NotStreamable("nested too deeply") from None
            # A value ending near the window's end may go on ("0." of "0.5", "1" of "1e-3"
            # parse as numbers): read more first.
            if end is not None and (end + 2 < len(self.text) or self.eof):
                self.pos = end
                return value
            if not self.fill():
                raise NotStreamable("invalid JSON")


def members(path: str, streamed: frozenset[str] | set[str],
            parse_float=None) -> Iterator[tuple[str, Any]]:
    """(key, value) of each top-level member of the JSON object in `path`, in file order; see
    the module's docstring for the members named in `streamed` and `parse_float`."""
    with open(path, "rb") as fileobj:
        window = Window(fileobj, parse_float)
        window.expect("{")
        seen: set[str] = set()
        if window.peek() == "}":
            window.pos += 1
        else:
            while True:
                key = window.value()
                if not isinstance(key, str) or key in seen & streamed:
                    raise NotStreamable("a key that is not a string, or given twice")
                seen.add(key)
                window.expect(":")
                if key in streamed and window.peek() == "[":
                    elements = _elements(window)
                    yield key, elements
                    for _ in elements:         # whatever the caller left unread
                        pass
                else:
                    yield key, window.value()
                following = window.peek()
                window.pos += 1
                if following == "}":
                    break
                if following != ",":
                    raise NotStreamable("expected ',' or '}'")
        if window.peek() != "":
            raise NotStreamable("data after the object")


def _elements(window: Window) -> Iterator[tuple[Any, int, int]]:
    window.expect("[")
    if window.peek() == "]":
        window.pos += 1
        return
    while True:
        start = window.offset(window.pos)
        value = window.value(element=True)
        yield value, start, window.offset(window.pos)
        following = window.peek()
        window.pos += 1
        if following == "]":
            return
        if following != ",":
            raise NotStreamable("expected ',' or ']'")


class SpanReader:
    """Parses byte spans of one file again (`read(start, end)`). The file stays open; forked
    processes share it safely, as `pread` never moves a shared file position."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def read(self, start: int, end: int) -> Any:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY)
        return json.loads(os.pread(self.fd, end - start, start))

    def read_bytes(self, spans) -> list[bytes]:
        """The bytes of each (start, end) span."""
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY)
        fd = self.fd
        return [os.pread(fd, end - start, start) for start, end in spans]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = None


def parse_many(pieces: list[bytes]) -> list:
    """json.loads of each piece, in one parse: the pieces joined as the elements of one list
    (each is one whole JSON value of a UTF-8 file, so each parses as it would alone)."""
    return json.loads(b"[" + b",".join(pieces) + b"]")
