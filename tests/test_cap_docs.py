"""docs/cap.md's mapping table is the one the composer uses."""

from __future__ import annotations

from pathlib import Path

from edge.cap.mapping import CATEGORY, FAULT, TABLE, Phase, grade
from edge.payloads import Hazard

DOC = Path(__file__).parents[1] / "docs" / "cap.md"


def _documented_rows() -> dict[tuple[str, str], tuple[str, ...]]:
    text = DOC.read_text(encoding="utf-8").split("<!-- mapping-table")[1]
    rows = {}
    for line in text.splitlines()[3:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[(cells[0], cells[1])] = tuple(cells[2:7])
    return rows


def test_every_hazard_and_phase_of_the_table_is_documented_as_coded() -> None:
    rows = _documented_rows()
    for (hazard, phase), g in TABLE.items():
        assert rows[(str(hazard), str(phase))] == (
            g.category,
            g.urgency,
            g.severity,
            g.certainty,
            g.response,
        )
    fault = (FAULT.category, FAULT.urgency, FAULT.severity, FAULT.certainty, FAULT.response)
    assert rows[("any", "fault")] == fault
    for phase in (Phase.CLEAR, Phase.CLOSED):
        g = grade(Hazard.FIRE, phase)
        assert rows[("any", str(phase))] == (
            "(the hazard's)",
            g.urgency,
            g.severity,
            g.certainty,
            g.response,
        )
    assert len(rows) == len(TABLE) + 3


def test_every_hazard_has_a_category_and_both_graded_phases() -> None:
    for hazard in Hazard:
        assert hazard in CATEGORY
        assert (hazard, Phase.WARNING) in TABLE and (hazard, Phase.ALARM) in TABLE
