"""Hypothesis strategies shared by the reader fuzz tests: mostly valid input, targeted breaks.

Random junk fails at the first check and never reaches what a fuzz test means to check, so the
strategies here keep most inputs valid and break one part at a time, the way real files break.
"""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def one_part_broken(draw, parts: dict, odds: int = 3):
    """{part: value, "broken": part or None}: every part drawn from its usual strategy, except
    that in about one example in `odds` one part, picked at random, comes from its unusual one.

    parts: name -> (usual strategy, unusual strategy).
    """
    # (hypothesis leans to the first of a sampled list: the usual case comes first)
    breaks = draw(st.sampled_from([False] * (odds - 1) + [True]))
    broken = draw(st.sampled_from(sorted(parts))) if breaks else None
    values = {name: draw(unusual if name == broken else usual)
              for name, (usual, unusual) in parts.items()}
    return {**values, "broken": broken}


def csv_lines(valid_row, max_rows: int = 6):
    """1 to `max_rows` valid CSV rows (lists of cells), as lines."""
    return st.lists(valid_row, min_size=1, max_size=max_rows).map(
        lambda rows: [",".join(row) for row in rows])


@st.composite
def messy_rows(draw, valid_row, cell, max_rows: int = 6):
    """CSV lines from valid rows with one to three mutations (a cell replaced, dropped or
    inserted) in rows picked at random: a DataError, or a sample the reader must get right."""
    rows = [list(row) for row in draw(st.lists(valid_row, min_size=1, max_size=max_rows))]
    for _ in range(draw(st.integers(1, 3))):
        row = rows[draw(st.integers(0, len(rows) - 1))]
        where = draw(st.integers(0, max(len(row) - 1, 0)))
        kind = draw(st.sampled_from(["replace", "drop", "insert"]))
        if kind == "insert" or not row:
            row.insert(where, draw(cell))
        elif kind == "replace":
            row[where] = draw(cell)
        else:
            row.pop(where)
    return [",".join(row) for row in rows]
