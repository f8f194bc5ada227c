"""CSV reading shared by the table formats (oid, csv): pandas, with every failure a DataError.

pandas raises a zoo of exception types for bad files (ParserError, EmptyDataError,
UnicodeDecodeError, ValueError, csv.Error, OverflowError); here they all become one
`tfrconv.DataError` naming the file and, where pandas says it, the line.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator

from tfrconv import DataError

_LINE = re.compile(r"\bline (\d+)")
# Only empty cells are missing: class names such as "NA" or "None" stay strings.
NA_OPTIONS = {"keep_default_na": False, "na_values": [""], "encoding": "utf-8-sig"}


def _as_data_error(exc: BaseException, path: str, what: str) -> DataError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    match = _LINE.search(message)
    if isinstance(exc, UnicodeError):
        message = f"not UTF-8 text ({message})"
    return DataError(f"cannot read the {what}: {message}", file=path,
                     line=int(match.group(1)) if match else None)


_ERRORS = (ValueError, UnicodeError, OSError, OverflowError, csv.Error, IndexError, TypeError)


def header(path: str, what: str) -> list[str]:
    """The column names of a CSV file (DataError when it is missing, empty or unreadable)."""
    import pandas as pd

    if not os.path.isfile(path):
        raise DataError(f"{what} not found", file=path)
    try:
        frame = pd.read_csv(path, nrows=0, **NA_OPTIONS)
    except pd.errors.EmptyDataError:
        raise DataError(f"the {what} is empty", file=path) from None
    except _ERRORS as exc:
        raise _as_data_error(exc, path, what) from None
    return [str(name) for name in frame.columns]


def read(path: str, what: str, **kwargs):
    """The whole CSV as a DataFrame."""
    import pandas as pd

    try:
        return pd.read_csv(path, **NA_OPTIONS, **kwargs)
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
