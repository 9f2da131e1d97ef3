"""Partners' CAP read back, the shell: fetch a configured feed and the alerts it links
(bounded in count and bytes), hand them to ``readback``. ``poll`` never raises: a feed that
is down or malformed is a FeedStatus with ``ok = False`` and the local alarms go on."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urljoin

import httpx

from edge import logs
from edge.cap.config import FeedSource
from edge.cap.decode import CapFormatError, from_xml
from edge.cap.model import CapAlert
from edge.cap.readback import FeedStatus, banners, read_document

log = logs.get("cap.readback")
ACCEPT = "application/cap+xml, application/atom+xml, application/rss+xml, application/xml"


class TooLargeError(Exception):
    pass


class FeedReader:
    """One ``[[cap.feeds]]`` source. The station calls ``poll`` every ``interval_s``."""

    def __init__(self, source: FeedSource, client: httpx.Client, language: str = "id") -> None:
        self.source, self.client, self.language = source, client, language

    def _get(self, url: str) -> bytes:
        with self.client.stream(
            "GET", url, headers={"Accept": ACCEPT}, timeout=self.source.timeout_s
        ) as response:
            response.raise_for_status()
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.source.max_bytes:
                    raise TooLargeError(f"larger than {self.source.max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

    def poll(self, now: datetime) -> FeedStatus:
        src = self.source
        try:
            document = read_document(self._get(src.url))
            alerts: list[CapAlert] = list(document.alerts)
            problems = list(document.problems)
            for link in document.links[: max(0, src.max_alerts - len(alerts))]:
                try:
                    alerts.append(from_xml(self._get(urljoin(src.url, link))))
                except (httpx.HTTPError, CapFormatError, TooLargeError) as exc:
                    problems.append(f"{link}: {_why(exc)}")
            shown = banners(src.name, alerts, now, language=self.language)
        except Exception as exc:  # whatever a partner sends, the board goes on
            log.warning("cap_feed_failed", feed=src.name, error=_why(exc))
            return FeedStatus(src.name, src.url, ok=False, checked_at=now, error=_why(exc))
        error = None
        if problems:
            error = f"{len(problems)} entries unreadable; first: {problems[0]}"
            log.warning("cap_feed_partial", feed=src.name, unreadable=len(problems))
        return FeedStatus(
            src.name,
            src.url,
            ok=True,
            checked_at=now,
            error=error,
            banners=shown,
            alerts_read=len(alerts),
        )


def _why(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"[:300]
