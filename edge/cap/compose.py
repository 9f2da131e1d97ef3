"""An alarm's lifecycle as a chain of CAP alerts: pure, the station passes in the alarm,
its latest event, the moment and its time, and the alerts already issued for it.

``Alert`` opens a chain; ``Update`` follows a change of state or stage, an acknowledgement
or a refresh before expiry; ``Cancel`` ends it when the alarm clears or is closed. Every
Update/Cancel references every earlier alert of its chain. After a clear, only a new
activation (a new ``Alert``) or the close (a last ``Cancel``) speak again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from edge.cap import mapping as m
from edge.cap.model import Area, CapAlert, Info, cap_time
from edge.payloads import Hazard

if TYPE_CHECKING:
    from edge.cap.config import CapConfig
    from edge.payloads import Event

CANCEL_LIFETIME = timedelta(hours=1)
"""A Cancel is news for an hour: long enough for a poller to see it, then it expires."""

TOKEN = re.compile(r"^[A-Za-z0-9_@-]{1,64}$")


class Moment(StrEnum):
    """What just happened to the alarm."""

    EVENT = "event"  # an event of the alarm's sensor was archived
    ACK = "ack"  # the ack state changed (pending, then confirmed by the device)
    CLOSE = "close"  # an operator closed the alarm
    REFRESH = "refresh"  # the last alert is about to expire while the alarm is still open


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """The station's alarm object (station.md), as the CAP side needs it; the
    ``closed_*`` fields are the record of who closed it."""

    alarm_id: str
    site: str
    device: str
    sensor: str
    hazard: str
    active: bool
    first_at: datetime
    last_at: datetime
    events: int = 1
    severity: str = "critical"
    ack: Literal["none", "pending", "confirmed"] = "none"
    acked_by: str | None = None
    acked_at: datetime | None = None
    closed: bool = False
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_note: str | None = None
    first_event_id: str = ""
    last_event_id: str = ""
    drill: bool = False
    test: bool = False
    silent: bool = False
    """The alarm is of the site itself gone silent (the station's ``_site`` alarm): its
    words say so, not a sensor fault."""


@dataclass(frozen=True, slots=True)
class EventFacts:
    """The alarm's latest event: the fields of the device's event payload CAP reports."""

    id: str
    seq: int
    state: str
    ts: datetime
    stage: str | None = None
    reason: str = ""
    value: float | None = None
    unit: str = ""
    threshold: float | None = None
    message: str = ""

    @classmethod
    def of(cls, event: Event) -> EventFacts:
        return cls(
            id=event.id,
            seq=event.seq,
            state=str(event.state),
            ts=datetime.fromisoformat(event.ts.replace("Z", "+00:00")),
            stage=event.stage,
            reason=str(event.reason),
            value=event.value,
            unit=event.unit,
            threshold=event.threshold,
            message=event.message,
        )


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """A ``[[sites]]`` entry of the station config."""

    id: str
    name: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class CapProfile:
    """Everything about the station the alerts carry: from ``[cap]``, ``[station] name``,
    ``[[sites]]`` and ``[[procedures]]``."""

    sender: str
    sender_name: str
    zone: tzinfo
    base_url: str
    scope: str = "Restricted"
    restriction: str | None = None
    addresses: str | None = None
    alarm_path: str = "/alarms/{alarm_id}"
    radius_km: float = 0.5
    geocodes: tuple[tuple[str, str], ...] = ()
    site_geocodes: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    expires: timedelta = timedelta(hours=6)
    sites: Mapping[str, SiteFacts] = field(default_factory=dict)
    procedures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls,
        cap: CapConfig,
        *,
        station_name: str,
        base_url: str,
        sites: Sequence[SiteFacts] = (),
        procedures: Mapping[str, Sequence[str]] | None = None,
    ) -> CapProfile:
        """``base_url`` is used when ``[cap] public_url`` is not set (the listen address)."""
        return cls(
            sender=cap.sender,
            sender_name=station_name,
            zone=cap.zone,
            base_url=(cap.public_url or base_url).rstrip("/"),
            scope=cap.scope,
            restriction=cap.restriction if cap.scope == "Restricted" else None,
            addresses=cap.addresses,
            alarm_path=cap.alarm_path,
            radius_km=cap.radius_km,
            geocodes=tuple((g.name, g.value) for g in cap.geocode),
            site_geocodes={
                k: tuple((g.name, g.value) for g in v) for k, v in cap.site_geocode.items()
            },
            expires=timedelta(hours=cap.expires_h),
            sites={s.id: s for s in sites},
            procedures={k: tuple(v) for k, v in (procedures or {}).items()},
        )


def token(text: str) -> str:
    """``text`` if it is a safe identifier part, else a digest of it (``~`` + hex): a part
    never contains the ``.`` that joins them, so identifiers cannot collide."""
    if TOKEN.match(text):
        return text
    return "~" + hashlib.sha256(text.encode()).hexdigest()[:24]


def identifier(sender: str, alarm_id: str, number: int) -> str:
    """Stable and unique: the same sender, alarm and position always give the same one."""
    return f"{token(sender)}.{token(alarm_id)}.{number}"


def status_of(alarm: AlarmFacts) -> str:
    return "Test" if alarm.test else "Exercise" if alarm.drill else "Actual"


def current_chain(previous: Sequence[CapAlert]) -> list[CapAlert]:
    """The alerts since the last ``Alert``: what an Update or Cancel now references."""
    start = max((i for i, a in enumerate(previous) if a.msg_type == "Alert"), default=0)
    return list(previous[start:])


def refresh_due(previous: Sequence[CapAlert], now: datetime, margin: timedelta) -> bool:
    """The last alert of an open chain expires within ``margin``: issue a REFRESH."""
    if not previous or previous[-1].msg_type == "Cancel":
        return False
    expires = previous[-1].infos[0].expires if previous[-1].infos else None
    if expires is None:
        return False
    return datetime.fromisoformat(expires) - margin <= now


def compose(
    profile: CapProfile,
    alarm: AlarmFacts,
    event: EventFacts,
    moment: Moment,
    at: datetime,
    previous: Sequence[CapAlert] = (),
) -> CapAlert | None:
    """The CAP alert this moment calls for, or None when partners need not hear of it.

    ``previous``: every alert already issued for this alarm, oldest first (the station
    keeps them; its archive is the chain's memory). ``alarm`` and ``event`` are as they
    stand after the moment.
    """
    for old in previous:
        if old.parameter("alarm_id") != alarm.alarm_id:
            raise ValueError(f"alert {old.identifier} is not of alarm {alarm.alarm_id}")
    last = previous[-1] if previous else None
    if last is not None and last.parameter("phase") == m.Phase.CLOSED:
        return None  # the chain is over for good
    if moment is Moment.CLOSE:
        if last is None:
            return None
        return _build(profile, alarm, event, at, previous, "Cancel", m.Phase.CLOSED)
    phase = _phase(alarm, event)
    if phase is None:  # active, but the latest event is not one CAP grades (disabled, ...)
        if last is None or last.msg_type == "Cancel" or moment is Moment.EVENT:
            return None
        phase = m.Phase(last.parameter("phase") or m.Phase.ALARM)
    if last is None or last.msg_type == "Cancel":
        if alarm.active and (last is None or moment is Moment.EVENT):
            return _build(profile, alarm, event, at, previous, "Alert", phase)
        return None
    if not alarm.active:
        return _build(profile, alarm, event, at, previous, "Cancel", m.Phase.CLEAR)
    changed = {
        Moment.EVENT: (last.parameter("state"), last.parameter("stage"))
        != (event.state, event.stage),
        Moment.ACK: alarm.ack != "none" and last.parameter("ack") != alarm.ack,
        Moment.REFRESH: True,
    }[moment]
    if not changed:
        return None
    return _build(profile, alarm, event, at, previous, "Update", phase)


GRADED = {"warning": m.Phase.WARNING, "alarm": m.Phase.ALARM, "fault": m.Phase.FAULT}


def _phase(alarm: AlarmFacts, event: EventFacts) -> m.Phase | None:
    if not alarm.active:
        return m.Phase.CLEAR
    return GRADED.get(event.state)


def _build(
    profile: CapProfile,
    alarm: AlarmFacts,
    event: EventFacts,
    at: datetime,
    previous: Sequence[CapAlert],
    msg_type: str,
    phase: m.Phase,
) -> CapAlert:
    status = status_of(alarm)
    sent = cap_time(at, profile.zone)
    lifetime = CANCEL_LIFETIME if msg_type == "Cancel" else profile.expires
    words = _Words(profile, alarm, event, phase, status)
    infos = tuple(
        words.info(lang, sent=sent, expires=cap_time(at + lifetime, profile.zone))
        for lang in m.LANGUAGES
    )
    refs = () if msg_type == "Alert" else tuple(a.ref for a in current_chain(previous))
    return CapAlert(
        identifier=identifier(profile.sender, alarm.alarm_id, len(previous) + 1),
        sender=profile.sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        scope=profile.scope,
        source=f"{alarm.site}/{alarm.device}/{alarm.sensor}",
        restriction=profile.restriction if profile.scope == "Restricted" else None,
        addresses=profile.addresses if profile.scope == "Private" else None,
        note=m.NOTE.get(status),
        references=refs,
        incidents=token(alarm.alarm_id),
        infos=infos,
    )


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


class _Words:
    """The texts of one alert in each language: built once per alert, read per language."""

    def __init__(
        self,
        profile: CapProfile,
        alarm: AlarmFacts,
        event: EventFacts,
        phase: m.Phase,
        status: str,
    ) -> None:
        self.profile, self.alarm, self.event = profile, alarm, event
        self.phase, self.status = phase, status
        self.hazard = Hazard(alarm.hazard) if alarm.hazard in set(Hazard) else Hazard.DEVICE
        self.site = profile.sites.get(alarm.site, SiteFacts(alarm.site))
        self.place = self.site.name or alarm.site

    def _time(self, at: datetime) -> str:
        return cap_time(at, self.profile.zone).replace("T", " ")

    def info(self, lang: str, *, sent: str, expires: str) -> Info:
        grade = m.grade(self.hazard, self.phase)
        haz = m.HAZARD_WORD[lang][self.hazard]
        fields = {"haz": haz, "HAZ": haz.upper(), "Haz": haz[:1].upper() + haz[1:]}
        heads = m.SILENT_HEADLINE if self.alarm.silent else m.HEADLINE
        headline = heads[lang][self.phase].format(place=self.place, **fields)
        if self.event.stage and self.phase in (m.Phase.WARNING, m.Phase.ALARM):
            headline += f" — {self.event.stage}"
        headline = m.PREFIX[lang].get(self.status, "") + headline
        event_name = m.EVENT_NAME[lang].get(self.phase, "{Haz}").format(**fields)
        if self.alarm.silent:
            event_name = m.SILENT_EVENT_NAME[lang]
        return Info(
            language=m.LANGUAGES[lang],
            categories=(grade.category,),
            event=event_name,
            response_types=(grade.response,),
            urgency=grade.urgency,
            severity=grade.severity,
            certainty=grade.certainty,
            event_codes=(("siaga:hazard", str(self.hazard)),),
            effective=sent,
            onset=cap_time(self.alarm.first_at, self.profile.zone)
            if self.phase not in (m.Phase.CLEAR, m.Phase.CLOSED)
            else None,
            expires=expires,
            sender_name=self.profile.sender_name,
            headline=headline[:160],
            description=self._description(lang),
            instruction=self._instruction(lang, haz),
            web=self.profile.base_url
            + self.profile.alarm_path.format(alarm_id=quote(self.alarm.alarm_id, safe="")),
            parameters=self._parameters(),
            areas=(self._area(),),
        )

    def _description(self, lang: str) -> str:
        if self.alarm.silent:
            return self._silent_description(lang)
        d, a, e = m.DESCRIPTION[lang], self.alarm, self.event
        state = m.STATE_WORD[lang].get(e.state, e.state)
        line = d["report"].format(sensor=a.sensor, device=a.device, place=self.place, state=state)
        if e.stage:
            line += d["stage"].format(stage=e.stage)
        if e.value is not None:
            line += d["value"].format(value=f"{_number(e.value)} {e.unit}".strip())
            if e.threshold is not None:
                line += d["threshold"].format(threshold=f"{_number(e.threshold)} {e.unit}".strip())
        lines = [line + "."]
        if e.message:
            lines.append(d["message"].format(message=e.message))
        lines.append(
            d["span"].format(
                first=self._time(a.first_at), last=self._time(a.last_at), events=a.events
            )
        )
        if a.ack in ("pending", "confirmed") and a.acked_at is not None:
            lines.append(d[f"ack_{a.ack}"].format(by=a.acked_by or "?", at=self._time(a.acked_at)))
        if self.phase is m.Phase.CLEAR:
            lines.append(d["clear"])
        if self.phase is m.Phase.CLOSED:
            closed_at = a.closed_at or a.last_at
            lines.append(d["closed"].format(by=a.closed_by or "?", at=self._time(closed_at)))
            if a.close_note:
                lines.append(d["closed_note"].format(note=a.close_note))
        return "\n".join(lines)

    def _silent_description(self, lang: str) -> str:
        """A silent site has no sensor, value or device events: what partners need is
        which site, why it is thought silent (its Will, or heartbeats overdue) and since
        when, and that nothing there is watched meanwhile."""
        d, a, e = m.SILENT_DESCRIPTION[lang], self.alarm, self.event
        lines = [
            d["silent"].format(device=a.device, place=self.place, why=e.message or e.reason),
            d["since"].format(first=self._time(a.first_at), last=self._time(a.last_at)),
        ]
        if a.ack in ("pending", "confirmed") and a.acked_at is not None:
            at = self._time(a.acked_at)
            lines.append(m.DESCRIPTION[lang][f"ack_{a.ack}"].format(by=a.acked_by or "?", at=at))
        if self.phase is m.Phase.CLEAR:
            lines.append(d["heard"])
        if self.phase is m.Phase.CLOSED:
            closed_at = a.closed_at or a.last_at
            by = a.closed_by or "?"
            lines.append(m.DESCRIPTION[lang]["closed"].format(by=by, at=self._time(closed_at)))
            if a.close_note:
                lines.append(m.DESCRIPTION[lang]["closed_note"].format(note=a.close_note))
        return "\n".join(lines)

    def _instruction(self, lang: str, haz: str) -> str:
        if self.phase in (m.Phase.CLEAR, m.Phase.CLOSED):
            return m.OVER_INSTRUCTION[lang]
        if self.alarm.silent:
            return m.SILENT_INSTRUCTION[lang]
        if self.phase is m.Phase.FAULT:
            return m.FAULT_INSTRUCTION[lang].format(haz=haz)
        steps = self.profile.procedures.get(str(self.hazard))
        if steps:
            numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
            return m.LOCAL_PROCEDURE[lang] + numbered
        return m.INSTRUCTION[lang][self.hazard]

    def _parameters(self) -> tuple[tuple[str, str], ...]:
        a, e = self.alarm, self.event
        pairs = [
            ("site", a.site),
            ("device", a.device),
            ("sensor", a.sensor),
            ("seq", str(e.seq)),
            ("event_id", e.id),
            ("alarm_id", a.alarm_id),
            ("hazard", str(self.hazard)),
            ("state", e.state),
            ("phase", str(self.phase)),
            ("ack", a.ack),
        ]
        if e.stage:
            pairs.insert(8, ("stage", e.stage))
        if e.value is not None:
            pairs.append(("value", f"{_number(e.value)} {e.unit}".strip()))
        return tuple(pairs)

    def _area(self) -> Area:
        circles: tuple[str, ...] = ()
        if self.site.lat is not None and self.site.lon is not None:
            circles = (
                f"{_number(self.site.lat)},{_number(self.site.lon)} "
                f"{_number(self.profile.radius_km)}",
            )
        geocodes = self.profile.site_geocodes.get(self.alarm.site, self.profile.geocodes)
        return Area(desc=self.place, circles=circles, geocodes=tuple(geocodes))
