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
    },
}

DRILL_PREFIX = {"id": "LATIHAN — ", "en": "DRILL — "}
TEST_PREFIX = {"id": "UJI — ", "en": "TEST — "}


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
        },
        "en": {
            Reason.STORAGE: "DEVICE FAULT: storage",
            Reason.RELOAD: "Configuration reloaded",
            Reason.DRILL: "Drill",
            Reason.TEST: "Test",
            Reason.LATENCY: "DEVICE FAULT: alarm late",
            Reason.STARTUP: "Device started",
            Reason.OUTPUTS: "DEVICE FAULT: siren/status LED",
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
