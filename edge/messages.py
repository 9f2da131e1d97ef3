"""The human sentence of each event, in Bahasa Indonesia (default) or English.

An operator reads this first, at night, under stress: hazard first, in capitals when it
is an emergency, then the sensor's name and location. The sentence follows the sensor's
``hazard`` (a vibration switch on a fence is an intrusion, not an earthquake; an MQ-2 on
a gas line is a gas leak, not a fire), never its ``kind``; and it follows the direction
of the change: a level that falls from alarm back to warning is not "rising".
"""

from __future__ import annotations

from edge.detect.types import Reason, State

# The hazard's noun, as in "the {hazard} sensor at ...".
HAZARD = {
    "id": {
        "fire": "kebakaran",
        "gas": "gas",
        "flood": "banjir",
        "earthquake": "gempa",
        "intrusion": "penyusupan",
        "tamper": "sabotase",
        "device": "perangkat",
    },
    "en": {
        "fire": "fire",
        "gas": "gas",
        "flood": "flood",
        "earthquake": "earthquake",
        "intrusion": "intrusion",
        "tamper": "tamper",
        "device": "device",
    },
}

# What a hazard is called by default when only the sensor's kind is known.
KIND_HAZARD = {"smoke": "fire", "water_level": "flood", "vibration": "earthquake"}

# The severity word an emergency starts with, per hazard (alarm, then warning).
ALARM_WORD = {
    "id": {
        "fire": "KEBAKARAN",
        "gas": "KEBOCORAN GAS",
        "flood": "BANJIR",
        "earthquake": "GEMPA",
        "intrusion": "PENYUSUPAN",
        "tamper": "SABOTASE",
    },
    "en": {
        "fire": "FIRE",
        "gas": "GAS LEAK",
        "flood": "FLOOD",
        "earthquake": "EARTHQUAKE",
        "intrusion": "INTRUSION",
        "tamper": "TAMPERING",
    },
}
WARNING_WORD = {
    "id": {
        "fire": "WASPADA KEBAKARAN",
        "gas": "WASPADA GAS",
        "flood": "WASPADA BANJIR",
        "earthquake": "WASPADA GEMPA",
        "intrusion": "WASPADA PENYUSUPAN",
        "tamper": "WASPADA SABOTASE",
    },
    "en": {
        "fire": "FIRE WARNING",
        "gas": "GAS WARNING",
        "flood": "FLOOD WARNING",
        "earthquake": "EARTHQUAKE WARNING",
        "intrusion": "INTRUSION WARNING",
        "tamper": "TAMPER WARNING",
    },
}

# After the severity word. ``{value}`` only where the template is chosen for a measured
# value (a number with a unit); a contact or a pulse count has none worth reading out.
ALARM = {
    "id": {
        "fire": "asap terdeteksi di {place}",
        "gas": "gas terdeteksi di {place}",
        "flood": "air terdeteksi di {place}",
        "earthquake": "getaran kuat di {place}",
        "intrusion": "aktivitas terdeteksi di {place}",
        "tamper": "perangkat diutak-atik di {place}",
    },
    "en": {
        "fire": "smoke detected at {place}",
        "gas": "gas detected at {place}",
        "flood": "water detected at {place}",
        "earthquake": "strong shaking at {place}",
        "intrusion": "activity detected at {place}",
        "tamper": "equipment tampered with at {place}",
    },
}
ALARM_MEASURED = {
    "id": {
        "fire": "kadar asap {value} di {place}",
        "gas": "kadar gas {value} di {place}",
        "flood": "air mencapai {value} di {place}",
    },
    "en": {
        "fire": "smoke level {value} at {place}",
        "gas": "gas level {value} at {place}",
        "flood": "water has reached {value} at {place}",
    },
}
RATE_ALARM = {
    "id": {
        "fire": "kadar asap naik cepat di {place} ({value})",
        "gas": "kadar gas naik cepat di {place} ({value})",
        "flood": "air naik cepat di {place} ({value})",
        "": "nilai naik cepat di {place} ({value})",
    },
    "en": {
        "fire": "smoke level rising fast at {place} ({value})",
        "gas": "gas level rising fast at {place} ({value})",
        "flood": "water rising fast at {place} ({value})",
        "": "reading rising fast at {place} ({value})",
    },
}
# A warning: ``{trend}`` / ``{trend_to}`` say which way the level went to get here.
WARNING = {
    "id": {
        "fire": "kadar asap {trend} di {place}",
        "gas": "kadar gas {trend} di {place}",
        "flood": "permukaan air {trend} di {place}",
        "earthquake": "getaran terdeteksi di {place}",
        "intrusion": "kemungkinan aktivitas di {place}",
        "tamper": "kemungkinan perangkat diutak-atik di {place}",
    },
    "en": {
        "fire": "smoke level {trend} at {place}",
        "gas": "gas level {trend} at {place}",
        "flood": "water level {trend} at {place}",
        "earthquake": "vibration detected at {place}",
        "intrusion": "possible activity at {place}",
        "tamper": "possible tampering at {place}",
    },
}
WARNING_MEASURED = {
    "id": {
        "fire": "kadar asap {trend_to} {value} di {place}",
        "gas": "kadar gas {trend_to} {value} di {place}",
        "flood": "air {trend_to} {value} di {place}",
    },
    "en": {
        "fire": "smoke level {trend_to} {value} at {place}",
        "gas": "gas level {trend_to} {value} at {place}",
        "flood": "water {trend_to} {value} at {place}",
    },
}
TREND = {
    "id": {"up": "naik", "down": "turun", "at": "tinggi"},
    "en": {"up": "rising", "down": "falling", "at": "raised"},
}
TREND_TO = {
    "id": {"up": "naik ke", "down": "turun ke", "at": "pada"},
    "en": {"up": "up to", "down": "down to", "at": "at"},
}

