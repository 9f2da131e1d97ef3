"""The human sentence of each event, in Bahasa Indonesia (default) or English.

An operator reads this first, at night, under stress: hazard first, in capitals when it
is an emergency, then the sensor's name and location.
"""

from __future__ import annotations

from edge.detect.types import Reason, State

HAZARD = {
    "id": {"smoke": "asap", "water_level": "air", "vibration": "getaran", "device": "perangkat"},
    "en": {"smoke": "smoke", "water_level": "water", "vibration": "vibration", "device": "device"},
}

ALARM = {
    "id": {
        "smoke": "KEBAKARAN: asap terdeteksi di {place}",
        "water_level": "BANJIR: air mencapai {value} di {place}",
        "vibration": "GEMPA: getaran kuat di {place}",
    },
    "en": {
        "smoke": "FIRE: smoke detected at {place}",
        "water_level": "FLOOD: water has reached {value} at {place}",
        "vibration": "EARTHQUAKE: strong shaking at {place}",
    },
}

RATE_ALARM = {
    "id": "BANJIR: air naik cepat di {place} ({value})",
    "en": "FLOOD: water rising fast at {place} ({value})",
}

WARNING = {
    "id": {
        "smoke": "WASPADA KEBAKARAN: kadar asap naik di {place}",
        "water_level": "WASPADA BANJIR: air naik ke {value} di {place}",
        "vibration": "WASPADA GEMPA: getaran terdeteksi di {place}",
    },
    "en": {
        "smoke": "FIRE WARNING: smoke level rising at {place}",
        "water_level": "FLOOD WARNING: water up to {value} at {place}",
        "vibration": "EARTHQUAKE WARNING: vibration detected at {place}",
    },
}

READY = {
    "id": "Sensor {hazard} di {place} siap: normal",
    "en": "The {hazard} sensor at {place} is ready: normal",
}

OTHER = {
    "id": {
        State.NORMAL: "Normal kembali: {hazard} di {place}",
        State.STARTING: "Sensor {hazard} di {place} sedang memulai",
        State.DISABLED: "Sensor {hazard} di {place} dinonaktifkan untuk perawatan",
        State.FAULT: "GANGGUAN SENSOR {hazard} di {place}: {fault}",
    },
    "en": {
        State.NORMAL: "Back to normal: {hazard} at {place}",
        State.STARTING: "The {hazard} sensor at {place} is starting",
        State.DISABLED: "The {hazard} sensor at {place} is disabled for maintenance",
        State.FAULT: "SENSOR FAULT, {hazard} at {place}: {fault}",
    },
}

FAULT_TEXT = {
    "id": {
        Reason.NO_DATA: "tidak ada data",
        Reason.OUT_OF_RANGE: "nilai di luar jangkauan",
        Reason.STUCK: "nilai macet",
        Reason.CHATTER: "kontak tidak stabil",
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
        Reason.STORAGE: "storage failed",
        Reason.LATENCY: "alarm delivered late",
        Reason.LINK: "link lost",
        Reason.OUTPUTS: "the siren or status LED cannot be driven",
    },
}

DRILL_PREFIX = {"id": "LATIHAN — ", "en": "DRILL — "}


def describe(
    *,
    language: str,
    kind: str,
    state: State,
    reason: Reason,
    name: str,
    location: str,
    value: float | None = None,
    unit: str = "",
    stage: str | None = None,
    drill: bool = False,
) -> str:
    lang = language if language in HAZARD else "id"
    place = ", ".join(p for p in (name, location) if p) or "?"
    shown = "?" if value is None else f"{value:.2f} {unit}".strip()
    fields = {
        "place": place,
        "value": shown,
        "hazard": HAZARD[lang].get(kind, kind),
        "fault": FAULT_TEXT[lang].get(reason, str(reason)),
    }
    if state is State.ALARM and reason is Reason.RATE:
        text = RATE_ALARM[lang]
    elif state is State.ALARM:
        text = ALARM[lang].get(kind, OTHER[lang][State.FAULT])
    elif state is State.WARNING:
        text = WARNING[lang].get(kind, OTHER[lang][State.FAULT])
    elif state is State.NORMAL and reason is Reason.STARTUP:
        text = READY[lang]  # first reading after start: not "back" to anything
    else:
        text = OTHER[lang][state]
    sentence = text.format(**fields)
    if stage:
        sentence += f" ({stage})"
    return DRILL_PREFIX[lang] + sentence if drill else sentence


def device_message(language: str, reason: Reason, detail: str) -> str:
    """Sentence for an event about the device itself (store failure, reload, drill)."""
    lang = language if language in HAZARD else "id"
    heads = {
        "id": {
            Reason.STORAGE: "GANGGUAN PERANGKAT: penyimpanan",
            Reason.RELOAD: "Konfigurasi dimuat ulang",
            Reason.DRILL: "Latihan",
            Reason.LATENCY: "GANGGUAN PERANGKAT: alarm terlambat",
            Reason.STARTUP: "Perangkat mulai",
            Reason.OUTPUTS: "GANGGUAN PERANGKAT: sirene/lampu status",
        },
        "en": {
            Reason.STORAGE: "DEVICE FAULT: storage",
            Reason.RELOAD: "Configuration reloaded",
            Reason.DRILL: "Drill",
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
