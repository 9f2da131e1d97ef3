"""The rules checker finds what the schema lets through."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cap_factories import Lifecycle, cap_schema

from edge.cap import rules
from edge.cap.encode import to_xml
from edge.cap.model import Area, CapAlert, Ref


def _chain() -> list[CapAlert]:
    life = Lifecycle("fire")
    life.event_("alarm")
    life.ack()
    life.event_("normal")
    return life.alerts


def _with_area(alert: CapAlert, area: Area) -> CapAlert:
    return replace(alert, infos=tuple(replace(i, areas=(area,)) for i in alert.infos))


def _rules_broken(alert: CapAlert) -> set[str]:
    return {p.rule for p in rules.check_alert(to_xml(alert))}


@pytest.mark.parametrize(
    ("polygon", "why"),
    [
        ("-8.2,114.3 -8.2,114.4 -8.3,114.4", "at least 4"),
        ("-8.2,114.3 -8.2,114.4 -8.3,114.4 -8.3,114.3", "not closed"),
        ("-8.2,114.3 -8.2;114.4 -8.3,114.4 -8.2,114.3", "not lat,lon"),
        ("-98.2,114.3 -8.2,114.4 -8.3,114.4 -98.2,114.3", "latitude"),
    ],
)
def test_a_polygon_must_be_closed_with_at_least_four_valid_points(polygon: str, why: str) -> None:
    alert = _with_area(_chain()[0], Area("Blok A", polygons=(polygon,)))
    cap_schema().validate(to_xml(alert))  # the schema lets it through
    problems = rules.check_alert(to_xml(alert))
    assert [p.rule for p in problems] == ["polygon", "polygon"]  # once per info block
    assert why in problems[0].detail


def test_a_closed_polygon_of_four_points_passes() -> None:
    ring = "-8.2,114.3 -8.2,114.4 -8.3,114.4 -8.2,114.3"
    assert _rules_broken(_with_area(_chain()[0], Area("Blok A", polygons=(ring,)))) == set()


@pytest.mark.parametrize("circle", ["-8.2,114.3", "-8.2 114.3 0.5", "-8.2,114.3 -1", "x,y 1"])
def test_a_circle_must_be_lat_lon_and_a_radius(circle: str) -> None:
    alert = _with_area(_chain()[0], Area("Blok A", circles=(circle,)))
    assert _rules_broken(alert) == {"circle"}


@pytest.mark.parametrize(
    "sent", ["2025-03-11T02:14:05Z", "2025-03-11T09:14:05.123+07:00", "2025-03-11T09:14:05"]
)
def test_sent_needs_an_offset_and_whole_seconds(sent: str) -> None:
    assert _rules_broken(replace(_chain()[0], sent=sent)) == {"time"}


def test_an_expiry_before_the_effective_time_is_refused() -> None:
    alert = _chain()[0]
    early = replace(
        alert, infos=tuple(replace(i, expires="2025-03-11T08:00:00+07:00") for i in alert.infos)
    )
    assert _rules_broken(early) == {"expires"}


def test_identifier_and_sender_have_no_spaces_commas_or_restricted_characters() -> None:
    alert = replace(_chain()[0], identifier="a b", sender="x,y")
    assert _rules_broken(alert) == {"identifier", "sender"}


def test_an_update_or_cancel_without_references_is_refused() -> None:
    assert _rules_broken(replace(_chain()[1], references=())) == {"references"}


def test_a_malformed_reference_is_refused() -> None:
    bad = replace(_chain()[1], references=(Ref("s", "id", "yesterday"),))
    assert _rules_broken(bad) == {"references"}


def test_restricted_scope_needs_a_restriction_and_private_needs_addresses() -> None:
    alert = _chain()[0]
    assert _rules_broken(replace(alert, restriction=None)) == {"restriction"}
    assert _rules_broken(replace(alert, scope="Private", restriction=None)) == {"addresses"}


def test_a_chain_refuses_a_reference_to_an_alert_it_has_not_seen() -> None:
    alert, update, cancel = _chain()
    problems = rules.check_chain([to_xml(update), to_xml(cancel)])
    assert {p.rule for p in problems} == {"references", "follows"}
    assert rules.check_chain([to_xml(a) for a in (alert, update, cancel)]) == []


def test_a_chain_refuses_an_identifier_issued_twice() -> None:
    alert = _chain()[0]
    assert [p.rule for p in rules.check_chain([to_xml(alert), to_xml(alert)])] == ["unique"]


def test_a_chain_refuses_an_update_that_references_no_alert() -> None:
    alert, update, cancel = _chain()
    orphan = replace(cancel, references=(update.ref,))
    problems = rules.check_chain([to_xml(a) for a in (alert, update, orphan)])
    assert [p.rule for p in problems] == ["follows"]


def test_a_reference_with_the_wrong_sent_time_names_no_earlier_alert() -> None:
    alert, update, _ = _chain()
    wrong = replace(update, references=(replace(alert.ref, sent="2025-03-11T09:00:00+07:00"),))
    problems = rules.check_chain([to_xml(alert), to_xml(wrong)])
    assert {p.rule for p in problems} == {"references", "follows"}


def test_a_reference_to_a_known_outside_alert_is_accepted() -> None:
    alert, update, _ = _chain()
    assert rules.check_chain([to_xml(update)], known=[str(alert.ref)]) == []


def test_a_document_that_is_not_xml_is_one_problem_not_an_exception() -> None:
    assert [p.rule for p in rules.check_alert(b"<alert")] == ["xml"]
