"""The alarm model: pure functions from (alarm, message) to the next alarm. No I/O, no clock.

An **alarm** is one episode of one sensor needing attention. The archive hands these
functions the latest alarm of a sensor (open or closed) and stores what they return, in
the same transaction as the message that caused it; the board shows what was stored.

Rules (each one a test in tests/test_station_alarms.py):

1. **Episodes.** An ``alarm`` or ``fault`` event of a sensor with no open alarm opens one
   (``alarm_id`` = that event's ``id``). Every later event of the sensor joins it until an
   operator closes it; an event that is not ``alarm``/``fault`` never opens one.
2. **Drills and walk tests apart.** The episode key is (site, device, sensor, category),
   category ``real`` | ``drill`` | ``test``: a drill alarm never joins, opens or closes a
   real one, and carries ``drill``/``test`` so it is never counted as real.
3. **Active follows the device.** ``active`` is the state of the newest event by
   (epoch, seq), not by arrival: a re-sent old event is counted, never rewinds it; one
   that opens an episode after a newer event of its sensor was archived opens it with that
   newer event's state. An episode opened by a repeat or resend, or by an old event, takes
   its times from the event's own ``ts`` (when it happened), not the receive time.
4. **History stays history.** An event at or below a closed alarm's last seq (same
   epoch) opens nothing: a gap filled after the close is not a new alarm.
5. **Ack: none → pending → confirmed.** ``acknowledge`` publishes an ack for every event
   of the episode the device still waits for and sets ``pending``; only the device's word
   makes it ``confirmed``: its receipt on ``…/acked`` (accepted) for each of those events,
   or its MQTT v5 user property ``ack=closed`` on a re-published one. The station's own
   word never does. A refusing receipt for *this station's* ack (same operator name) puts
   it back to ``none`` with the device's reason; a receipt for an ack someone else sent
   (a forged one the device refused) changes nothing.
6. **New trouble, new ack.** A new event needing an ack joining a confirmed or pending
   alarm puts ``ack`` back to ``none``: the device repeats it until someone acknowledges.
7. **Close needs a note** and an operator; a closed alarm takes no ack.
8. **A silent site is an alarm** of hazard ``device`` (sensor ``_site``), raised by the
   site watch (``sites.py``); it goes inactive when the site speaks again, which is the
   device's own word that it is back: a pending ack of it becomes confirmed then.
9. **Device clock.** An event whose ``ts`` is more than :data:`SKEW_BEHIND_S` behind or
   :data:`SKEW_AHEAD_S` ahead of the station's receive time is flagged, never dropped.
10. **No ack asked, none taken.** An alarm none of whose events has ``requires_ack``
    (a walk test's, one the device only reports) needs no ack: it is never unacknowledged,
    never ages, and :func:`acknowledge` refuses it (:data:`NO_ACK_ASKED`). A zone member's
    own vote (``zone`` set, not the member's zone itself, no ack asked) opens no alarm: the
    zone's event carries the alarm; it still joins an open episode of that member.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

SKEW_BEHIND_S = 40.0
SKEW_AHEAD_S = 20.0
SITE_SENSOR = "_site"
DRILL_ENDED_BY = "(drill ended)"
OPEN_STATES = frozenset({"alarm", "fault"})
SEVERITY_RANK = {"info": 0, "warning": 1, "fault": 2, "critical": 3}


class AckState(StrEnum):
    NONE = "none"
    PENDING = "pending"
    CONFIRMED = "confirmed"


class AlarmError(ValueError):
    """An operator action the alarm cannot take (closed already, no note): a 409/400."""


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the rules need of one event (the archive keeps the whole payload)."""

    id: str
    seq: int
    site: str
    device: str
    sensor: str
    state: str
    hazard: str
    severity: str
    ts: str
    drill: bool
    test: bool
    requires_ack: bool
    message: str
    ack_word: str | None = None
    """The device's MQTT v5 user property ``ack`` on a re-published event: open|closed."""
    stage: str | None = None
    value: float | None = None
    unit: str = ""
    zone: str | None = None
    """The zone this sensor is a member of (the zone itself on a zone's own event)."""
    place: str = ""
    """The event's ``place`` (the sensor's or zone's name and location), "" from older
    devices."""

    @property
    def category(self) -> str:
        return category(self.drill, self.test)

    @property
    def zone_vote(self) -> bool:
        """A zone member's own event that asks no ack: its zone's event carries the alarm."""
        return self.zone is not None and self.zone != self.sensor and not self.requires_ack


