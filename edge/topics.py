"""Topic names of the MQTT API, in one place (see docs/mqtt-api.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    site: str
    device: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.site}/{self.device}"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    def state(self, sensor: str) -> str:
        return f"{self.base}/state/{sensor}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def heartbeat(self) -> str:
        return f"{self.base}/heartbeat"

    def reading(self, sensor: str) -> str:
        return f"{self.base}/reading/{sensor}"

    @property
    def ack(self) -> str:
        return f"{self.base}/ack"

    @property
    def acked(self) -> str:
        return f"{self.base}/acked"

    @property
    def resend(self) -> str:
        return f"{self.base}/resend"


def parse_device_topic(prefix: str, topic: str) -> tuple[str, str, str] | None:
    """``{prefix}/{site}/{device}/{rest}`` -> (site, device, rest), or None."""
    if not topic.startswith(prefix + "/"):
        return None
    parts = topic[len(prefix) + 1 :].split("/", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]
