"""``GET /cap/feed.atom``: an Atom 1.0 feed of the station's CAP alerts, newest first and
bounded. Each entry links to the alert's own document and also carries it whole in its
content, so a partner can read the feed alone or follow the links."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, tzinfo

from edge.cap.encode import alert_element
from edge.cap.model import MEDIA_TYPE, CapAlert, cap_time

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"


def _q(tag: str) -> str:
    """Atom's elements are written unqualified under ``xmlns`` set on the root:
    ElementTree's ``default_namespace`` refuses the unqualified attributes Atom uses."""
    return tag


def _add(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, _q(tag), attrs)
    node.text = text
    return node


def alert_url(base_url: str, identifier: str) -> str:
    """Where ``GET /cap/{identifier}.xml`` serves an alert (identifiers are URL-safe)."""
    return f"{base_url.rstrip('/')}/cap/{identifier}.xml"


def atom_feed(
    alerts: Sequence[CapAlert],
    *,
    base_url: str,
    title: str,
    now: datetime,
    zone: tzinfo,
    limit: int = 50,
    language: str = "id",
) -> bytes:
    """The feed document. ``alerts`` in any order; the newest ``limit`` by ``sent`` are
    kept. ``now`` stamps an empty feed; titles and summaries come from the info block in
    ``language`` (the station's), else the first."""
    newest = sorted(alerts, key=lambda a: (a.sent_at, a.identifier), reverse=True)[:limit]
    feed = ET.Element(_q("feed"), {"xmlns": ATOM_NS})
    feed_url = f"{base_url.rstrip('/')}/cap/feed.atom"
    _add(feed, "id", feed_url)
    _add(feed, "title", title)
    _add(feed, "updated", newest[0].sent if newest else cap_time(now, zone))
    author = ET.SubElement(feed, _q("author"))
    _add(author, "name", title)
    ET.SubElement(feed, _q("link"), {"rel": "self", "type": ATOM_TYPE, "href": feed_url})
    _add(feed, "generator", "siaga-edge station")
    for alert in newest:
        _entry(feed, alert, base_url, language)
    ET.indent(feed)
    data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return data


def _entry(feed: ET.Element, alert: CapAlert, base_url: str, language: str) -> None:
    info = alert.info(language) or (alert.infos[0] if alert.infos else None)
    url = alert_url(base_url, alert.identifier)
    entry = ET.SubElement(feed, _q("entry"))
    _add(entry, "id", url)
    headline = info.headline if info and info.headline else alert.identifier
    _add(entry, "title", f"{alert.msg_type}: {headline}")
    _add(entry, "updated", alert.sent)
    _add(entry, "published", alert.sent)
    if info is not None and info.sender_name:
        author = ET.SubElement(entry, _q("author"))
        _add(author, "name", info.sender_name)
    ET.SubElement(entry, _q("link"), {"rel": "alternate", "type": MEDIA_TYPE, "href": url})
    if info is not None:
        for category in info.categories:
            ET.SubElement(entry, _q("category"), {"term": category})
        if info.description:
            _add(entry, "summary", info.description)
    content = ET.SubElement(entry, _q("content"), {"type": MEDIA_TYPE})
    content.append(alert_element(alert))
