"""A CAP 1.2 alert as plain values: what the composer builds, the writer serializes and
the reader parses back. Only the parts of CAP this station speaks or reads are modelled
(no resources, no digital signatures)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
MEDIA_TYPE = "application/cap+xml"

TIME_PATTERN = re.compile(r"^\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
"""The schema's pattern for every CAP time: an offset is required, ``Z`` and fractions
are refused."""

FORBIDDEN_IN_ID = re.compile(r"[\s,<&]")
"""CAP 1.2 §3.2.1: identifier and sender contain no spaces, commas or restricted
characters (< and &)."""


def cap_time(at: datetime, zone: tzinfo) -> str:
    """``at`` in the station's zone, whole seconds, with its offset (``+07:00``)."""
    if at.tzinfo is None:
        raise ValueError("CAP times need an aware datetime (a naive one has no offset)")
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def parse_cap_time(text: str) -> datetime:
    """A CAP time back to an aware datetime; the lenient reader of partner feeds also takes
    ``Z`` and fractions, which the schema refuses but some publishers still send."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset")
    return parsed


@dataclass(frozen=True, slots=True)
class Ref:
    """One entry of ``references``: the alert it names, as CAP writes it."""

    sender: str
    identifier: str
    sent: str

    def __str__(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


@dataclass(frozen=True, slots=True)
class Area:
    desc: str
    polygons: tuple[str, ...] = ()
    circles: tuple[str, ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Info:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    response_types: tuple[str, ...] = ()
    event_codes: tuple[tuple[str, str], ...] = ()
    effective: str | None = None
    onset: str | None = None
    expires: str | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    areas: tuple[Area, ...] = ()

    def parameter(self, name: str) -> str | None:
        return next((v for k, v in self.parameters if k == name), None)


@dataclass(frozen=True, slots=True)
class CapAlert:
    """One CAP message. Times are kept as the text CAP carries (already in the station's
    zone with offset): what is written is exactly what was composed."""

    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    scope: str
    source: str | None = None
    restriction: str | None = None
    addresses: str | None = None
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[Ref, ...] = ()
    incidents: str | None = None
    infos: tuple[Info, ...] = field(default=())

    @property
    def ref(self) -> Ref:
        """How a later alert names this one in its ``references``."""
        return Ref(self.sender, self.identifier, self.sent)

    @property
    def sent_at(self) -> datetime:
        return parse_cap_time(self.sent)

    def info(self, language: str) -> Info | None:
        """The info block in ``language`` (``id`` matches ``id-ID``), else None."""
        for block in self.infos:
            if block.language.lower().split("-")[0] == language.lower().split("-")[0]:
                return block
        return None

    def parameter(self, name: str) -> str | None:
        """A parameter of the first info block (every block carries the same ones)."""
        return self.infos[0].parameter(name) if self.infos else None