READY = {
    "id": "Sensor {hazard} di {place} siap: normal",
    "en": "The {hazard} sensor at {place} is ready: normal",
}

OTHER = {
    "id": {
        State.NORMAL: "Normal kembali: sensor {hazard} di {place}",
        State.STARTING: "Sensor {hazard} di {place} sedang memulai",
        State.DISABLED: "Sensor {hazard} di {place} dinonaktifkan untuk perawatan",
        State.FAULT: "GANGGUAN SENSOR {hazard} di {place}: {fault}",
    },
    "en": {
        State.NORMAL: "Back to normal: the {hazard} sensor at {place}",
        State.STARTING: "The {hazard} sensor at {place} is starting",
        State.DISABLED: "The {hazard} sensor at {place} is disabled for maintenance",
        State.FAULT: "SENSOR FAULT, {hazard} sensor at {place}: {fault}",
    },
}

FAULT_TEXT = {
    "id": {
        Reason.NO_DATA: "tidak ada data",
        Reason.OUT_OF_RANGE: "nilai di luar jangkauan",
        Reason.STUCK: "nilai macet",
        Reason.CHATTER: "kontak tidak stabil",
        Reason.OPEN_CIRCUIT: "kabel putus (loop terbuka)",
        Reason.SHORT_CIRCUIT: "kabel terhubung singkat (loop korsleting)",
        Reason.STORAGE: "penyimpanan gagal",
        Reason.LATENCY: "alarm terlambat terkirim",
        Reason.LINK: "koneksi terputus",
        Reason.OUTPUTS: "sirene atau lampu status tidak dapat dikendalikan",
        Reason.POWER: "tegangan catu daya kurang",
        Reason.WATCHDOG: "watchdog perangkat keras tidak aktif",
        Reason.CLOCK: "jam tidak tersinkron",
    },
    "en": {
        Reason.NO_DATA: "no data",
        Reason.OUT_OF_RANGE: "reading out of range",
        Reason.STUCK: "reading stuck",
        Reason.CHATTER: "contact chattering",
        Reason.OPEN_CIRCUIT: "wire cut (loop open)",
        Reason.SHORT_CIRCUIT: "wire shorted (loop short circuit)",
        Reason.STORAGE: "storage failed",
        Reason.LATENCY: "alarm delivered late",
        Reason.LINK: "link lost",
        Reason.OUTPUTS: "the siren or status LED cannot be driven",
        Reason.POWER: "supply under-voltage",
        Reason.WATCHDOG: "hardware watchdog not armed",
        Reason.CLOCK: "clock not synchronised",
    },
}

DRILL_PREFIX = {"id": "LATIHAN — ", "en": "DRILL — "}
TEST_PREFIX = {"id": "UJI — ", "en": "TEST — "}


def place_words(name: str, location: str) -> str:
    """Where, as the operators know it ("Dapur, Blok A"): what every sentence says after
    "di"/"at", and the event's ``place`` so the control room never has to parse it."""
    return ", ".join(p for p in (name, location) if p) or "?"