@dataclass(frozen=True, slots=True)
class Newest:
    """The newest event already archived of the sensor (same category): what an old event
    arriving late must not override (rule 3)."""

    epoch: int
    seq: int
    id: str
    state: str
    ts: str
    message: str = ""
    stage: str | None = None
    value: float | None = None
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The device's ``…/acked``: it recorded (or refused) an ack for ``event_id``."""

    event_id: str
    by: str
    ts: str
    accepted: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class Alarm:
    alarm_id: str
    site: str
    device: str
    sensor: str
    hazard: str
    severity: str
    active: bool
    state: str
    first_event_id: str | None
    last_event_id: str | None
    first_at: str
    last_at: str
    events: int = 1
    drill: bool = False
    test: bool = False
    ack: AckState = AckState.NONE
    acked_by: str | None = None
    acked_at: str | None = None
    ack_refused: str | None = None
    """The device's reason when it refused this station's last ack."""
    closed: bool = False
    closed_by: str | None = None
    closed_at: str | None = None
    close_note: str | None = None
    epoch: int = 0
    last_seq: int = 0
    message: str = ""
    skew: str | None = None
    """``behind`` | ``ahead`` when the last event's device time was off (rule 9)."""
    waiting: tuple[str, ...] = ()
    """Events of this episode the device still waits to have acknowledged."""
    pending: tuple[tuple[str, str], ...] = ()
    """(event id, operator) of acks this station published with no receipt yet."""
    required: int = 0
    """How many events of this episode needed an ack."""
    stage: str | None = None
    value: float | None = None
    unit: str = ""
    """The newest event's stage, value and unit (what the board shows)."""
    place: str = ""
    """Where, from the events' ``place`` (the newest that names one)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def category(self) -> str:
        return category(self.drill, self.test)

    @property
    def silent_site(self) -> bool:
        return self.sensor == SITE_SENSOR

    @property
    def acked_how(self) -> str | None:
        """``drill_end`` (the device closed it at the drill's end: no operator took it),
        ``device`` (the device's word, no operator named) or None (an operator): what the
        board words, in its language, instead of the stored English marker."""
        if self.acked_by == DRILL_ENDED_BY:
            return "drill_end"
        return "device" if self.acked_by == ACKED_ON_DEVICE else None

    @property
    def ack_needed(self) -> bool:
        """Rule 10: an operator can acknowledge only what the device asked to be (or a
        silent site, which the station raised itself)."""
        return self.silent_site or self.required > 0

    def view(self) -> dict[str, Any]:
        """The spec's alarm object (plus a few additions with defaults)."""
        return {
            "alarm_id": self.alarm_id,
            "site": self.site,
            "device": self.device,
            "sensor": self.sensor,
            "hazard": self.hazard,
            "severity": self.severity,
            "active": self.active,
            "state": self.state,
            "ack": self.ack.value,
            "ack_needed": self.ack_needed,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
            "acked_how": self.acked_how,
            "ack_refused": self.ack_refused,
            "closed": self.closed,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at,
            "close_note": self.close_note,
            "first_event_id": self.first_event_id,
            "last_event_id": self.last_event_id,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "events": self.events,
            "drill": self.drill,
            "test": self.test,
            "message": self.message,
            "skew": self.skew,
            "stage": self.stage,
            "value": self.value,
            "unit": self.unit,
            "place": self.place,
        }


def category(drill: bool, test: bool) -> str:
    return "drill" if drill else "test" if test else "real"


def worst(a: str, b: str) -> str:
    return a if SEVERITY_RANK.get(a, 0) >= SEVERITY_RANK.get(b, 0) else b


def skew(ts: str, received_at: float) -> str | None:
    """Rule 9: ``behind`` / ``ahead`` / None for a device ``ts`` against the receive time."""
    try:
        device_t = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "behind"  # a device time that cannot be read is as good as wrong
    if received_at - device_t > SKEW_BEHIND_S:
        return "behind"
    if device_t - received_at > SKEW_AHEAD_S:
        return "ahead"
    return None


# ---------------------------------------------------------------------- events


def on_event(
    latest: Alarm | None,
    ev: EventFacts,
    *,
    epoch: int,
    at: str,
    skewed: str | None = None,
    newest: Newest | None = None,
    late: bool = False,
) -> Alarm | None:
    """The alarm after event ``ev`` (received at ``at``), or None when it makes none.

    ``latest``: the newest alarm of the event's episode key, open or closed (rules 1-4);
    ``newest``: the sensor's newest other event archived, when opening; ``late``: ``ev``
    is a repeat or resend (its ``ts`` is then when it happened, not ``at``)."""
    if latest is None or latest.closed:
        if latest is not None and (epoch, ev.seq) <= (latest.epoch, latest.last_seq):
            return None  # rule 4
        if ev.state not in OPEN_STATES or ev.zone_vote:
            return None  # rules 1 and 10
        if newest is not None and (newest.epoch, newest.seq) <= (epoch, ev.seq):
            newest = None  # this event is the newest: it speaks for the sensor
        if newest is not None or late:
            at = ev.ts  # rule 3: an old event, filled in late, happened at its own time
        waiting = (ev.id,) if ev.requires_ack and ev.ack_word != "closed" else ()
        confirmed = ev.requires_ack and not waiting
        alarm = Alarm(
            alarm_id=ev.id,
            site=ev.site,
            device=ev.device,
            sensor=ev.sensor,
            hazard=ev.hazard,
            severity=ev.severity,
            active=True,
            state=ev.state,
            first_event_id=ev.id,
            last_event_id=ev.id,
            first_at=at,
            last_at=at,
            drill=ev.drill,
            test=ev.test,
            epoch=epoch,
            last_seq=ev.seq,
            message=ev.message,
            skew=skewed,
            waiting=waiting,
            required=int(ev.requires_ack),
            ack=AckState.CONFIRMED if confirmed else AckState.NONE,
            acked_by=ACKED_ON_DEVICE if confirmed else None,
            acked_at=at if confirmed else None,
            stage=ev.stage,
            value=ev.value,
            unit=ev.unit,
            place=ev.place,
        )
        if newest is None:
            return alarm
        return replace(  # rule 3: a newer event of the sensor is already the state
            alarm,
            active=newest.state in OPEN_STATES,
            state=newest.state,
            last_event_id=newest.id,
            last_at=newest.ts,
            epoch=newest.epoch,
            last_seq=newest.seq,
            message=newest.message or ev.message,
            stage=newest.stage,
            value=newest.value,
            unit=newest.unit,
        )
    alarm = latest
    is_newest = (epoch, ev.seq) >= (alarm.epoch, alarm.last_seq)
    changes: dict[str, Any] = {
        "events": alarm.events + 1,
        "severity": worst(alarm.severity, ev.severity),
    }
    if ev.place and (is_newest or not alarm.place):
        changes["place"] = ev.place
    if is_newest:
        changes.update(
            active=ev.state in OPEN_STATES,
            state=ev.state,
            last_event_id=ev.id,
            last_at=at,
            epoch=epoch,
            last_seq=ev.seq,
            message=ev.message,
            skew=skewed,
            stage=ev.stage,
            value=ev.value,
            unit=ev.unit,
        )
    alarm = replace(alarm, **changes)
    if ev.requires_ack and ev.ack_word != "closed" and ev.id not in alarm.waiting:
        alarm = replace(  # rule 6
            alarm,
            waiting=(*alarm.waiting, ev.id),
            required=alarm.required + 1,
            ack=AckState.NONE,
            ack_refused=None,
        )
    elif ev.ack_word == "closed":
        alarm = _device_took(alarm, ev.id, by=None, at=at)
    return alarm


def repeated(alarm: Alarm, ev: EventFacts, *, at: str) -> Alarm:
    """A re-publish of an event already archived: only the device's ``ack`` word counts."""
    if ev.ack_word == "closed" and ev.id in alarm.waiting:
        return _device_took(alarm, ev.id, by=None, at=at)
    return alarm


ACKED_ON_DEVICE = "(acknowledged, said the device)"
NO_ACK_ASKED = "the device asks no acknowledgement for this alarm"


def _device_took(alarm: Alarm, event_id: str, *, by: str | None, at: str) -> Alarm:
    """The device recorded an ack for ``event_id`` (rule 5)."""
    waiting = tuple(i for i in alarm.waiting if i != event_id)
    pending = tuple(p for p in alarm.pending if p[0] != event_id)
    if len(waiting) == len(alarm.waiting) and len(pending) == len(alarm.pending):
        return alarm
    alarm = replace(alarm, waiting=waiting, pending=pending)
    if not waiting:
        alarm = replace(
            alarm,
            ack=AckState.CONFIRMED,
            acked_by=by or alarm.acked_by or ACKED_ON_DEVICE,
            acked_at=alarm.acked_at or at,
            ack_refused=None,
        )
    return alarm


# ---------------------------------------------------------------------- operators


def acknowledge(alarm: Alarm, *, by: str, at: str) -> tuple[Alarm, list[str]]:
    """An operator acknowledges: the event ids to publish acks for, and the alarm, pending.

    Rule 5: never confirmed here. Acknowledging a confirmed alarm changes nothing."""
    if alarm.closed:
        raise AlarmError("the alarm is closed")
    if not by.strip():
        raise AlarmError("an acknowledgement needs the operator's name")
    if not alarm.ack_needed:
        raise AlarmError(NO_ACK_ASKED)  # rule 10
    if alarm.ack is AckState.CONFIRMED and not alarm.waiting:
        return alarm, []
    if alarm.silent_site and not alarm.active:
        # rule 8: the site has spoken again already, which is the device's own word that
        # it is back; nothing is sent and nothing else will ever confirm it.
        done = replace(
            alarm, ack=AckState.CONFIRMED, acked_by=by, acked_at=at, ack_refused=None, pending=()
        )
        return done, []
    send = list(alarm.waiting)
    pending = tuple((i, by) for i in send)
    return (
        replace(
            alarm,
            ack=AckState.PENDING,
            acked_by=by,
            acked_at=at,
            ack_refused=None,
            pending=pending,
        ),
        send,
    )


def on_receipt(alarm: Alarm, receipt: Receipt, *, at: str) -> Alarm:
    """The device's receipt (rule 5): accepted confirms that event; refused, for this
    station's own ack, puts the alarm back to ``none`` with the reason."""
    if receipt.accepted:
        return _device_took(alarm, receipt.event_id, by=receipt.by, at=at)
    ours = (receipt.event_id, receipt.by) in alarm.pending
    if not ours:
        return alarm  # someone else's ack, refused: nothing about ours
    pending = tuple(p for p in alarm.pending if p != (receipt.event_id, receipt.by))
    return replace(
        alarm,
        pending=pending,
        ack=AckState.NONE if alarm.waiting else alarm.ack,
        ack_refused=receipt.reason or "refused by the device",
    )


def close(alarm: Alarm, *, by: str, at: str, note: str) -> Alarm:
    """Rule 7."""
    if alarm.closed:
        raise AlarmError("the alarm is closed already")
    if not note.strip():
        raise AlarmError("closing an alarm needs a note")
    if not by.strip():
        raise AlarmError("closing an alarm needs the operator's name")
    return replace(alarm, closed=True, closed_by=by, closed_at=at, close_note=note.strip())


def drill_ended(alarm: Alarm, *, at: str) -> Alarm:
    """The device closes a drill's open events at the drill's end (its marker event)."""
    if not alarm.drill or not alarm.waiting:
        return alarm
    return replace(
        alarm,
        waiting=(),
        pending=(),
        ack=AckState.CONFIRMED,
        acked_by=alarm.acked_by or DRILL_ENDED_BY,
        acked_at=alarm.acked_at or at,
        active=False,
    )


# ---------------------------------------------------------------------- silent sites


def silent_site(site: str, device: str, *, at: str, why: str) -> Alarm:
    """Rule 8: a site that stopped speaking (heartbeat overdue, or its Will arrived)."""
    stamp = "".join(c for c in at if c.isalnum())
    return Alarm(
        alarm_id=f"silent-{site}-{device}-{stamp}",
        site=site,
        device=device,
        sensor=SITE_SENSOR,
        hazard="device",
        severity="fault",
        active=True,
        state=why,
        first_event_id=None,
        last_event_id=None,
        first_at=at,
        last_at=at,
        events=0,
        message=why,
    )


HEARD_AGAIN = "heard again"


def site_spoke(alarm: Alarm, *, at: str, state: str = HEARD_AGAIN) -> Alarm:
    """Rule 8: the site is heard again; a pending ack of the silence is the device's word.

    ``state``: the words for it, in the station's language."""
    if not alarm.active:
        return alarm
    ack = AckState.CONFIRMED if alarm.ack is AckState.PENDING else alarm.ack
    return replace(alarm, active=False, last_at=at, state=state, ack=ack)


def site_silent_again(alarm: Alarm, *, at: str, why: str) -> Alarm:
    """Rule 8 with rule 6: a site silent again after it spoke is new trouble, so an ack of
    the earlier silence covers nothing now (it was confirmed by the site's speaking). A
    new reason for a silence still going on (overdue, then its Will) keeps the ack."""
    if alarm.active:
        return replace(alarm, last_at=at, state=why, message=why)
    return replace(
        alarm,
        active=True,
        last_at=at,
        state=why,
        message=why,
        ack=AckState.NONE,
        acked_by=None,
        acked_at=None,
        ack_refused=None,
        pending=(),
    )
