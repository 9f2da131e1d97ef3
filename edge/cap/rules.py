"""The CAP 1.2 rules the XML schema cannot express, checked on the XML itself (what a
partner receives): for tests, for the station before it serves or pushes an alert, and
for reading partners' alerts. Every check returns problems; none raises."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from edge.cap.decode import CapFormatError, parse_xml
from edge.cap.model import CAP_NS, FORBIDDEN_IN_ID, TIME_PATTERN, parse_cap_time

NEEDS_REFERENCES = frozenset({"Update", "Cancel", "Ack", "Error"})
TIME_TAGS = ("effective", "onset", "expires")

Bad = Callable[[str, "str | None"], None]
"""Records a problem under a rule when the detail is not None."""


@dataclass(frozen=True, slots=True)
class Problem:
    identifier: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.identifier}: {self.rule}: {self.detail}"


def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _text(node: ET.Element, tag: str) -> str | None:
    child = node.find(_q(tag))
    return None if child is None else (child.text or "").strip()


def _root(alert: bytes | ET.Element) -> ET.Element:
    return parse_xml(alert) if isinstance(alert, bytes) else alert


def _coordinate(pair: str) -> str | None:
    """Why ``lat,lon`` is not a WGS 84 point, or None when it is."""
    parts = pair.split(",")
    if len(parts) != 2:
        return f"{pair!r} is not lat,lon"
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return f"{pair!r} is not two numbers"
    if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon)):
        return f"{pair!r}: latitude out of range"
    if not -180 <= lon <= 180:
        return f"{pair!r}: longitude out of range"
    return None


def polygon_problem(text: str) -> str | None:
    points = text.split()
    if len(points) < 4:
        return f"{len(points)} points, a polygon needs at least 4"
    for point in points:
        if (why := _coordinate(point)) is not None:
            return why
    if points[0] != points[-1]:
        return "not closed: the first and last points differ"
    return None


def circle_problem(text: str) -> str | None:
    parts = text.split()
    if len(parts) != 2:
        return f"{text!r} is not 'lat,lon radius'"
    if (why := _coordinate(parts[0])) is not None:
        return why
    try:
        radius = float(parts[1])
    except ValueError:
        return f"radius {parts[1]!r} is not a number"
    if not (math.isfinite(radius) and radius >= 0):
        return f"radius {parts[1]!r} is not a distance in km"
    return None


def _id_problem(what: str, value: str | None) -> str | None:
    if not value:
        return f"{what} is empty"
    if FORBIDDEN_IN_ID.search(value):
        return f"{what} {value!r} has a space, comma, '<' or '&'"
    return None


def check_alert(alert: bytes | ET.Element) -> list[Problem]:
    """The rules one alert must follow on its own."""
    try:
        root = _root(alert)
    except CapFormatError as exc:
        return [Problem("?", "xml", str(exc))]
    ident = _text(root, "identifier") or "?"
    out: list[Problem] = []

    def bad(rule: str, detail: str | None) -> None:
        if detail is not None:
            out.append(Problem(ident, rule, detail))

    bad("identifier", _id_problem("identifier", _text(root, "identifier")))
    bad("sender", _id_problem("sender", _text(root, "sender")))
    _check_time(bad, "sent", _text(root, "sent"))
    references = _text(root, "references")
    msg_type = _text(root, "msgType")
    if msg_type in NEEDS_REFERENCES and not references:
        bad("references", f"a {msg_type} must name the alerts it follows")
    for entry in (references or "").split():
        parts = entry.split(",")
        if len(parts) != 3:
            bad("references", f"{entry!r} is not sender,identifier,sent")
            continue
        bad("references", _id_problem("referenced sender", parts[0]))
        bad("references", _id_problem("referenced identifier", parts[1]))
        if not TIME_PATTERN.match(parts[2]):
            bad("references", f"{entry!r}: sent is not a CAP time")
    scope = _text(root, "scope")
    if scope == "Restricted" and not _text(root, "restriction"):
        bad("restriction", "scope Restricted needs a restriction saying who may see it")
    if scope == "Private" and not _text(root, "addresses"):
        bad("addresses", "scope Private needs addresses")
    languages = [_text(i, "language") or "en-US" for i in root.findall(_q("info"))]
    if len(set(languages)) != len(languages):
        bad("language", f"two info blocks share a language: {languages}")
    for info in root.findall(_q("info")):
        _check_info(bad, info)
    return out


def _check_time(bad: Bad, tag: str, value: str | None) -> None:
    if value is not None and not TIME_PATTERN.match(value):
        bad("time", f"{tag} {value!r} needs an offset, whole seconds and no 'Z'")


def _check_info(bad: Bad, info: ET.Element) -> None:
    for tag in TIME_TAGS:
        _check_time(bad, tag, _text(info, tag))
    effective, expires = _text(info, "effective"), _text(info, "expires")
    if (
        effective
        and expires
        and TIME_PATTERN.match(effective)
        and TIME_PATTERN.match(expires)
        and _seconds(expires) <= _seconds(effective)
    ):
        bad("expires", f"expires {expires} is not after effective {effective}")
    for area in info.findall(_q("area")):
        for polygon in area.findall(_q("polygon")):
            bad("polygon", polygon_problem(polygon.text or ""))
        for circle in area.findall(_q("circle")):
            bad("circle", circle_problem(circle.text or ""))
        if _text(area, "ceiling") is not None and _text(area, "altitude") is None:
            bad("ceiling", "ceiling needs an altitude")


def _seconds(text: str) -> float:
    return parse_cap_time(text).timestamp()


def check_chain(
    alerts: Sequence[bytes | ET.Element], *, known: Iterable[str] = ()
) -> list[Problem]:
    """Rules across alerts, given oldest first: each passes ``check_alert``; identifiers
    are unique; every reference names an earlier alert of the sequence (or one of
    ``known``, ``sender,identifier,sent`` strings) with the same sent; every Update or
    Cancel references an Alert; an alert is never sent before one it references."""
    out: list[Problem] = []
    seen: dict[str, str] = {ref: "Alert" for ref in known}
    ids: set[tuple[str, str]] = set()
    for alert in alerts:
        try:
            root = _root(alert)
        except CapFormatError as exc:
            out.append(Problem("?", "xml", str(exc)))
            continue
        out.extend(check_alert(root))
        sender, ident = _text(root, "sender") or "", _text(root, "identifier") or "?"
        sent, msg_type = _text(root, "sent") or "", _text(root, "msgType") or ""
        if (sender, ident) in ids:
            out.append(Problem(ident, "unique", "identifier issued twice by this sender"))
        ids.add((sender, ident))
        entries = (_text(root, "references") or "").split()
        for entry in entries:
            if entry not in seen:
                out.append(Problem(ident, "references", f"{entry} names no earlier alert"))
            elif TIME_PATTERN.match(sent) and _seconds(entry.split(",")[2]) > _seconds(sent):
                out.append(Problem(ident, "references", f"{entry} was sent after this alert"))
        if msg_type in ("Update", "Cancel") and not any(seen.get(e) == "Alert" for e in entries):
            out.append(Problem(ident, "follows", f"this {msg_type} references no Alert"))
        seen[f"{sender},{ident},{sent}"] = msg_type
    return out