def trend(previous: State | None) -> str:
    """Which way a level went to reach a warning: up from below, down from an alarm, or
    not known (from a fault, a restart, another warning stage)."""
    if previous in (State.NORMAL, State.STARTING):
        return "up"
    if previous is State.ALARM:
        return "down"
    return "at"


def describe(
    *,
    language: str,
    state: State,
    reason: Reason,
    name: str,
    location: str,
    hazard: str | None = None,
    kind: str | None = None,
    previous: State | None = None,
    value: float | None = None,
    unit: str = "",
    stage: str | None = None,
    drill: bool = False,
    test: bool = False,
) -> str:
    """The sentence for one sensor event. ``hazard`` decides the words (given only a
    ``kind``, its default hazard); ``previous`` decides the direction word of a warning."""
    lang = language if language in HAZARD else "id"
    haz = hazard or KIND_HAZARD.get(kind or "", "fire")
    place = ", ".join(p for p in (name, location) if p) or "?"
    measured = value is not None and bool(unit)
    shown = "?" if value is None else f"{value:.2f} {unit}".strip()
    way = trend(previous)
    fields = {
        "place": place,
        "value": shown,
        "hazard": HAZARD[lang].get(haz, haz),
        "fault": FAULT_TEXT[lang].get(reason, str(reason)),
        "trend": TREND[lang][way],
        "trend_to": TREND_TO[lang][way],
    }
    if state is State.ALARM:
        head = ALARM_WORD[lang].get(haz, haz.upper())
        if reason is Reason.RATE:
            body = RATE_ALARM[lang].get(haz, RATE_ALARM[lang][""])
        elif measured and haz in ALARM_MEASURED[lang]:
            body = ALARM_MEASURED[lang][haz]
        else:
            body = ALARM[lang].get(haz, ALARM[lang]["fire"])
        text = f"{head}: {body}"
    elif state is State.WARNING:
        head = WARNING_WORD[lang].get(haz, haz.upper())
        if measured and haz in WARNING_MEASURED[lang]:
            body = WARNING_MEASURED[lang][haz]
        else:
            body = WARNING[lang].get(haz, WARNING[lang]["fire"])
        text = f"{head}: {body}"
    elif state is State.NORMAL and reason is Reason.STARTUP:
        text = READY[lang]  # first reading after start: not "back" to anything
    else:
        text = OTHER[lang][state]
    sentence = text.format(**fields)
    if stage:
        sentence += f" ({stage})"
    if test:
        sentence = TEST_PREFIX[lang] + sentence
    return DRILL_PREFIX[lang] + sentence if drill else sentence


def device_message(language: str, reason: Reason, detail: str) -> str:
    """Sentence for an event about the device itself (store failure, reload, drill)."""
    lang = language if language in HAZARD else "id"
    heads = {
        "id": {
            Reason.STORAGE: "GANGGUAN PERANGKAT: penyimpanan",
            Reason.RELOAD: "Konfigurasi dimuat ulang",
            Reason.DRILL: "Latihan",
            Reason.TEST: "Uji",
            Reason.LATENCY: "GANGGUAN PERANGKAT: alarm terlambat",
            Reason.STARTUP: "Perangkat mulai",
            Reason.OUTPUTS: "GANGGUAN PERANGKAT: sirene/lampu status",
            Reason.POWER: "PERANGKAT: catu daya",
            Reason.WATCHDOG: "PERANGKAT: watchdog perangkat keras",
            Reason.CLOCK: "PERANGKAT: jam",
        },
        "en": {
            Reason.STORAGE: "DEVICE FAULT: storage",
            Reason.RELOAD: "Configuration reloaded",
            Reason.DRILL: "Drill",
            Reason.TEST: "Test",
            Reason.LATENCY: "DEVICE FAULT: alarm late",
            Reason.STARTUP: "Device started",
            Reason.OUTPUTS: "DEVICE FAULT: siren/status LED",
            Reason.POWER: "DEVICE: power supply",
            Reason.WATCHDOG: "DEVICE: hardware watchdog",
            Reason.CLOCK: "DEVICE: clock",
        },
    }[lang]
    head = heads.get(reason, str(reason))
    return f"{head}: {detail}" if detail else head


# ---------------------------------------------------------------- device markers
# The detail of the device's own events (sensor ``_device``): what follows the head that
# :func:`device_message` puts in front.


def drill_started(language: str, name: str, duration_s: float, sensors: list[str]) -> str:
    word = "started" if language == "en" else "dimulai"
    return f"{word}: {name} ({duration_s:g} s; {', '.join(sensors)})"


