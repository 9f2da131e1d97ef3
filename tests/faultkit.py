"""What the fault-injection tests share: the control room's listener, the oracle, daemons.

The oracle (``assert_every_event_arrived``) is the issue's, applied after every fault:
every event the device created (every ``seq`` in its store) arrived at a persistent-session
MQTT v5 subscriber, ``seq`` is gap-free after de-duplication by ``id``, duplicates carry
the same ``id``, and the outbox ends with nothing undelivered.

Everything here is real: mosquitto, paho, the daemon as a process (``python -m edge run``)
or on its core thread in-process with gpiozero's mock pins, SQLite files on disk.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import Listener

from edge.config import SiagaConfig

REPO = Path(__file__).parents[1]
BASE = "siaga/v1/lapas/pi-a"
EVENTS = f"{BASE}/events"
ACK = f"{BASE}/ack"
RESEND = f"{BASE}/resend"
NO_CHATTER_LIMIT = 1e6
"""A storm is chatter by design; the chatter fault would end it after a few edges."""


# ---------------------------------------------------------------------- the control room


# ---------------------------------------------------------------------- the store


@dataclass(frozen=True)
class StoreView:
    ids: dict[int, str]
    """seq -> id of every event the device created (and still keeps)."""
    undelivered: list[int]
    last_seq: int


def read_store(path: Path) -> StoreView:
    """The outbox as the daemon left it, read through SQLite (safe while it runs: WAL)."""
    with closing(sqlite3.connect(path, timeout=10)) as db:
        ids = {int(s): str(i) for s, i in db.execute("SELECT seq, id FROM events")}
        undelivered = [
            int(s) for (s,) in db.execute("SELECT seq FROM events WHERE delivered IS NULL")
        ]
        (last,) = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
    return StoreView(ids, sorted(undelivered), int(last))


def store_drained(path: Path) -> bool:
    try:
        view = read_store(path)
    except sqlite3.Error:
        return False
    return view.last_seq > 0 and not view.undelivered


# ---------------------------------------------------------------------- the oracle


@dataclass
class Verdict:
    created: int
    received: int
    duplicates: int
    missing: list[int] = field(default_factory=list)
    wrong_id: list[int] = field(default_factory=list)
    undelivered: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.wrong_id or self.undelivered)


def judge(listener: Listener, store: Path) -> Verdict:
    view = read_store(store)
    got: dict[int, set[str]] = {}
    events = listener.events()
    for event in events:
        got.setdefault(event["seq"], set()).add(event["id"])
    expected = range(1, view.last_seq + 1)
    return Verdict(
        created=view.last_seq,
        received=len(events),
        duplicates=len(events) - len(got),
        missing=[s for s in expected if s not in got],
        # An event evicted from the store (delivered, then room needed) has no id to match.
        wrong_id=[s for s, ids in got.items() if s in view.ids and ids != {view.ids[s]}]
        + [s for s, ids in got.items() if len(ids) > 1],
        undelivered=view.undelivered,
    )


def assert_every_event_arrived(
    listener: Listener, store: Path, *, timeout: float = 60.0, resend_gaps: bool = False
) -> Verdict:
    """The oracle. Waits (bounded) for the outbox to drain and the listener to catch up.

    ``resend_gaps``: once the device holds nothing undelivered, the listener asks
    ``resend`` for the seqs it lacks, as a control room does on seeing a gap. Only for
    faults that make the *broker* lose messages it had acknowledged (mosquitto killed
    before it saved them); the verdict's ``missing`` before that is returned in
    ``Verdict.missing`` of the first judgement, for the test to report.
    """
    deadline = time.monotonic() + timeout
    verdict = judge(listener, store)
    quiet_since, heard = time.monotonic(), verdict.received
    while time.monotonic() < deadline and not verdict.ok:
        time.sleep(0.2)
        verdict = judge(listener, store)
        if verdict.received != heard:
            quiet_since, heard = time.monotonic(), verdict.received
        if resend_gaps and not verdict.undelivered and time.monotonic() - quiet_since > 2.0:
            break  # the device is done and the broker has nothing more on its way
    first = verdict
    if resend_gaps and first.missing and not first.undelivered:
        for lo, hi in _ranges(first.missing):
            listener.resend(lo, hi)
        while time.monotonic() < deadline and not verdict.ok:
            time.sleep(0.2)
            verdict = judge(listener, store)
    assert not verdict.undelivered, (
        f"outbox still holds undelivered seqs {_ranges(verdict.undelivered)}"
    )
    assert not verdict.missing, f"never arrived: {_ranges(verdict.missing)} of {verdict.created}"
    assert not verdict.wrong_id, f"seqs that arrived with another id: {verdict.wrong_id[:20]}"
    if resend_gaps:
        verdict.missing = first.missing
    return verdict


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s in sorted(seqs):
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


# ---------------------------------------------------------------------- daemons


def config_text(
    broker_url: str,
    store: Path,
    *,
    keepalive_s: int = 5,
    mqtt_extra: str = "",
    storage_extra: str = "",
    alerts_repeat_s: float = 3600.0,
    log_level: str = "info",
) -> str:
    """A device with one digital smoke detector on GPIO17, on gpiozero's mock pins.

    ``delay_on_s``/``delay_off_s`` are 0: every edge on the pin is an event, so a driven pin
    makes an alarm storm. Repeats are an hour apart unless asked: repeats are duplicates
    and would only blur what a test measures."""
    return f"""
