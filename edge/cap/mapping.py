"""From a hazard and an alarm's phase to CAP's category, urgency, severity, certainty and
response, and the words of both info blocks. docs/cap.md gives the reasoning per row;
a test checks the table there is this one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.payloads import Hazard


class Phase(StrEnum):
    """Where an alarm stands, as far as CAP's urgency/severity/certainty care."""

    WARNING = "warning"
    ALARM = "alarm"
    FAULT = "fault"
    CLEAR = "clear"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Grade:
    category: str
    urgency: str
    severity: str
    certainty: str
    response: str


CATEGORY = {
    Hazard.FIRE: "Fire",
    Hazard.GAS: "CBRNE",
    Hazard.FLOOD: "Met",
    Hazard.EARTHQUAKE: "Geo",
    Hazard.INTRUSION: "Security",
    Hazard.TAMPER: "Security",
    Hazard.DEVICE: "Infra",
}

_G = Grade
TABLE: dict[tuple[Hazard, Phase], Grade] = {
    (Hazard.FIRE, Phase.WARNING): _G("Fire", "Expected", "Moderate", "Possible", "Prepare"),
    (Hazard.FIRE, Phase.ALARM): _G("Fire", "Immediate", "Severe", "Observed", "Evacuate"),
    (Hazard.GAS, Phase.WARNING): _G("CBRNE", "Expected", "Moderate", "Possible", "Prepare"),
    (Hazard.GAS, Phase.ALARM): _G("CBRNE", "Immediate", "Severe", "Observed", "Evacuate"),
    (Hazard.FLOOD, Phase.WARNING): _G("Met", "Expected", "Moderate", "Likely", "Prepare"),
    (Hazard.FLOOD, Phase.ALARM): _G("Met", "Immediate", "Severe", "Observed", "Evacuate"),
    (Hazard.EARTHQUAKE, Phase.WARNING): _G("Geo", "Immediate", "Moderate", "Possible", "Monitor"),
    (Hazard.EARTHQUAKE, Phase.ALARM): _G("Geo", "Immediate", "Severe", "Observed", "Shelter"),
    (Hazard.INTRUSION, Phase.WARNING): _G(
        "Security", "Immediate", "Moderate", "Possible", "Assess"
    ),
    (Hazard.INTRUSION, Phase.ALARM): _G("Security", "Immediate", "Severe", "Observed", "Execute"),
    (Hazard.TAMPER, Phase.WARNING): _G("Security", "Expected", "Moderate", "Possible", "Assess"),
    (Hazard.TAMPER, Phase.ALARM): _G("Security", "Immediate", "Moderate", "Observed", "Assess"),
    (Hazard.DEVICE, Phase.WARNING): _G("Infra", "Expected", "Minor", "Possible", "Monitor"),
    (Hazard.DEVICE, Phase.ALARM): _G("Infra", "Expected", "Moderate", "Observed", "Assess"),
}
FAULT = Grade("Infra", "Expected", "Minor", "Observed", "Assess")
"""A sensor fault, whatever its hazard: it threatens no one by itself, it leaves the
place unwatched until a technician comes."""


def grade(hazard: Hazard, phase: Phase) -> Grade:
    if phase is Phase.FAULT:
        return FAULT
    if phase in (Phase.CLEAR, Phase.CLOSED):
        return Grade(CATEGORY[hazard], "Past", "Minor", "Observed", "AllClear")
    return TABLE[(hazard, phase)]


# --- words -----------------------------------------------------------------------------

LANGUAGES = {"id": "id-ID", "en": "en-US"}

HAZARD_WORD = {
    "id": {
        Hazard.FIRE: "kebakaran",
        Hazard.GAS: "kebocoran gas",
        Hazard.FLOOD: "banjir",
        Hazard.EARTHQUAKE: "gempa bumi",
        Hazard.INTRUSION: "penyusupan",
        Hazard.TAMPER: "sabotase perangkat",
        Hazard.DEVICE: "gangguan perangkat",
    },
    "en": {
        Hazard.FIRE: "fire",
        Hazard.GAS: "gas leak",
        Hazard.FLOOD: "flood",
        Hazard.EARTHQUAKE: "earthquake",
        Hazard.INTRUSION: "intrusion",
        Hazard.TAMPER: "tampering",
        Hazard.DEVICE: "device fault",
    },
}

HEADLINE = {
    "id": {
        Phase.ALARM: "{HAZ} di {place}",
        Phase.WARNING: "WASPADA {HAZ} di {place}",
        Phase.FAULT: "GANGGUAN SENSOR {HAZ} di {place}",
        Phase.CLEAR: "Selesai: {haz} di {place}",
        Phase.CLOSED: "Ditutup: {haz} di {place}",
    },
    "en": {
        Phase.ALARM: "{HAZ} at {place}",
        Phase.WARNING: "{HAZ} WARNING at {place}",
        Phase.FAULT: "{HAZ} SENSOR FAULT at {place}",
        Phase.CLEAR: "All clear: {haz} at {place}",
        Phase.CLOSED: "Closed: {haz} at {place}",
    },
}

SILENT_HEADLINE = {
    "id": {
        Phase.ALARM: "LOKASI SENYAP: {place}",
        Phase.WARNING: "LOKASI SENYAP: {place}",
        Phase.FAULT: "LOKASI SENYAP: {place}",
        Phase.CLEAR: "Terdengar lagi: {place}",
        Phase.CLOSED: "Ditutup: lokasi senyap {place}",
    },
    "en": {
        Phase.ALARM: "SITE SILENT: {place}",
        Phase.WARNING: "SITE SILENT: {place}",
        Phase.FAULT: "SITE SILENT: {place}",
        Phase.CLEAR: "Heard again: {place}",
        Phase.CLOSED: "Closed: site silent at {place}",
    },
}

