"""tfrconv.csvstream reads a CSV as pandas does (pandas is the oracle): the same records,
cells, lines and numbers; and Open Images' quick row parsing agrees with its full one."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reach import branch, reaches

import tfrconv
from tfrconv import csvstream, tables

CELLS = st.sampled_from(["a", "b c", "", " ", "0.5", "-1", '"q,uoted"', '"two\nlines"', '""',
                         '"say ""hi"""', "x\ty", "é", "#", "'"])
ENDS = st.sampled_from(["\n", "\r\n"])


@st.composite
def csv_texts(draw):
    """A header of 1-4 names and rows of cells: some short, some long, blank lines between."""
    width = draw(st.integers(1, 4))
    header = [f"c{i}" for i in range(width)]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", "\t"])))
        cells = draw(st.lists(CELLS, min_size=1, max_size=width + 1))
        lines.append(",".join(cells))
    end = draw(ENDS)
    return header, end.join(lines) + draw(st.sampled_from([end, ""]))


@reaches("compared")
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=csv_texts())
def test_records_cells_and_lines_are_pandas(tmp_path, case):
    import pandas as pd

    header, text = case
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    try:
        frame = pd.read_csv(path, dtype=str, usecols=header, **tables.NA_OPTIONS)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        branch("pandas refuses the file")
        with pytest.raises(tfrconv.DataError):
            list(csvstream.CsvRecords(str(path), "test CSV"))
        return
    expected = [["" if isinstance(v, float) else v for v in row]
                for row in frame[header].itertuples(index=False, name=None)]
    records = csvstream.CsvRecords(str(path), "test CSV")
    got = list(records)
    assert records.header == header
    assert [cells[:len(header)] for _line, cells in got] == expected
    if not any(line == '""' for line in text.splitlines()):   # row_lines takes it as blank
        lines = tables.row_lines(str(path), len(expected)).tolist()
        assert [line for line, _cells in got] == lines
    branch("compared")


NUMBERS = st.sampled_from(["0.5", "-1", "1", "0", "", " ", " 0.25 ", "1e-3", ".5", "5.",
                           "+1", "abc", "nan", "inf", "-inf", "1e400", "1_0", "0x10",
                           "12345678901234567", "0.12345678901234567", "١", "1.0e2", "--1"])


@reaches("compared")
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(NUMBERS | st.floats(0, 1).map(repr) | st.floats(-1e6, 1e6).map(repr),
                     min_size=1, max_size=6))
def test_numbers_are_pandas_numbers(tmp_path, cells):
    import numpy as np
    import pandas as pd

    path = tmp_path / "n.csv"
    path.write_text("h,k\n" + "".join(f"{cell},x\n" for cell in cells), encoding="utf-8")
    frame = pd.read_csv(path, **tables.NA_OPTIONS)
    values, bad = tables.numbers(frame["h"])
    for cell, value, not_number in zip(cells, values.tolist(), bad.tolist()):
        got = csvstream.number(cell)
        if not_number:
            assert got is None, cell
        else:
            assert got is not None, cell
            assert np.float32(got).tobytes() == np.float32(value).tobytes() or \
                (math.isnan(got) and math.isnan(value)), cell
    branch("compared")


PLAIN = st.sampled_from(["0.25", "0.125", "1.0", "0", "1", "0.999999", "-0.5"])
FLAG = st.sampled_from(["0", "1", "-1", ""])
ODD = st.sampled_from(["", " 1", "2", "abc", "1e-3", "0.1234567890123456", "\x00", "nan",
                       "1.0", "+1", "-0"])


@st.composite
def box_cells(draw):
    """The 13 cells of a box row: usual ones, and in about half the rows one to three odd."""
    cells = ["000002b66c9c498e", "xclick", "/m/0k4j", "1", *(draw(PLAIN) for _ in range(4)),
             *(draw(FLAG) for _ in range(5))]
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            where = draw(st.sampled_from([0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]))
            cells[where] = {0: "a\x00b", 2: ""}.get(where) or draw(ODD)   # NUL id, no label
    return cells


@reaches("quick row", share=0.4)
@settings(max_examples=150, deadline=None)
@given(cells=box_cells())
def test_the_quick_box_row_is_the_full_one(tmp_path_factory, cells):
    from tfrconv_plugins.oid import _BoxReader

    path = tmp_path_factory.getbasetemp() / "header.csv"
    path.write_text("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,"
                    "IsTruncated,IsGroupOf,IsDepiction,IsInside\n")
    reader = _BoxReader(str(path))
    quick, full = reader.parse(3, 5, list(cells)), reader.parse_fully(3, 5, list(cells))
    assert repr(quick) == repr(full)                    # repr: NaN equals NaN
    branch("quick row" if full[2] is None else "a row with a problem")
