"""A CapAlert as CAP 1.2 XML, with the standard library's ElementTree.

ElementTree rather than lxml: the station writes small documents in a fixed element order
and needs no XPath, XSLT or schema at run time, so a C-extension dependency buys nothing
here (tests validate the output against the OASIS schema with xmlschema)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from edge.cap.model import CAP_NS, Area, CapAlert, Info

ET.register_namespace("cap", CAP_NS)  # embedded in Atom, the alert reads cap:alert


def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, value: str | None) -> None:
    if value is not None:
        ET.SubElement(parent, _q(tag)).text = value


def _pairs(parent: ET.Element, tag: str, pairs: tuple[tuple[str, str], ...]) -> None:
    for name, value in pairs:
        pair = ET.SubElement(parent, _q(tag))
        _text(pair, "valueName", name)
        _text(pair, "value", value)


def _area(parent: ET.Element, area: Area) -> None:
    node = ET.SubElement(parent, _q("area"))
    _text(node, "areaDesc", area.desc)
    for polygon in area.polygons:
        _text(node, "polygon", polygon)
    for circle in area.circles:
        _text(node, "circle", circle)
    _pairs(node, "geocode", area.geocodes)


def _info(parent: ET.Element, info: Info) -> None:
    node = ET.SubElement(parent, _q("info"))
    _text(node, "language", info.language)
    for category in info.categories:
        _text(node, "category", category)
    _text(node, "event", info.event)
    for response in info.response_types:
        _text(node, "responseType", response)
    for tag in ("urgency", "severity", "certainty"):
        _text(node, tag, getattr(info, tag))
    _pairs(node, "eventCode", info.event_codes)
    _text(node, "effective", info.effective)
    _text(node, "onset", info.onset)
    _text(node, "expires", info.expires)
    _text(node, "senderName", info.sender_name)
    _text(node, "headline", info.headline)
    _text(node, "description", info.description)
    _text(node, "instruction", info.instruction)
    _text(node, "web", info.web)
    _text(node, "contact", info.contact)
    _pairs(node, "parameter", info.parameters)
    for area in info.areas:
        _area(node, area)


def alert_element(alert: CapAlert) -> ET.Element:
    """The ``<alert>`` element, in the schema's element order."""
    root = ET.Element(_q("alert"))
    for tag, value in (
        ("identifier", alert.identifier),
        ("sender", alert.sender),
        ("sent", alert.sent),
        ("status", alert.status),
        ("msgType", alert.msg_type),
        ("source", alert.source),
        ("scope", alert.scope),
        ("restriction", alert.restriction),
        ("addresses", alert.addresses),
    ):
        _text(root, tag, value)
    for code in alert.codes:
        _text(root, "code", code)
    _text(root, "note", alert.note)
    if alert.references:
        _text(root, "references", " ".join(str(r) for r in alert.references))
    _text(root, "incidents", alert.incidents)
    for info in alert.infos:
        _info(root, info)
    return root


def to_xml(alert: CapAlert) -> bytes:
    """The document served at ``/cap/{identifier}.xml`` and POSTed to partners (UTF-8)."""
    root = alert_element(alert)
    ET.indent(root)
    data: bytes = ET.tostring(
        root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return data
