"""Partners' CAP read back for the board's banner, the pure part: what a fetched document
holds (a bare CAP alert, or an Atom or RSS feed with alerts embedded or linked) and which
of its alerts are still active. A bad document is a ``CapFormatError`` here; the shell
turns every failure into a :class:`FeedStatus` with ``ok = False``, never an exception."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.cap.decode import CapFormatError, from_element, is_alert, parse_xml
from edge.cap.model import CapAlert, parse_cap_time

ATOM_NS = "http://www.w3.org/2005/Atom"
DEFAULT_LIFETIME = timedelta(hours=24)
"""An alert without ``expires`` is shown this long after it was sent (CAP leaves it open;
a banner must not stay for ever)."""
LinkOf = Callable[[ET.Element], "str | None"]
SEVERITY_RANK = {"Extreme": 0, "Severe": 1, "Moderate": 2, "Minor": 3, "Unknown": 4}


@dataclass(frozen=True, slots=True)
class Document:
    alerts: tuple[CapAlert, ...]  # embedded in the document (or the document itself)
    links: tuple[str, ...]  # entries' CAP links still to fetch, newest first as listed
    problems: tuple[str, ...] = ()  # entries that could not be read


@dataclass(frozen=True, slots=True)
class Banner:
    """One active partner alert, in the station's language where the alert has it."""

    source: str
    identifier: str
    sender: str
    sent: datetime
    expires: datetime
    status: str
    msg_type: str
    language: str
    event: str
    headline: str
    description: str
    instruction: str
    severity: str
    urgency: str
    certainty: str
    area: str
    web: str | None


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One poll of one configured feed, as the board shows it."""

    name: str
    url: str
    ok: bool
    checked_at: datetime
    error: str | None = None
    banners: tuple[Banner, ...] = ()
    alerts_read: int = 0


def read_document(body: bytes) -> Document:
    root = parse_xml(body)
    if is_alert(root):
        return Document((from_element(root),), ())
    if root.tag == f"{{{ATOM_NS}}}feed":
        return _entries(root.findall(f"{{{ATOM_NS}}}entry"), _atom_link)
    if root.tag == "rss":
        return _entries(root.findall("channel/item"), _rss_link)
    raise CapFormatError(f"{root.tag!r} is neither a CAP alert nor an Atom or RSS feed")


def _entries(entries: list[ET.Element], link_of: LinkOf) -> Document:
    alerts: list[CapAlert] = []
    links: list[str] = []
    problems: list[str] = []
    for entry in entries:
        embedded = [el for el in entry.iter() if is_alert(el)]
        if embedded:
            for element in embedded:
                try:
                    alerts.append(from_element(element))
                except CapFormatError as exc:
                    problems.append(str(exc))
        elif (link := link_of(entry)) is not None:
            links.append(link)
    return Document(tuple(alerts), tuple(links), tuple(problems))


def _atom_link(entry: ET.Element) -> str | None:
    links = entry.findall(f"{{{ATOM_NS}}}link")
    for link in links:  # a link typed as CAP first, then the entry's alternate
        if "cap" in (link.get("type") or "") and link.get("href"):
            return link.get("href")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def _rss_link(item: ET.Element) -> str | None:
    enclosure = item.find("enclosure")
    if enclosure is not None and "xml" in (enclosure.get("type") or "") and enclosure.get("url"):
        return enclosure.get("url")
    link = item.findtext("link")
    return link.strip() if link and link.strip() else None


def expires_of(alert: CapAlert, lifetime: timedelta = DEFAULT_LIFETIME) -> datetime:
    """The latest ``expires`` of its info blocks, else sent + ``lifetime``."""
    times = [parse_cap_time(i.expires) for i in alert.infos if i.expires]
    return max(times) if times else alert.sent_at + lifetime


def banners(
    source: str,
    alerts: Iterable[CapAlert],
    now: datetime,
    *,
    language: str = "id",
    statuses: frozenset[str] = frozenset({"Actual"}),
) -> tuple[Banner, ...]:
    """The alerts still in force: Alert or Update of a shown status, not expired, not
    named in the references of another alert of the set (updated or cancelled); worst
    severity first, then newest."""
    pool = {(a.sender, a.identifier): a for a in alerts}
    superseded = {(r.sender, r.identifier) for a in pool.values() for r in a.references}
    shown: list[Banner] = []
    for key, alert in pool.items():
        if alert.msg_type not in ("Alert", "Update") or alert.status not in statuses:
            continue
        if key in superseded or not alert.infos:
            continue
        try:
            expires, sent = expires_of(alert), alert.sent_at
        except ValueError:
            continue  # a time no reader can place: not shown rather than guessed
        if expires <= now:
            continue
        info = alert.info(language) or alert.info("en") or alert.infos[0]
        shown.append(
            Banner(
                source=source,
                identifier=alert.identifier,
                sender=alert.sender,
                sent=sent,
                expires=expires,
                status=alert.status,
                msg_type=alert.msg_type,
                language=info.language,
                event=info.event,
                headline=info.headline or info.event,
                description=info.description or "",
                instruction=info.instruction or "",
                severity=info.severity,
                urgency=info.urgency,
                certainty=info.certainty,
                area="; ".join(a.desc for a in info.areas),
                web=info.web,
            )
        )
    shown.sort(key=lambda b: (SEVERITY_RANK.get(b.severity, 9), -b.sent.timestamp()))
    return tuple(shown)
