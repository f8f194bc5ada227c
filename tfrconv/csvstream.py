"""A CSV file read record by record, in flat memory, as pandas reads it. Public: `from tfrconv
import csvstream` (Open Images streams its multi-gigabyte CSVs with it).

The csv module reads the records (as pandas' C parser does: quotes, line breaks in quotes, \\r,
\\n and \\r\\n); like `pd.read_csv(path, keep_default_na=False, na_values=[""],
encoding="utf-8-sig", usecols=...)` blank lines (and lines of spaces and tabs) are no records,
a short record is padded with empty cells (missing values) and cells past the header's are
ignored. Each record comes with the line it starts on, as an editor counts lines. A file that
cannot be read is one `DataError` naming the file and line (and the column where it helps);
`number` converts a cell as pandas converts a column of them.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator

from . import tables
from .errors import DataError

# Plain decimals, which float() converts as pandas' C parser does (correctly rounded: equal on
# 1.5 M random values of 16-20 digits, and tests/test_csvstream.py compares them); anything else
# (exponents, "+1", ".5", "inf", "1_0") is converted by pandas itself, one cell at a time.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?").fullmatch
NOT_A_NUMBER = None
_TAIL = 1 << 16


class CsvRecords:
    """`header` (the column names), then iterate for (line, cells) with len(cells) ==
    len(header). Iterable again from the start: each iteration reads the file anew."""

    def __init__(self, path: str, what: str) -> None:
        self.path, self.what = path, what
        if not os.path.isfile(path):
            raise DataError(f"{what} not found", file=path)
        for _line, cells in self._records(header=True):
            self.header = cells
            break
        else:
            raise DataError(f"the {what} is empty", file=path)
        self.columns: dict[str, int] = {}
        for index, name in enumerate(self.header):
            self.columns.setdefault(name, index)     # pandas renames a repeat ("X.1")

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return self._records(header=False)

    def _records(self, header: bool) -> Iterator[tuple[int, list[str]]]:
        """Every record that is not blank, the header first when `header`; else the data
        records, padded to the header's width."""
        reader, previous, start, last = None, 0, 0, None
        width = 0 if header else len(self.header)
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as fileobj:
                reader = csv.reader(fileobj)
                skip = not header
                for cells in reader:
                    start, previous = previous + 1, reader.line_num
                    if not cells or (len(cells) == 1 and cells[0] and
                                     not cells[0].strip(" \t")):
                        continue                      # blank (a lone "" is a record)
                    if skip:                          # the header
                        skip = False
                        continue
                    if len(cells) < width:
                        cells.extend([""] * (width - len(cells)))
                    last = (start, previous)
                    yield start, cells
        except UnicodeDecodeError:
            raise self._not_utf8() from None
        except csv.Error as exc:
            raise DataError(f"cannot read the {self.what}: {exc}", file=self.path,
                            line=(reader.line_num if reader else None)) from None
        except OSError as exc:
            raise DataError(f"cannot read the {self.what}: {exc.strerror or exc}",
                            file=self.path) from None
        if last is not None and self._may_end_inside_quotes(*last):
            located = tables.malformed_place(self.path, "EOF inside string")
            if located is not None:
                line, column, why = located
                raise DataError(f"cannot read the {self.what}: {why}", file=self.path,
                                line=line, column=column)

    def _may_end_inside_quotes(self, start: int, end: int) -> bool:
        """The csv module takes a quote that never closes as running to the end of the file
        (pandas fails): possible only when the last record spans lines or the file's last
        line, without a line break, holds a quote."""
        if start != end:
            return True
        with open(self.path, "rb") as fileobj:
            fileobj.seek(max(0, os.path.getsize(self.path) - _TAIL))
            tail = fileobj.read()
        return not tail.endswith((b"\n", b"\r")) and b'"' in tail.rsplit(b"\n", 1)[-1]

    def _not_utf8(self) -> DataError:
        found = tables.bad_utf8(self.path)
        if found is None:
            return DataError(f"cannot read the {self.what}: not UTF-8 text", file=self.path)
        line, column, byte = found
        return DataError(f"cannot read the {self.what}: not UTF-8 text (byte 0x{byte:02x})",
                         file=self.path, line=line, column=column)


def number(cell: str) -> float | None:
    """The cell as pandas reads a column of such cells: a float, NaN when empty, None
    (NOT_A_NUMBER) when it is no number."""
    if _PLAIN_NUMBER(cell):                                  # the usual cell: no strip
        return float(cell)
    text = cell.strip()
    if not text:
        return float("nan")
    if _PLAIN_NUMBER(text):
        return float(text)
    return _pandas_number(text)


def _pandas_number(text: str) -> float | None:
    import pandas as pd

    value = pd.to_numeric(pd.Series([text], dtype="string"), errors="coerce")[0]
    return NOT_A_NUMBER if pd.isna(value) else float(value)
