"""Every alert the station produces is valid CAP 1.2: the OASIS schema, the rules the
schema cannot express, and an independent reader getting back what was written."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cap_factories import T0, WIB, Lifecycle, cap_schema, profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.cap import rules
from edge.cap.atom import ATOM_NS, atom_feed
from edge.cap.decode import from_xml
from edge.cap.encode import to_xml
from edge.cap.model import CAP_NS, CapAlert


def fire() -> Lifecycle:
    life = Lifecycle("fire")
    life.event_("warning", value=320)
    life.event_("alarm", value=650)
    life.ack()
    life.ack(confirmed=True)
    life.event_("normal")
    life.close()
    return life


def gas() -> Lifecycle:
    life = Lifecycle("gas")
    life.event_("warning")
    life.event_("alarm")
    life.event_("normal")
    life.close()
    return life


def flood_each_stage() -> Lifecycle:
    life = Lifecycle("flood")
    for state, stage, level in [
        ("warning", "Waspada", 0.8),
        ("warning", "Siaga", 1.0),
        ("alarm", "Awas", 1.3),
        ("warning", "Siaga", 1.0),
        ("warning", "Waspada", 0.8),
        ("normal", None, 0.4),
    ]:
        life.event_(state, stage, level)
    life.close()
    return life


def earthquake() -> Lifecycle:
    life = Lifecycle("earthquake")
    life.event_("warning")
    life.event_("alarm", value=0.08)
    life.event_("normal")
    return life


def intrusion_closed_while_active() -> Lifecycle:
    life = Lifecycle("intrusion")
    life.event_("alarm")
    life.ack()
    life.close(note="Petugas memeriksa pagar: kucing")
    return life


def tamper() -> Lifecycle:
    life = Lifecycle("tamper")
    life.event_("alarm")
    life.event_("normal")
    return life


def fault_then_alarm() -> Lifecycle:
    life = Lifecycle("fire", site="pos-2")  # a site without coordinates
    life.event_("fault")
    life.event_("alarm")
    life.event_("normal")
    life.close()
    return life


def device_fault() -> Lifecycle:
    life = Lifecycle("device")
    life.event_("fault")
    life.event_("normal")
    return life


def drill() -> Lifecycle:
    life = Lifecycle("fire", drill=True)
    life.event_("alarm")
    life.event_("normal")
    life.close(note="Latihan selesai")
    return life


def walk_test() -> Lifecycle:
    life = Lifecycle("intrusion", test=True)
    life.event_("warning")
    life.event_("alarm")
    life.event_("normal")
    return life


def reactivated_and_refreshed() -> Lifecycle:
    life = Lifecycle("flood", prof=profile(geocodes=(("BPS", "3510"),)))
    life.event_("alarm", "Awas", 1.3)
    life.event_("normal")
    life.event_("alarm", "Awas", 1.4)
    life.refresh(5.8 * 3600)
    life.close()
    return life


SCENARIOS: dict[str, Callable[[], Lifecycle]] = {
    f.__name__: f
    for f in (
        fire,
        gas,
        flood_each_stage,
        earthquake,
        intrusion_closed_while_active,
        tamper,
        fault_then_alarm,
        device_fault,
        drill,
        walk_test,
        reactivated_and_refreshed,
    )
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_alert_of_the_scenario_validates_against_the_oasis_schema(name: str) -> None:
    life = SCENARIOS[name]()
    assert len(life.alerts) >= 2
    for document in life.xml():
        cap_schema().validate(document)


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_scenarios_chain_follows_the_cap_rules_the_schema_cannot_express(name: str) -> None:
    assert rules.check_chain(SCENARIOS[name]().xml()) == []


def test_the_scenarios_cover_every_message_type_status_and_phase() -> None:
    alerts = [a for make in SCENARIOS.values() for a in make().alerts]
    assert {a.msg_type for a in alerts} == {"Alert", "Update", "Cancel"}
    assert {a.status for a in alerts} == {"Actual", "Exercise", "Test"}
    assert {a.parameter("phase") for a in alerts} == {
        "warning",
        "alarm",
        "fault",
        "clear",
        "closed",
    }
    assert {a.parameter("hazard") for a in alerts} == {
        "fire",
        "gas",
        "flood",
        "earthquake",
        "intrusion",
        "tamper",
        "device",
    }


def _fields(alert: CapAlert) -> dict[str, Any]:
    """What a partner acts on, from our model."""
    return {
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": alert.sent,
        "status": alert.status,
        "msgType": alert.msg_type,
        "scope": alert.scope,
        "references": " ".join(str(r) for r in alert.references) or None,
        "infos": [
            {
                "language": i.language,
                "category": list(i.categories),
                "event": i.event,
                "urgency": i.urgency,
                "severity": i.severity,
                "certainty": i.certainty,
                "responseType": list(i.response_types),
                "headline": i.headline,
                "description": i.description,
                "instruction": i.instruction,
                "expires": i.expires,
                "web": i.web,
                "parameter": {k: v for k, v in i.parameters},
                "circle": [c for a in i.areas for c in a.circles],
                "areaDesc": [a.desc for a in i.areas],
            }
            for i in alert.infos
        ],
    }


def _unprefixed(data: Any) -> Any:
    """xmlschema's dict, keys without any namespace prefix."""
    if isinstance(data, dict):
        return {k.split(":")[-1]: _unprefixed(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unprefixed(v) for v in data]
    return data


def _fields_by_xmlschema(document: bytes) -> dict[str, Any]:
    """The same fields, read by xmlschema's decoder from the schema-validated tree: an
    independent reader (capparselib pins lxml 4.6 and does not build on Python 3.11)."""
    plain = _unprefixed(cap_schema().to_dict(document.decode(), validation="strict"))
    infos = plain["info"]
    return {
        **{k: plain.get(k) for k in ("identifier", "sender", "sent", "status", "msgType")},
        "scope": plain["scope"],
        "references": plain.get("references"),
        "infos": [
            {
                **{
                    k: info.get(k)
                    for k in (
                        "language",
                        "category",
                        "event",
                        "urgency",
                        "severity",
                        "certainty",
                        "responseType",
                        "headline",
                        "description",
                        "instruction",
                        "expires",
                        "web",
                    )
                },
                "parameter": {p["valueName"]: p["value"] for p in info.get("parameter", [])},
                "circle": [c for a in info["area"] for c in a.get("circle", [])],
                "areaDesc": [a["areaDesc"] for a in info["area"]],
            }
            for info in infos
        ],
    }


@pytest.mark.parametrize("name", ["fire", "flood_each_stage", "intrusion_closed_while_active"])
def test_an_independent_reader_gets_back_the_fields_that_were_written(name: str) -> None:
    for alert in SCENARIOS[name]().alerts:
        assert _fields_by_xmlschema(to_xml(alert)) == _fields(alert)


def test_our_reader_gets_back_the_very_alert_that_was_written() -> None:
    for make in SCENARIOS.values():
        for alert in make().alerts:
            assert from_xml(to_xml(alert)) == alert


def _feed(alerts: list[CapAlert], limit: int = 50) -> ET.Element:
    body = atom_feed(
        alerts,
        base_url="https://siaga.example",
        title="Polresta Banyuwangi",
        now=T0,
        zone=WIB,
        limit=limit,
    )
    return ET.fromstring(body)


def test_the_atom_feed_lists_the_newest_alerts_first_and_no_more_than_the_limit() -> None:
    alerts = fire().alerts + gas().alerts
    feed = _feed(alerts, limit=4)
    entries = feed.findall(f"{{{ATOM_NS}}}entry")
    newest = sorted(alerts, key=lambda a: a.sent_at, reverse=True)[:4]
    assert [e.findtext(f"{{{ATOM_NS}}}updated") for e in entries] == [a.sent for a in newest]
    assert feed.findtext(f"{{{ATOM_NS}}}updated") == newest[0].sent


def test_each_feed_entry_links_its_alert_and_embeds_it_valid() -> None:
    alert = fire().alerts[0]
    entry = _feed([alert]).find(f"{{{ATOM_NS}}}entry")
    assert entry is not None
    url = f"https://siaga.example/cap/{alert.identifier}.xml"
    assert entry.findtext(f"{{{ATOM_NS}}}id") == url
    link = entry.find(f"{{{ATOM_NS}}}link")
    assert link is not None and link.attrib == {
        "rel": "alternate",
        "type": "application/cap+xml",
        "href": url,
    }
    assert entry.findtext(f"{{{ATOM_NS}}}title") == (
        "Alert: WASPADA KEBAKARAN di Lapas Kelas IIA Banyuwangi"
    )
    embedded = entry.find(f"{{{ATOM_NS}}}content/{{{CAP_NS}}}alert")
    assert embedded is not None
    cap_schema().validate(ET.tostring(embedded).decode())
    assert rules.check_alert(embedded) == []


def test_an_empty_feed_is_still_a_valid_atom_document_stamped_now() -> None:
    feed = _feed([])
    assert feed.findtext(f"{{{ATOM_NS}}}updated") == "2025-03-11T09:14:05+07:00"
    assert feed.findall(f"{{{ATOM_NS}}}entry") == []


STEP = st.one_of(
    st.tuples(
        st.just("event"),
        st.sampled_from(["warning", "alarm", "fault", "normal"]),
        st.sampled_from([None, "Waspada", "Siaga", "Awas"]),
    ),
    st.tuples(st.just("ack"), st.booleans(), st.none()),
    st.tuples(st.just("refresh"), st.none(), st.none()),
    st.tuples(st.just("close"), st.none(), st.none()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hazard=st.sampled_from(["fire", "gas", "flood", "earthquake", "intrusion", "tamper", "device"]),
    mode=st.sampled_from(["actual", "drill", "test"]),
    steps=st.lists(STEP, min_size=1, max_size=14),
    gaps=st.lists(st.integers(min_value=0, max_value=40_000), min_size=14, max_size=14),
)
def test_random_alarm_lifecycles_yield_valid_rule_abiding_chains(
    hazard: str, mode: str, steps: list[tuple[str, Any, Any]], gaps: list[int]
) -> None:
    life = Lifecycle(hazard, drill=mode == "drill", test=mode == "test")
    for (kind, a, b), gap in zip(steps, gaps, strict=False):
        if kind == "event":
            life.event_(a, b, after_s=gap)
        elif kind == "ack":
            life.later(gap).ack(confirmed=a)
        elif kind == "refresh":
            life.refresh(gap)
        else:
            life.later(gap).close()
    documents = life.xml()
    for document in documents:
        cap_schema().validate(document)
    assert rules.check_chain(documents) == []
    if life.alerts:
        assert life.alerts[0].msg_type == "Alert"
        assert all(b.sent_at >= a.sent_at for a, b in itertools.pairwise(life.alerts))
    closes = [a for a in life.alerts if a.parameter("phase") == "closed"]
    assert len(closes) <= 1 and (not closes or closes[0] is life.alerts[-1])


def test_expiry_follows_the_configured_lifetime() -> None:
    life = Lifecycle("fire", prof=profile(expires=timedelta(hours=2)))
    alert = life.event_("alarm", after_s=0)
    assert alert is not None and alert.infos[0].expires == "2025-03-11T11:14:05+07:00"
