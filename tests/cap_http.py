"""Real local HTTP servers for the CAP shells: a static server of the sample feeds and a
partner's receiver that can refuse, recover, go away and come back on the same port."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet:
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Static(_Quiet, SimpleHTTPRequestHandler):
    pass


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serves ``directory`` on a free loopback port; yields its base URL."""
    handler = functools.partial(_Static, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Receiver:
    """A partner's CAP endpoint. ``refuse`` answers 503 to that many POSTs; every accepted
    POST is recorded (body, headers) and signalled, so tests wait for a positive event."""

    def __init__(self) -> None:
        self.accepted: list[tuple[bytes, dict[str, str]]] = []
        self.refused = 0
        self.refuse = 0
        self.changed = threading.Condition()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(_Quiet, BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.changed:
                    if receiver.refuse > 0:
                        receiver.refuse -= 1
                        receiver.refused += 1
                        status = 503
                    else:
                        receiver.accepted.append((body, dict(self.headers.items())))
                        status = 200
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def start(self) -> Receiver:
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cap"

    def wait_for(self, accepted: int = 0, refused: int = 0, timeout_s: float = 20.0) -> None:
        with self.changed:
            ok = self.changed.wait_for(
                lambda: len(self.accepted) >= accepted and self.refused >= refused, timeout_s
            )
        if not ok:
            raise AssertionError(
                f"receiver: {len(self.accepted)} accepted, {self.refused} refused; "
                f"waited for {accepted} and {refused}"
            )
