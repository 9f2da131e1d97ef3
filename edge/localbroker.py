"""A private mosquitto: own config and store, a free loopback port, stopped by its PID.

Used by ``siaga-edge demo`` and by the tests and benchmarks; never touches port 1883 or
the system's broker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"mosquitto did not listen on {port}")


class Mosquitto:
    """``Mosquitto(extra).start()``; ``stop()``, ``kill()`` and ``start()`` keep the port."""

    def __init__(self, extra: str = "", port: int | None = None, persistence: bool = True) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.binary).exists():
            raise RuntimeError("mosquitto is not installed: run  sudo apt-get install -y mosquitto")
        self.dir = Path(tempfile.mkdtemp(prefix="siaga-mosq-"))
        self.port = port or free_port()
        self.extra = extra
        self.persistence = persistence
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def conf_text(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 0",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        return "\n".join(lines) + "\n" + self.extra + "\n"

    def start(self) -> Mosquitto:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self.conf_text())
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log, stderr=log)
        try:
            wait_port(self.port)
        except TimeoutError:
            raise RuntimeError(f"mosquitto failed to start:\n{self.log.read_text()}") from None
        return self

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
