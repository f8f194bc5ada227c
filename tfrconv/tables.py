"""CSV tables for format plugins (the builtin csv and oid use it): pandas, with every failure a
one-line DataError naming the file and line. Public: `from tfrconv import tables`.

Small, plain files (`small_rows`: up to SMALL_CSV_BYTES, no quotes, no blank or ragged lines,
UTF-8) are read with the csv module instead: importing pandas costs more than half a second,
far more than reading them. Anything unusual goes to pandas, so its reading and its errors
apply exactly as before.

pandas raises a zoo of exception types for bad files (ParserError, EmptyDataError,
UnicodeDecodeError, ValueError, csv.Error, OverflowError); here they all become one
`tfrconv.DataError` naming the file and, for a malformed file (an extra field, a quote that never
closes, a byte that is not UTF-8), the line and column, found by reading the file once more.

pandas numbers rows, not lines: blank lines and quoted line breaks are not rows, so the line of
a row is worked out by `row_lines` (one count of the line breaks; the csv module only when the
counts disagree).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
from array import array
from collections.abc import Iterator

from .errors import DataError

_LINE = re.compile(r"\bline (\d+)")
# Only empty cells are missing: class names such as "NA" or "None" stay strings.
NA_OPTIONS = {"keep_default_na": False, "na_values": [""], "encoding": "utf-8-sig"}


def _as_data_error(exc: BaseException, path: str, what: str) -> DataError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, UnicodeError):
        found = bad_utf8(path)
        if found is not None:
            line, column, byte = found
            return DataError(f"cannot read the {what}: not UTF-8 text (byte 0x{byte:02x})",
                             file=path, line=line, column=column)
        return DataError(f"cannot read the {what}: not UTF-8 text ({message})", file=path)
    located = malformed_place(path, message)
    if located is not None:
        line, column, why = located
        return DataError(f"cannot read the {what}: {why}", file=path, line=line, column=column)
    match = _LINE.search(message)
    return DataError(f"cannot read the {what}: {message}", file=path,
                     line=int(match.group(1)) if match else None)


_ERRORS = (ValueError, UnicodeError, OSError, OverflowError, csv.Error, IndexError, TypeError)


# Measured (docs/performance.md): below this size the csv module reads a plain file in less
# time than importing pandas takes; above it, pandas' C parser pays for its import.
SMALL_CSV_BYTES = 2 << 20
_SPECIAL = re.compile('["\x00]|\r(?!\n)')
# The numbers the fast path converts itself: at most 15 digits, no exponent, so float() and
# pandas' parser give the same double (an exactly representable integer and one division by
# an exact power of ten, correctly rounded either way). Anything else goes to pandas.
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def small_rows(path: str) -> tuple[list[str], list[list[str]]] | None:
    """(header, data records) of a small plain CSV read with the csv module, each record as
    long as the header and on line index + 2; None when pandas must read the file (larger than
    SMALL_CSV_BYTES, quotes, NUL or lone CR, blank or ragged lines, not UTF-8, empty or repeated
    column names, no data rows)."""
    try:
        if os.path.getsize(path) > SMALL_CSV_BYTES:
            return None
        with open(path, "rb") as fileobj:
            text = fileobj.read().decode("utf-8-sig")
    except (OSError, UnicodeError):
        return None
    if _SPECIAL.search(text):
        return None
    records = list(csv.reader(io.StringIO(text, newline="")))
    if len(records) < 2:
        return None
    head, rows = records[0], records[1:]
    if "" in head or len(set(head)) != len(head):
        return None
    width = len(head)
    if any(len(row) != width or _is_blank(row) for row in rows):
        return None
    return head, rows


def plain_numbers(cells: list[str]) -> list[float] | None:
    """The cells as floats (empty: NaN), or None when one is not a plain number (pandas then
    reads the file, and flags it)."""
    values = []
    for cell in cells:
        text = cell.strip()
        if not text:
            values.append(float("nan"))
        elif _PLAIN_NUMBER.fullmatch(text) and sum(c.isdigit() for c in text) <= 15:
            values.append(float(text))
        else:
            return None
    return values


def header(path: str, what: str) -> list[str]:
    """The column names of a CSV file (DataError when it is missing, empty or unreadable)."""
    if not os.path.isfile(path):
        raise DataError(f"{what} not found", file=path)
    small = small_rows(path)
    if small is not None:
        return list(small[0])
    import pandas as pd

    try:
        frame = pd.read_csv(path, nrows=0, **NA_OPTIONS)
    except pd.errors.EmptyDataError:
        raise DataError(f"the {what} is empty", file=path) from None
    except _ERRORS as exc:
        raise _as_data_error(exc, path, what) from None
    return [str(name) for name in frame.columns]


def read(path: str, what: str, **kwargs):
    """The whole CSV as a DataFrame. With `index_col=False` a row longer than the header is an
    error (pandas would only warn and cut it; without it, rows that are all one field longer
    silently make the first column an index)."""
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, **NA_OPTIONS, **kwargs)
    except pd.errors.ParserWarning:
        fields = len(header(path, what))
        located = malformed_place(path, f"Expected {fields} fields")
        line, column, why = located or (None, None, f"a row has more than the header's {fields} "
                                        "fields")
        raise DataError(f"cannot read the {what}: {why}", file=path, line=line,
                        column=column) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"the {what} is empty", file=path) from None
    except _ERRORS as exc:
        raise _as_data_error(exc, path, what) from None


def chunks(path: str, what: str, chunksize: int, **kwargs) -> Iterator[tuple[int, object]]:
    """(line of the chunk's first row, DataFrame) for a CSV read `chunksize` rows at a time."""
    import pandas as pd

    line = 2                                   # line 1 is the header
    try:
        with pd.read_csv(path, chunksize=chunksize, **NA_OPTIONS, **kwargs) as reader:
            for frame in reader:
                yield line, frame
                line += len(frame)
    except pd.errors.EmptyDataError:
        raise DataError(f"the {what} is empty", file=path) from None
    except _ERRORS as exc:
        raise _as_data_error(exc, path, what) from None


def numbers(series):
    """(float64 array, mask of cells that are not numbers) for a column read as text or numbers.

    Clean numeric columns come from pandas' C parser as numbers already; anything else is
    converted cell by cell, and non-empty cells that are not numbers are flagged, not lost.
    """
    import numpy as np
    import pandas as pd

    if series.dtype.kind in "fiub":
        values = series.to_numpy(dtype=np.float64)
        return values, np.zeros(len(values), dtype=bool)
    text = series.astype("string").str.strip()
    converted = pd.to_numeric(text, errors="coerce")
    bad = (converted.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
    return converted.to_numpy(dtype=np.float64, na_value=np.nan), bad


# -- where rows and errors are ----------------------------------------------------------------
BLOCK = 1 << 20
_EXPECTED = re.compile(r"Expected (\d+) fields")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_PLAIN = re.compile(r"[^,\r\n]*")


def _line_breaks(path: str) -> int:
    """Line breaks in the file (\\n, \\r\\n and a lone \\r each count once), plus one for a last
    line without a break: the number of lines an editor shows."""
    breaks, last = 0, b""
    with open(path, "rb") as fileobj:
        carry = b""
        while block := fileobj.read(BLOCK):
            block = carry + block
            carry = b"\r" if block.endswith(b"\r") else b""   # its \n may start the next block
            if carry:
                block = block[:-1]
            breaks += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            last = block[-1:] or last
        if carry:
            breaks, last = breaks + 1, carry
    return breaks + (1 if last not in (b"", b"\n", b"\r") else 0)


def row_lines(path: str, rows: int):
    """The line each of pandas' `rows` data rows starts on (an int64 array).

    Row i is on line i + 2 when the file has exactly rows + 1 lines; otherwise blank lines or
    quoted line breaks moved them, and the csv module (which reads records as pandas' C parser
    does) says where each record starts. Should it disagree with pandas on the number of rows,
    the plain numbering is the best there is.
    """
    import numpy as np

    plain = np.arange(2, rows + 2, dtype=np.int64)
    if _line_breaks(path) == rows + 1:
        return plain
    try:
        starts = _record_starts(path)
    except (OSError, UnicodeError, csv.Error):
        return plain
    return np.frombuffer(starts, dtype=np.int64)[1:] if len(starts) == rows + 1 else plain


def line_of_row(path: str, row: int) -> int:
    """The line data row `row` (0-based, as pandas counts) starts on: for an error raised
    while the file is still being read."""
    try:
        starts = _record_starts(path)
    except (OSError, UnicodeError, csv.Error):
        return row + 2
    return starts[row + 1] if row + 1 < len(starts) else row + 2


# C0 and C1 controls and DEL: never part of a class name (a NUL once made a class "dog\x00").
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def control_character(name: str) -> str | None:
    """'U+0000' for the first control character in `name`, else None."""
    found = CONTROL.search(name)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _is_blank(record: list[str]) -> bool:
    """pandas skips empty lines and lines of spaces and tabs."""
    return not record or (len(record) == 1 and not record[0].strip(" \t"))


def _record_starts(path: str) -> array:
    """The first line of every record that is not blank, the header's included."""
    starts, previous = array("q"), 0
    with open(path, encoding="utf-8-sig", newline="") as fileobj:
        reader = csv.reader(fileobj)
        for record in reader:
            if not _is_blank(record):
                starts.append(previous + 1)
            previous = reader.line_num
    return starts


class _KeptLines:
    """The lines the csv reader took for its latest record (so a record's text can be seen)."""

    def __init__(self, fileobj) -> None:
        self.fileobj = fileobj
        self.taken: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.fileobj)
        self.taken.append(line)
        return line


def malformed_place(path: str, message: str) -> tuple[int, int, str] | None:
    """(line, column, what) of the fault behind a pandas tokenizing error: the delimiter that
    starts a field beyond `Expected N fields`, or a quote that never closes."""
    expected = _EXPECTED.search(message)
    if expected is None and "EOF inside string" not in message:
        return None
    limit = int(expected.group(1)) if expected else None
    try:
        with open(path, encoding="utf-8-sig", newline="") as fileobj:
            lines = _KeptLines(fileobj)
            reader, previous, found = csv.reader(lines), 0, None
            for record in reader:
                if limit is not None and len(record) > limit and not _is_blank(record):
                    found = (previous + 1, "".join(lines.taken))
                    break
                if limit is None:                       # the unclosed quote's record is last
                    found = (previous + 1, "".join(lines.taken))
                previous, lines.taken = reader.line_num, []
    except (OSError, UnicodeError, csv.Error):
        return None
    if found is None:
        return None
    first_line, text = found
    fault = _fault_in_record(text, limit)
    if fault is None:
        return None
    offset, why = fault
    line, column = _line_and_column(text, offset)
    return first_line + line - 1, column, why


def _fault_in_record(text: str, limit: int | None) -> tuple[int, str] | None:
    """(offset, what) in one record's text: the delimiter before field `limit` + 1, or the
    opening quote of a field that never closes."""
    position, fields = 0, 0
    while True:
        if text.startswith('"', position):
            quoted = _QUOTED.match(text, position)
            if quoted is None:
                return position, "a quoted field starts here and never ends (a missing \")"
            position = quoted.end()
        position = _PLAIN.match(text, position).end()
        if position >= len(text) or text[position] != ",":
            return None
        fields += 1
        if limit is not None and fields == limit:
            return position, (f"{limit + 1} or more fields where the header has {limit}: "
                              "this comma starts an extra one (quote a value that contains a "
                              "comma)")
        position += 1


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset` in `text` (\\n, \\r\\n and \\r end lines)."""
    before = text[:offset]
    line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return line, offset - start + 1


def bad_utf8(path: str) -> tuple[int, int, int] | None:
    """(line, column, value) of the first byte that is not UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    place = (1, 1, False)                      # line, column, whether the text ended in \r
    try:
        with open(path, "rb") as fileobj:
            first = True
            while block := fileobj.read(BLOCK):
                if first and block.startswith(codecs.BOM_UTF8):
                    block = block[len(codecs.BOM_UTF8):]
                first = False
                try:
                    place = _advance(decoder.decode(block), *place)
                except UnicodeDecodeError as exc:   # its object is the decoder's buffer + block
                    line, column, _cr = _advance(exc.object[:exc.start].decode("utf-8"), *place)
                    return line, column, exc.object[exc.start]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:          # the file ends inside a character
        return place[0], place[1], exc.object[exc.start]
    except OSError:
        return None
    return None


def _advance(text: str, line: int, column: int, after_cr: bool) -> tuple[int, int, bool]:
    """Line and column after reading `text` from (line, column); a \\r\\n split between two
    reads is one line break."""
    if after_cr and text.startswith("\n"):
        text, column = text[1:], 1
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    ends_cr = text.endswith("\r") or (after_cr and not text)
    if not breaks:
        return line, column + len(text), ends_cr
    start = max(text.rfind("\n"), text.rfind("\r")) + 1
    return line + breaks, len(text) - start + 1, ends_cr
