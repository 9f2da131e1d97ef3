"""Builders for the CAP tests: the station's profile, and a small driver that plays an
alarm's lifecycle the way the station will (alarm object updated, then ``compose``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xmlschema

from edge.cap.compose import AlarmFacts, CapProfile, EventFacts, Moment, SiteFacts, compose
from edge.cap.encode import to_xml
from edge.cap.model import CapAlert

DATA = Path(__file__).parent / "data" / "cap"
WIB = ZoneInfo("Asia/Jakarta")
T0 = datetime(2025, 3, 11, 2, 14, 5, 123000, tzinfo=UTC)  # 09:14:05.123 WIB
SENDER = "siaga@polresta-banyuwangi"
SITE = SiteFacts("lapas-banyuwangi", "Lapas Kelas IIA Banyuwangi", -8.2192, 114.3691)


@cache
def cap_schema() -> xmlschema.XMLSchema:
    """The vendored OASIS CAP 1.2 schema (parsed once per test run)."""
    return xmlschema.XMLSchema(str(DATA / "cap12.xsd"))


def profile(**overrides: Any) -> CapProfile:
    base = CapProfile(
        sender=SENDER,
        sender_name="Polresta Banyuwangi",
        zone=WIB,
        base_url="https://siaga.polresta-banyuwangi.example",
        restriction="Partner agencies only",
        sites={SITE.id: SITE, "pos-2": SiteFacts("pos-2", "Pos Jaga 2")},
        procedures={"fire": ("Hubungi Damkar (113)", "Hubungi Kalapas", "Kirim unit patroli")},
    )
    return replace(base, **overrides)


class Lifecycle:
    """One alarm as the station tracks it; every step returns the CAP alert it produced
    (or None) and keeps the chain, as the station's archive would."""

    def __init__(
        self,
        hazard: str = "fire",
        *,
        site: str = SITE.id,
        drill: bool = False,
        test: bool = False,
        prof: CapProfile | None = None,
        alarm_id: str = "alarm-7f3a",
    ) -> None:
        self.profile = prof or profile()
        self.at = T0
        self.alarm = AlarmFacts(
            alarm_id=alarm_id,
            site=site,
            device="pi-blok-a",
            sensor=f"{hazard}-1",
            hazard=hazard,
            active=False,
            first_at=T0,
            last_at=T0,
            events=0,
            drill=drill,
            test=test,
        )
        self.event = EventFacts("none", 1, "normal", T0)
        self.alerts: list[CapAlert] = []
        self.seq = 100

    def _step(self, moment: Moment) -> CapAlert | None:
        alert = compose(self.profile, self.alarm, self.event, moment, self.at, self.alerts)
        if alert is not None:
            self.alerts.append(alert)
        return alert

    def later(self, seconds: float) -> Lifecycle:
        self.at += timedelta(seconds=seconds)
        return self

    def event_(
        self,
        state: str,
        stage: str | None = None,
        value: float | None = None,
        *,
        after_s: float = 30.0,
    ) -> CapAlert | None:
        self.later(after_s)
        self.seq += 1
        active = state in ("warning", "alarm", "fault")
        self.event = EventFacts(
            id=f"ev-{self.seq}",
            seq=self.seq,
            state=state,
            ts=self.at,
            stage=stage,
            reason="level" if state != "fault" else "no_data",
            value=value,
            unit={"flood": "m", "earthquake": "g"}.get(self.alarm.hazard, "ppm"),
            threshold=None,
            message=f"device says {state}",
        )
        first = self.alarm.events == 0
        self.alarm = replace(
            self.alarm,
            active=active,
            first_at=self.at if first else self.alarm.first_at,
            last_at=self.at,
            events=self.alarm.events + 1,
            first_event_id=self.event.id if first else self.alarm.first_event_id,
            last_event_id=self.event.id,
        )
        return self._step(Moment.EVENT)

    def ack(self, by: str = "brigpol.andi", *, confirmed: bool = False) -> CapAlert | None:
        self.later(20)
        self.alarm = replace(
            self.alarm,
            ack="confirmed" if confirmed else "pending",
            acked_by=by,
            acked_at=self.alarm.acked_at or self.at,
        )
        return self._step(Moment.ACK)

    def close(self, by: str = "ipda.sari", note: str = "Dicek, aman") -> CapAlert | None:
        self.later(60)
        self.alarm = replace(
            self.alarm, closed=True, closed_by=by, closed_at=self.at, close_note=note
        )
        return self._step(Moment.CLOSE)

    def refresh(self, after_s: float) -> CapAlert | None:
        self.later(after_s)
        return self._step(Moment.REFRESH)

    def xml(self) -> list[bytes]:
        return [to_xml(a) for a in self.alerts]