[site]
id = "lapas"
device = "pi-a"

[mqtt]
url = "{broker_url}"
keepalive_s = {keepalive_s}
{mqtt_extra}

[storage]
path = "{store}"
allow_volatile = true  # tmp_path may be on tmpfs
{storage_extra}

[alerts]
repeat_s = {alerts_repeat_s}

[heartbeat]
interval_s = 1

[gpio]
pin_factory = "mock"

[control]
socket = "{store.parent / "control.sock"}"

[logging]
format = "json"
level = "{log_level}"

[outputs]
siren_pin = "GPIO27"

[[sensors]]
id = "smoke-1"
kind = "smoke"
name = "Dapur"
location = "Blok A"
input = {{ type = "digital", pin = "GPIO17", active_low = true }}
delay_on_s = 0.0
delay_off_s = 0.0
fault = {{ chatter_per_s = {NO_CHATTER_LIMIT} }}
"""


def storm_scenario(path: Path, toggles: int, period_s: float, start_s: float = 0.2) -> Path:
    """A scenario file: the detector on smoke-1 closes and opens ``toggles`` times."""
    lines = [f"duration_s = {start_s + toggles * period_s + 1:.3f}", ""]
    for i in range(toggles):
        t = start_s + i * period_s
        for at, value in ((t, 1), (t + period_s / 2, 0)):
            lines += ["[[step]]", f"at_s = {at:.3f}", 'sensor = "smoke-1"', f"value = {value}", ""]
    path.write_text("\n".join(lines))
    return path


class DaemonProcess:
    """``python -m edge run -c CONFIG [--simulate SCENARIO]`` as systemd would run it."""

    def __init__(
        self,
        config: Path,
        log: Path,
        *,
        scenario: Path | None = None,
        env: dict[str, str] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.config, self.log = config, log
        cmd = argv or [sys.executable, "-m", "edge", "run", "-c", str(config)]
        if scenario is not None:
            cmd += ["--simulate", str(scenario)]
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        full_env.pop("NOTIFY_SOCKET", None)
        full_env.pop("WATCHDOG_USEC", None)
        self._log_at = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=out, stderr=out)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def lines(self) -> list[dict[str, Any]]:
        """This run's JSON log lines (lines that are not JSON are skipped)."""
        with self.log.open("rb") as f:
            f.seek(self._log_at)
            text = f.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def text(self) -> str:
        with self.log.open("rb") as f:
            f.seek(self._log_at)
            return f.read().decode(errors="replace")

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]

    def wait_logged(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.logged(event)
            if found:
                return found[0]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} in the log:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def rss_kb(self) -> int:
        return rss_kb(self.proc.pid)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def storm_config(broker_url: str, store: Path, **overrides: Any) -> SiagaConfig:
    """``smoke_config`` with delay_on/off 0 (every edge is an event), hour-long repeats
    and an hour's latency budget: a storm's counts are the storm's own, not a pair of
    ``latency`` events that a slow machine adds (unless a test sets the budget)."""
    from factories import smoke_config

    sensor = {
        "id": "smoke-1",
        "kind": "smoke",
        "name": "Dapur",
        "location": "Blok A",
        "input": {"type": "digital", "pin": "GPIO17", "active_low": True},
        "delay_on_s": 0.0,
        "delay_off_s": 0.0,
        "fault": {"chatter_per_s": NO_CHATTER_LIMIT},
    }
    settings: dict[str, Any] = {
        "sensors": [sensor],
        "alerts__repeat_s": 3600.0,
        "alerts__latency_budget_s": 3600.0,
        **overrides,
    }
    return smoke_config(broker_url, store, **settings)


def prefill(store: Path, count: int, state: Any = None) -> None:
    """``count`` undelivered events in the outbox, as an outage would leave them.

    Written through ``Outbox.append`` (the daemon's own path) with fsync off: this is set-up,
    not the thing under test, and 70,000 fsyncs would take minutes on a slow disk."""
    from factories import make_event

    from edge.detect.types import State
    from edge.outbox import Outbox

    box = Outbox(store)
    box.db.execute("PRAGMA synchronous=OFF")
    first = box.last_seq() + 1
    for _ in range(first, first + count):
        box.append(lambda s: make_event(s, state=state or State.NORMAL))
    box.close()
