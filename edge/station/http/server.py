"""uvicorn on its own thread, serving the app until told to stop.

uvicorn: the reference ASGI server Starlette documents, small, h11-based, no C needed;
on a non-main thread it installs no signal handlers, so the service keeps SIGTERM.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

STARTUP_TIMEOUT_S = 15.0
GRACE_S = 1
"""On stop, open live streams get this long to end before they are cut."""


class HttpServer:
    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        *,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ssl_certfile=cert_file,
            ssl_keyfile=key_file,
            # Live streams (the board's, /api/stream) never end by themselves: at stop,
            # give requests this long, then cut them (the pages reconnect on their own).
            timeout_graceful_shutdown=GRACE_S,
        )
        self.scheme = "https" if cert_file is not None else "http"
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="station-http", daemon=True)
        self.host = host

    def start(self) -> str:
        """Serve; the URL it listens on (the real port when 0 was asked for)."""
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the HTTP server could not listen on {self.host}")
            time.sleep(0.01)
        sock = self.server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"{self.scheme}://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