SILENT_EVENT_NAME = {"id": "Lokasi senyap", "en": "Site silent"}

SILENT_DESCRIPTION = {
    "id": {
        "silent": "Perangkat {device} di {place} tidak terdengar lagi oleh stasiun ({why}). "
        "Tidak ada sensor di lokasi ini yang terpantau sampai perangkat terdengar lagi.",
        "since": "Senyap sejak {first}; terakhir diperbarui {last}.",
        "heard": "Perangkat terdengar lagi; alarm belum ditutup petugas.",
    },
    "en": {
        "silent": "Device {device} at {place} is no longer heard by the station ({why}). "
        "None of the site's sensors is watched until the device is heard again.",
        "since": "Silent since {first}; last updated {last}.",
        "heard": "The device is heard again; the alarm is not yet closed by an operator.",
    },
}

SILENT_INSTRUCTION = {
    "id": "Hubungi lokasi (telepon atau radio) dan kirim petugas untuk memeriksa; anggap "
    "lokasi tidak terpantau: kebakaran, banjir, gempa atau penyusupan tidak akan dilaporkan.",
    "en": "Call the site (phone or radio) and send staff to check; treat the site as "
    "unwatched: a fire, flood, earthquake or intrusion there would not be reported.",
}

EVENT_NAME = {
    "id": {Phase.FAULT: "Gangguan sensor {haz}"},
    "en": {Phase.FAULT: "{Haz} sensor fault"},
}

PREFIX = {
    "id": {"Exercise": "LATIHAN — ", "Test": "UJI COBA — "},
    "en": {"Exercise": "DRILL — ", "Test": "TEST — "},
}

NOTE = {
    "Exercise": "LATIHAN, bukan kejadian nyata / DRILL, not a real event",
    "Test": "Uji sensor (walk test), abaikan / Walk test of a sensor, disregard",
}

STATE_WORD = {
    "id": {"alarm": "ALARM", "warning": "peringatan", "fault": "gangguan", "normal": "normal"},
    "en": {"alarm": "ALARM", "warning": "warning", "fault": "fault", "normal": "normal"},
}

DESCRIPTION = {
    "id": {
        "report": "Sensor {sensor} pada perangkat {device} di {place} melaporkan {state}",
        "stage": ", tahap {stage}",
        "value": ": nilai {value}",
        "threshold": " (ambang {threshold})",
        "message": "Pesan perangkat: {message}",
        "span": "Peristiwa pertama {first}, terakhir {last}; {events} peristiwa.",
        "ack_pending": "Diterima petugas {by} pada {at}; menunggu konfirmasi perangkat.",
        "ack_confirmed": "Diterima petugas {by} pada {at}; dikonfirmasi perangkat.",
        "clear": "Sensor kembali normal; alarm belum ditutup petugas.",
        "closed": "Ditutup oleh {by} pada {at}.",
        "closed_note": "Catatan: {note}",
    },
    "en": {
        "report": "Sensor {sensor} on device {device} at {place} reports {state}",
        "stage": ", stage {stage}",
        "value": ": value {value}",
        "threshold": " (threshold {threshold})",
        "message": "Device message: {message}",
        "span": "First event {first}, last {last}; events so far: {events}.",
        "ack_pending": "Acknowledged by operator {by} at {at}; awaiting the device's confirmation.",
        "ack_confirmed": "Acknowledged by operator {by} at {at}; confirmed by the device.",
        "clear": "The sensor is back to normal; the alarm is not yet closed by an operator.",
        "closed": "Closed by {by} at {at}.",
        "closed_note": "Note: {note}",
    },
}

LOCAL_PROCEDURE = {"id": "", "en": "Station procedure (as written locally):\n"}

INSTRUCTION = {
    "id": {
        Hazard.FIRE: "Padamkan sumber api bila aman, evakuasi blok, hubungi Damkar (113).",
        Hazard.GAS: "Jangan nyalakan api atau saklar listrik, buka ventilasi, evakuasi blok.",
        Hazard.FLOOD: "Pindahkan orang dan peralatan ke tempat tinggi, siagakan evakuasi.",
        Hazard.EARTHQUAKE: "Berlindung (merunduk, lindungi kepala, bertahan), lalu periksa "
        "bangunan sebelum masuk kembali.",
        Hazard.INTRUSION: "Jalankan prosedur pengamanan: kirim unit patroli ke titik sensor.",
        Hazard.TAMPER: "Periksa perangkat di lokasi; anggap area tidak terpantau.",
        Hazard.DEVICE: "Kirim teknisi; anggap area tidak terpantau sampai perangkat pulih.",
    },
    "en": {
        Hazard.FIRE: "Put out the source if safe, evacuate the block, call the fire brigade (113).",
        Hazard.GAS: "No flames or electrical switches, open ventilation, evacuate the block.",
        Hazard.FLOOD: "Move people and equipment to higher ground, stand by to evacuate.",
        Hazard.EARTHQUAKE: "Drop, cover and hold on; check the buildings before going back in.",
        Hazard.INTRUSION: "Run the security procedure: send a patrol to the sensor's location.",
        Hazard.TAMPER: "Inspect the device on site; treat the area as unwatched.",
        Hazard.DEVICE: "Send a technician; treat the area as unwatched until it recovers.",
    },
}

FAULT_INSTRUCTION = {
    "id": "Kirim teknisi; area ini tidak terpantau untuk {haz} sampai sensor pulih.",
    "en": "Send a technician; the area is not watched for {haz} until the sensor recovers.",
}

OVER_INSTRUCTION = {
    "id": "Tidak perlu tindakan lebih lanjut; ikuti arahan petugas di lokasi.",
    "en": "No further action needed; follow the instructions of staff on site.",
}
