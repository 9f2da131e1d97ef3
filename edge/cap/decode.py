"""CAP XML back to a CapAlert: the station's own alerts (its archive is XML) and partners'
alerts it reads back. Untrusted input goes through defusedxml: no DTDs, no entities."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from edge.cap.model import CAP11_NS, CAP_NS, Area, CapAlert, Info, Ref

NAMESPACES = (CAP_NS, CAP11_NS)


class CapFormatError(ValueError):
    """Not a CAP alert this reader can use; the message says why."""


def parse_xml(data: bytes) -> ET.Element:
    """Any XML document, refusing DTDs and entity tricks (billion laughs, external files)."""
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise CapFormatError(f"not well-formed XML: {exc}") from None
    return root


def is_alert(element: ET.Element) -> bool:
    return element.tag in {f"{{{ns}}}alert" for ns in NAMESPACES}


def from_xml(data: bytes) -> CapAlert:
    return from_element(parse_xml(data))


def from_element(root: ET.Element) -> CapAlert:
    if not is_alert(root):
        raise CapFormatError(f"root element is {root.tag!r}, not a CAP alert")
    ns = root.tag[1:].split("}")[0]
    r = _Reader(ns)
    try:
        return CapAlert(
            identifier=r.need(root, "identifier"),
            sender=r.need(root, "sender"),
            sent=r.need(root, "sent"),
            status=r.need(root, "status"),
            msg_type=r.need(root, "msgType"),
            scope=r.need(root, "scope"),
            source=r.text(root, "source"),
            restriction=r.text(root, "restriction"),
            addresses=r.text(root, "addresses"),
            codes=r.texts(root, "code"),
            note=r.text(root, "note"),
            references=_references(r.text(root, "references")),
            incidents=r.text(root, "incidents"),
            infos=tuple(r.info(node) for node in root.findall(r.q("info"))),
        )
    except CapFormatError:
        raise
    except ValueError as exc:
        raise CapFormatError(str(exc)) from None


def _references(text: str | None) -> tuple[Ref, ...]:
    refs = []
    for entry in (text or "").split():
        parts = entry.split(",")
        if len(parts) != 3:
            raise CapFormatError(f"reference {entry!r} is not sender,identifier,sent")
        refs.append(Ref(*parts))
    return tuple(refs)


class _Reader:
    def __init__(self, ns: str) -> None:
        self.ns = ns

    def q(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"

    def text(self, node: ET.Element, tag: str) -> str | None:
        child = node.find(self.q(tag))
        return None if child is None else (child.text or "").strip()

    def need(self, node: ET.Element, tag: str) -> str:
        value = self.text(node, tag)
        if not value:
            raise CapFormatError(f"<{tag}> is missing or empty")
        return value

    def texts(self, node: ET.Element, tag: str) -> tuple[str, ...]:
        return tuple((c.text or "").strip() for c in node.findall(self.q(tag)))

    def pairs(self, node: ET.Element, tag: str) -> tuple[tuple[str, str], ...]:
        return tuple(
            (self.text(c, "valueName") or "", self.text(c, "value") or "")
            for c in node.findall(self.q(tag))
        )

    def info(self, node: ET.Element) -> Info:
        return Info(
            language=self.text(node, "language") or "en-US",
            categories=self.texts(node, "category"),
            event=self.text(node, "event") or "",
            response_types=self.texts(node, "responseType"),
            urgency=self.text(node, "urgency") or "Unknown",
            severity=self.text(node, "severity") or "Unknown",
            certainty=self.text(node, "certainty") or "Unknown",
            event_codes=self.pairs(node, "eventCode"),
            effective=self.text(node, "effective"),
            onset=self.text(node, "onset"),
            expires=self.text(node, "expires"),
            sender_name=self.text(node, "senderName"),
            headline=self.text(node, "headline"),
            description=self.text(node, "description"),
            instruction=self.text(node, "instruction"),
            web=self.text(node, "web"),
            contact=self.text(node, "contact"),
            parameters=self.pairs(node, "parameter"),
            areas=tuple(self.area(a) for a in node.findall(self.q("area"))),
        )

    def area(self, node: ET.Element) -> Area:
        return Area(
            desc=self.text(node, "areaDesc") or "",
            polygons=self.texts(node, "polygon"),
            circles=self.texts(node, "circle"),
            geocodes=self.pairs(node, "geocode"),
        )