def drill_ended(language: str, how: str, name: str, closed: int) -> str:
    """``how``: ended (ran to its end) or stopped (by an operator or a reload)."""
    english = language == "en"
    words = {
        "ended": "ended" if english else "selesai",
        "stopped": "stopped" if english else "dihentikan",
    }
    note = ""
    if closed:
        note = (
            f"; {closed} unacknowledged drill events closed"
            if english
            else f"; {closed} kejadian latihan yang belum dikonfirmasi ditutup"
        )
    return f"{words.get(how, how)}: {name}{note}"


def store_replaced(
    moved_to: object, last_seq: int | None, recovered: int = 0, damaged: int = 0
) -> str:
    """A damaged store was moved aside: what was saved from it, and where seq goes on."""
    said = f"store was unreadable, moved to {moved_to}"
    if not last_seq:
        return f"{said}; its last seq could not be read, seq starts again at 1"
    lost = f" ({damaged} damaged stretches or events lost)" if damaged else ""
    return (
        f"{said}; {recovered} events still owed were recovered from it, "
        f"seq continues after {last_seq}{lost}"
    )


def events_damaged(seqs: list[int]) -> str:
    shown = ", ".join(str(s) for s in seqs[:10]) + (" …" if len(seqs) > 10 else "")
    return (
        f"stored events seq {shown} no longer match their checksum and cannot be "
        "sent: the SD card may be failing, replace it"
    )


def latency_exceeded(seq: int, latency_s: float, budget_s: float) -> str:
    return f"event seq {seq} took {latency_s:.1f} s (budget {budget_s:g} s)"


def latency_caught_up(late: int, worst_s: float, budget_s: float) -> str:
    alarms = "1 alarm was" if late == 1 else f"{late} alarms were"
    return (
        f"delivery caught up: {alarms} later than {budget_s:g} s, the slowest "
        f"{worst_s:.1f} s; no alarm is waiting now"
    )


# ---------------------------------------------------------------- zones and call points

CALL_POINT = {
    "id": "KEBAKARAN: titik panggil manual ditekan di {place}",
    "en": "FIRE: manual call point pressed at {place}",
}

ZONE_TEXT = {
    "id": {
        "confirming": "PRA-ALARM {hazard_caps}: detektor {members} di zona {place} dalam alarm, "
        "menunggu konfirmasi ({confirm})",
        "confirm_by_time": "detektor kedua, atau {confirm_s:g} detik",
        "confirm_second": "detektor kedua dalam {confirm_s:g} detik",
        "confirmed": "dikonfirmasi: {members}",
        "coincidence": "serentak: {members}",
        "manual": "KEBAKARAN: titik panggil manual {members} ditekan di zona {place}",
        "stuck_trigger": "GANGGUAN ZONA {place}: {members} terpicu terlalu lama, tidak ikut "
        "menentukan",
        "quorum": "GANGGUAN ZONA {place}: sensor yang bekerja tidak cukup untuk memutuskan "
        "({members})",
        "ready": "Zona {hazard} {place} siap: normal",
        "cleared": "Normal kembali: zona {hazard} {place}",
        "starting": "Zona {hazard} {place} sedang memulai",
        "disabled": "Zona {hazard} {place} nonaktif: sensornya dalam perawatan ({members})",
    },
    "en": {
        "confirming": "{hazard_caps} PRE-ALARM: detector {members} in zone {place} in alarm, "
        "awaiting confirmation ({confirm})",
        "confirm_by_time": "a second detector, or {confirm_s:g} s",
        "confirm_second": "a second detector within {confirm_s:g} s",
        "confirmed": "confirmed by {members}",
        "coincidence": "together: {members}",
        "manual": "FIRE: manual call point {members} pressed in zone {place}",
        "stuck_trigger": "ZONE FAULT, {place}: {members} triggered too long, no longer voting",
        "quorum": "ZONE FAULT, {place}: too few working sensors to decide ({members})",
        "ready": "The {hazard} zone {place} is ready: normal",
        "cleared": "Back to normal: {hazard} zone {place}",
        "starting": "The {hazard} zone {place} is starting",
        "disabled": "The {hazard} zone {place} is disabled: its sensors are in maintenance "
        "({members})",
    },
}


def call_point_message(
    *, language: str, name: str, location: str, drill: bool = False, test: bool = False
) -> str:
    """A pressed manual call point: a person saw the fire (or tested the point)."""
    lang = language if language in HAZARD else "id"
    place = ", ".join(p for p in (name, location) if p) or "?"
    sentence = CALL_POINT[lang].format(place=place)
    if test:
        sentence = TEST_PREFIX[lang] + sentence
    return DRILL_PREFIX[lang] + sentence if drill else sentence


