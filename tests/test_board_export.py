"""The history export opens safely in a spreadsheet: texts that a spreadsheet would run
as formulas are quoted, everything else is as archived."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.station.web.export import FORMULA_STARTS, csv_chunks


def exported(rows: list[dict[str, object]]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(csv_chunks(("note", "value"), rows)))))


@pytest.mark.parametrize(
    "note", ['=HYPERLINK("http://evil","klik")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_a_text_a_spreadsheet_would_run_is_quoted(note: str) -> None:
    assert exported([{"note": note, "value": 1}])[1] == ["'" + note, "1"]


def test_numbers_and_plain_texts_are_exported_as_archived() -> None:
    rows = exported([{"note": "Dicek, aman", "value": -0.5}, {"note": None, "value": None}])
    assert rows == [["note", "value"], ["Dicek, aman", "-0.5"], ["", ""]]


@given(st.lists(st.text(), max_size=30))
def test_every_row_comes_out_once_as_written_or_quoted(notes: list[str]) -> None:
    rows = exported([{"note": n} for n in notes])
    expected = [("'" + n if n.startswith(FORMULA_STARTS) else n) for n in notes]
    assert [r[0] for r in rows[1:]] == expected
