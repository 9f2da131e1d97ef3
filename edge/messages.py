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

HAZARD_CAPS = {
    "id": {"smoke": "KEBAKARAN", "water_level": "BANJIR", "vibration": "GEMPA"},
    "en": {"smoke": "FIRE", "water_level": "FLOOD", "vibration": "EARTHQUAKE"},
}


def call_point_message(*, language: str, name: str, location: str, drill: bool = False) -> str:
    """A pressed manual call point: a person saw the fire."""
    lang = language if language in HAZARD else "id"
    place = ", ".join(p for p in (name, location) if p) or "?"
    sentence = CALL_POINT[lang].format(place=place)
    return DRILL_PREFIX[lang] + sentence if drill else sentence


def zone_message(
    *,
    language: str,
    kind: str,
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
        "hazard": HAZARD[lang].get(kind, kind),
        "hazard_caps": HAZARD_CAPS[lang].get(kind, kind.upper()),
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
            kind=kind,
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