def zone_message(
    *,
    language: str,
    hazard: str,
    state: State,
    reason: Reason,
    name: str,
    location: str,
    members: list[str],
    confirm_s: float,
    confirm_by_time: bool,
    value: float | None = None,
    unit: str = "",
    stage: str | None = None,
    drill: bool = False,
) -> str:
    """The sentence of a zone's event: the hazard, the zone, and the members that made it.

    ``members`` are the members' names as the operator knows them.
    """
    lang = language if language in HAZARD else "id"
    texts = ZONE_TEXT[lang]
    place = ", ".join(p for p in (name, location) if p) or "?"
    fields = {
        "place": place,
        "members": ", ".join(members) or "?",
        "hazard": HAZARD[lang].get(hazard, hazard),
        "hazard_caps": HAZARD[lang].get(hazard, hazard).upper(),
        "confirm_s": confirm_s,
    }
    fields["confirm"] = texts["confirm_by_time" if confirm_by_time else "confirm_second"].format(
        **fields
    )
    key = {
        Reason.CONFIRMING: "confirming",
        Reason.MANUAL: "manual",
        Reason.STUCK_TRIGGER: "stuck_trigger",
        Reason.QUORUM: "quorum",
    }.get(reason)
    if state is State.NORMAL:
        key = "ready" if reason is Reason.STARTUP else "cleared"
    elif state is State.STARTING:
        key = "starting"
    elif state is State.DISABLED:
        key = "disabled"
    if key is not None:
        sentence = texts[key].format(**fields)
    else:
        # alarm or warning by the rule: the hazard's own sentence for the zone, then who
        sentence = describe(
            language=lang,
            hazard=hazard,
            state=state,
            reason=reason,
            name=name,
            location=location,
            value=value,
            unit=unit,
            stage=stage,
        )
        how = {Reason.CONFIRMED: "confirmed", Reason.COINCIDENCE: "coincidence"}.get(reason)
        sentence += f" ({texts[how].format(**fields)})" if how else f" ({fields['members']})"
    return DRILL_PREFIX[lang] + sentence if drill else sentence


def walk_test_changed(
    language: str, change: str, sensor: str, minutes: float | None, who: str
) -> str:
    """``change``: started, extended, stopped or expired."""
    english = language == "en"
    words = {
        "started": "walk test started" if english else "uji jalan dimulai",
        "extended": "walk test extended" if english else "uji jalan diperpanjang",
        "stopped": "walk test stopped" if english else "uji jalan dihentikan",
        "expired": "walk test over" if english else "uji jalan selesai",
    }
    span = f", {minutes:g} min" if minutes is not None else ""
    by = f", {'by' if english else 'oleh'} {who}" if who else ""
    return f"{words.get(change, change)}: {sensor}{span}{by}"


def siren_test(language: str, seconds: float, who: str) -> str:
    english = language == "en"
    head = "siren test" if english else "uji sirene"
    return f"{head}: {seconds:g} s, {'by' if english else 'oleh'} {who}"


MEMBER_VOTE = {
    "id": "Sensor {hazard} di {place} terpicu ({state}): menunggu konfirmasi zona {zone}",
    "en": "The {hazard} sensor at {place} triggered ({state}): awaiting zone {zone} to confirm",
}
STATE_WORD = {
    "id": {State.ALARM: "alarm", State.WARNING: "waspada"},
    "en": {State.ALARM: "alarm", State.WARNING: "warning"},
}


def member_vote(
    *,
    language: str,
    hazard: str,
    name: str,
    location: str,
    state: State,
    zone: str,
    drill: bool = False,
    test: bool = False,
) -> str:
    """A member's own trigger in a zone that confirms (coincidence, two detectors): the
    zone decides whether it is an emergency, so the member's event names none. A drill's
    or a walk test's vote says so first, as every other drill or test sentence does."""
    lang = language if language in HAZARD else "id"
    place = ", ".join(p for p in (name, location) if p) or "?"
    word = STATE_WORD[lang].get(state, state.value)
    sentence = MEMBER_VOTE[lang].format(
        hazard=HAZARD[lang].get(hazard, hazard), place=place, state=word, zone=zone
    )
    if test:
        sentence = TEST_PREFIX[lang] + sentence
    return DRILL_PREFIX[lang] + sentence if drill else sentence
