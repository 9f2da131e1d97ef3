"""The console's link to a station: its JSON API and its live stream, standard library only
(the console is part of the base install; the station's extra is not needed to read it).

``StationClient`` answers GET/POST with HTTP Basic. ``follow`` reads ``/api/stream``
(Server-Sent Events) on a thread and reports each change, and each loss of the link, to
the caller's callbacks; it reconnects on its own every :data:`RETRY_S`.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

TIMEOUT_S = 10.0
RETRY_S = 2.0
STREAM_IDLE_S = 40.0
"""The station sends a keep-alive every 15 s: silence this long is a dead link."""


class StationError(Exception):
    """The station answered with an error, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StationClient:
    def __init__(self, url: str, user: str | None = None, password: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r}: use http://host:port or https://host:port")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.base = parts.path.rstrip("/")
        self.headers = {"Accept": "application/json"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.tls else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        conn = self._connection(TIMEOUT_S)
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self.base + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise StationError(0, f"cannot reach the station: {exc}") from None
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"error": raw[:200].decode(errors="replace")}
        if response.status >= 400:
            raise StationError(response.status, str(payload.get("error", response.reason)))
        return payload

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urlencode(params)}" if params else ""
        return self.request("GET", path + query)

    def acknowledge(self, alarm_id: str, note: str = "") -> Any:
        return self.request("POST", f"/api/alarms/{alarm_id}/ack", {"note": note})

    def follow(
        self,
        on_change: Callable[[dict[str, Any]], None],
        on_lost: Callable[[str], None],
        on_connected: Callable[[], None],
        stop: threading.Event,
    ) -> threading.Thread:
        """Read the live stream until ``stop``; reconnect after every loss."""

        def run() -> None:
            while not stop.is_set():
                try:
                    self._stream(on_change, on_connected, stop)
                    why = "the stream ended"
                except (OSError, http.client.HTTPException, StationError) as exc:
                    why = str(exc) or type(exc).__name__
                if stop.is_set():
                    return
                on_lost(why)
                stop.wait(RETRY_S)

        thread = threading.Thread(target=run, name="console-station", daemon=True)
        thread.start()
        return thread

    def _stream(
        self,
        on_change: Callable[[dict[str, Any]], None],
        on_connected: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        conn = self._connection(STREAM_IDLE_S)
        try:
            headers = {**self.headers, "Accept": "text/event-stream"}
            conn.request("GET", self.base + "/api/stream", headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                raise StationError(response.status, f"stream refused: HTTP {response.status}")
            on_connected()
            while not stop.is_set():
                line = response.readline()
                if not line:
                    return
                text = line.decode(errors="replace").rstrip("\r\n")
                if text.startswith("data:"):
                    try:
                        change = json.loads(text[5:])
                    except ValueError:
                        continue
                    if isinstance(change, dict):
                        on_change(change)
        finally:
            conn.close()
