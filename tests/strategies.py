"""Hypothesis strategies shared by the reader fuzz tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def messy_rows(draw, valid_row, cell):
    """CSV lines from valid rows, each with up to two mutations: a cell replaced, dropped or
    inserted, so fuzzing exercises both outcomes (a sample, a DataError)."""
    rows = []
    for row in map(list, draw(st.lists(valid_row, max_size=6))):
        for _ in range(draw(st.integers(0, 2))):
            where = draw(st.integers(0, max(len(row) - 1, 0)))
            kind = draw(st.sampled_from(["replace", "drop", "insert"]))
            if kind == "insert" or not row:
                row.insert(where, draw(cell))
            elif kind == "replace":
                row[where] = draw(cell)
            else:
                row.pop(where)
        rows.append(",".join(row))
    return rows
