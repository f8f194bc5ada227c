"""Fast start: a small plain CSV is read with the csv module (no pandas import) into exactly
what pandas' reading gives, and anything unusual still goes to pandas (its errors unchanged)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfrconv_plugins import csv_format

from tests.reach import branch, reaches
from tfrconv import tables
from tfrconv.formats import Options

HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax"


def parse_both(path: str) -> tuple[dict, dict]:
    """(csv module reading, pandas reading) of one CSV file, through the format's parser."""
    opts = Options({"csv_file": path, "image_dir": ".", "columns": None, "relative": False})
    columns, normalized = csv_format._layout(path, opts)
    small = tables.small_rows(path)
    assert small is not None, "expected the csv module's path"
    fast = csv_format._small_table(small, columns)
    assert fast is not None
    slow = csv_format._pandas_table(path, columns)
    return (csv_format._grouped(path, columns, normalized, *fast),
            csv_format._grouped(path, columns, normalized, *slow))


number = st.one_of(st.integers(-5, 5000).map(str),
                   st.floats(-100, 5000, allow_nan=False).map(lambda v: f"{v:.6f}"),
                   st.just(""))
name = st.text(st.characters(categories=("L", "N", "Zs", "P", "S"), exclude_characters='",'),
               max_size=6)
row = st.tuples(st.sampled_from(["a.jpg", " b.jpg", "c d.png", "é.jpg"]),
                st.sampled_from(["640", "0", "", "480"]), st.sampled_from(["480", ""]),
                name, number, number, number, number)


@reaches("compared")
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=8), crlf=st.booleans())
def test_small_plain_csv_reads_as_pandas_reads_it(tmp_path, rows, crlf):
    lines = [HEADER] + [",".join(r) for r in rows]
    if any(not line.strip(" \t") for line in lines):
        return
    path = tmp_path / "boxes.csv"
    path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode() + b"\n")
    fast, slow = parse_both(str(path))
    branch("compared")
    assert repr(fast) == repr(slow)


@pytest.mark.parametrize("text", [
    HEADER + '\na.jpg,1,1,"dog, big",0,0,1,1\n',        # quotes
    HEADER + "\na.jpg,1,1,dog,0,0,1,1,extra\n",          # ragged
    HEADER + "\n\na.jpg,1,1,dog,0,0,1,1\n",              # blank line
    HEADER + "\na.jpg,1,1,dog,0,0,1\r1\n",               # lone CR
    HEADER.replace("class", "") + "\na.jpg,1,1,dog,0,0,1,1\n",   # empty column name
    HEADER,                                              # no rows
])
def test_unusual_files_go_to_pandas(tmp_path, text):
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    assert tables.small_rows(str(path)) is None


@pytest.mark.parametrize("cell", ["1e3", "+5", "5.", ".5", "nan", "inf", "1_000",
                                  "1234567890.1234567"])
def test_numbers_that_are_not_plain_go_to_pandas(cell):
    assert tables.plain_numbers(["1", cell]) is None
    assert tables.plain_numbers(["1", " 2.5 ", ""])[:2] == [1.0, 2.5]


def test_a_large_file_goes_to_pandas(tmp_path, monkeypatch):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "\na.jpg,1,1,dog,0,0,1,1\n", encoding="utf-8")
    monkeypatch.setattr(tables, "SMALL_CSV_BYTES", 10)
    assert tables.small_rows(str(path)) is None


def test_a_small_csv_conversion_does_not_import_pandas(tmp_path):
    from tests import datasets

    layout, options = datasets.make("csv", tmp_path / "data", datasets.standard_pictures())
    args = datasets.command_line(layout, options, tmp_path / "out")
    # -X importtime lists every module imported (the process may end with os._exit).
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tfrconv", *args,
                           "--workers", "1", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "wrote 6 examples" in done.stdout                    # it did convert
    assert "pandas" not in imported
