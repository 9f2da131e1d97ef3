"""SD-card writes: what the daemon process writes per event lifecycle and per idle hour.

The daemon runs as its own process (``bench/writes_child.py``: the production
:class:`~edge.daemon.Daemon`, a mock smoke contact, a private mosquitto), so its own
``/proc/<pid>/io`` ``write_bytes`` is what is counted: every page it dirties in the page
cache, which is what the kernel will write to the card (ext4's journal comes on top and is
not counted; see docs/operations.md). Its JSON log lines go to a pipe, as under systemd to
journald, and are counted as bytes there.

- **lifecycle**: one cycle is an alarm (commit, publish, PUBACK "delivered" mark, one
  repeat, the operator's ack and its receipt) and its clear (commit, publish, delivered):
  two events. Both store settings, ``legacy`` (4 KB pages, FULL for every write) and
  ``tuned`` (:data:`edge.outbox.TUNED`), run side by side in the same run; each phase ends
  with a WAL checkpoint so the database writes are paid, not deferred past the count.
- **idle**: a short idle run scaled to an hour and a day (said so in the table), with the
  heartbeat every 5 s and telemetry every 10 s, and with both off.

    PYTHONPATH=. python -m bench.bench_writes [--cycles 30] [--idle-s 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import ROOT, child_env, python, smoke_sensor, table, toml_text, write_result
from edge.localbroker import Mosquitto

PREFIX = "siaga/v1/lapas"
GOAL_EVENT_KB = 12.0
GOAL_IDLE_DAY_MB = 1.0
JOURNAL_ENTRY_OVERHEAD_B = 600  # journald's per-entry fields, hashes and index (assumed)


def read_io(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes")


class Child:
    """One daemon process: its commands, its log bytes, its counters."""

    def __init__(self, tmp: Path, name: str, mode: str, broker_url: str, **cfg: Any) -> None:
        self.name = name
        self.store = tmp / f"{name}.sqlite3"
        data = {
            "site": {"id": "lapas", "device": name},
            "mqtt": {"url": broker_url, "keepalive_s": 10},
            "storage": {"path": str(self.store), "allow_volatile": True},
            "heartbeat": {"interval_s": cfg.get("heartbeat_s", 3600)},
            "telemetry": {"interval_s": cfg.get("telemetry_s", 0)},
            "alerts": {"repeat_s": 1},
            "control": {"socket": str(tmp / f"{name}.sock")},
            "sensors": [smoke_sensor()],
        }
        path = tmp / f"{name}.toml"
        path.write_text(toml_text(data))
        self.proc = subprocess.Popen(
            [python(), "-m", "bench.writes_child", str(path), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=ROOT,
        )
        self.log_bytes = 0
        self.log_lines = 0
        self.log_events: dict[str, int] = {}
        threading.Thread(target=self._count_logs, daemon=True).start()
        assert self.proc.stderr is not None
        if self.proc.stderr.readline().strip() != "ready":
            raise RuntimeError(f"{name} did not start")

    def _count_logs(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log_bytes += len(line.encode())
            self.log_lines += 1
            try:
                event = str(json.loads(line).get("event"))
            except ValueError:
                event = "?"
            self.log_events[event] = self.log_events.get(event, 0) + 1

    def say(self, word: str) -> None:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        if self.proc.stderr.readline().strip() != "ok":
            raise RuntimeError(f"{self.name}: no answer to {word}")

    def snapshot(self) -> dict[str, int]:
        files = sum(
            Path(f"{self.store}{s}").stat().st_size
            for s in ("", "-wal")
            if Path(f"{self.store}{s}").exists()
        )
        return {
            "write_bytes": read_io(self.proc.pid),
            "store_bytes": files,
            "log_bytes": self.log_bytes,
            "log_lines": self.log_lines,
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, BrokenPipeError):
                self.say("stop")
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class ControlRoom:
    """Subscribes to every device's events and receipts; acks on request."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, dict[str, Any], str | None]] = []
        self.acked: set[str] = set()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(f"{PREFIX}/+/events", 1), (f"{PREFIX}/+/acked", 1)])
        self.client.loop_start()
        time.sleep(0.5)

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        data = json.loads(msg.payload)
        device = msg.topic.split("/")[3]
        with self.lock:
            if msg.topic.endswith("/acked"):
                self.acked.add(data["event_id"])
                return
            sent = None
            for key, value in getattr(msg.properties, "UserProperty", None) or []:
                if key == "sent":
                    sent = value
            self.events.append((device, data, sent))

    def wait(self, pred: Any, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = pred()
            if found:
                return found
            time.sleep(0.01)
        raise TimeoutError("the control room waited in vain")

    def ack(self, device: str, event_id: str) -> None:
        body = json.dumps({"event_id": event_id, "by": "sari"})
        self.client.publish(f"{PREFIX}/{device}/ack", body, qos=1)


def cycles(child: Child, room: ControlRoom, n: int) -> dict[str, Any]:
    name = child.name

    def first(state: str, after: int) -> dict[str, Any] | None:
        for dev, ev, sent in room.events:
            if dev == name and ev["state"] == state and ev["seq"] > after and sent is None:
                return ev
        return None

    last = 0
    time.sleep(1.0)  # the startup events delivered and marked
    child.say("checkpoint")
    before = child.snapshot()
    t0 = time.monotonic()
    for _ in range(n):
        child.say("low")
        alarm = room.wait(lambda a=last: first("alarm", a))
        room.wait(
            lambda i=alarm["id"]: any(
                dev == name and ev["id"] == i and sent == "repeat" for dev, ev, sent in room.events
            )
        )
        room.ack(name, alarm["id"])
        room.wait(lambda i=alarm["id"]: i in room.acked)
        child.say("high")
        clear = room.wait(lambda a=alarm["seq"]: first("normal", a))
        last = clear["seq"]
    time.sleep(0.5)  # the last PUBACK marks flushed
    child.say("checkpoint")
    after = child.snapshot()
    took = time.monotonic() - t0
    diff = {k: after[k] - before[k] for k in before}
    events = 2 * n
    return {
        "cycles": n,
        "events": events,
        "seconds": round(took, 1),
        **diff,
        "write_kb_per_cycle": round(diff["write_bytes"] / n / 1024, 2),
        "write_kb_per_event": round(diff["write_bytes"] / events / 1024, 2),
        "store_growth_kb_per_event": round(diff["store_bytes"] / events / 1024, 2),
        "log_bytes_per_event": round(diff["log_bytes"] / events),
        "log_lines_per_event": round(diff["log_lines"] / events, 2),
    }


def idle(child: Child, seconds: float) -> dict[str, Any]:
    time.sleep(2.0)
    child.say("checkpoint")
    before = child.snapshot()
    time.sleep(seconds)
    child.say("checkpoint")
    after = child.snapshot()
    diff = {k: after[k] - before[k] for k in before}
    per_hour = 3600.0 / seconds
    return {
        "measured_s": seconds,
        **diff,
        "write_kb_per_hour": round(diff["write_bytes"] * per_hour / 1024, 2),
        "write_mb_per_day": round(diff["write_bytes"] * per_hour * 24 / 2**20, 3),
        "log_kb_per_day": round(diff["log_bytes"] * per_hour * 24 / 1024, 1),
        "log_lines_per_day": round(diff["log_lines"] * per_hour * 24),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--idle-s", type=float, default=60.0)
    args = parser.parse_args()
    broker = Mosquitto(persistence=False).start()
    children: list[Child] = []
    results: dict[str, Any] = {}
    try:
        room = ControlRoom(broker.port)
        with TemporaryDirectory(prefix="bench-writes-", dir=os.environ.get("BENCH_TMP")) as t:
            tmp = Path(t)
            runs = {
                "legacy": Child(tmp, "pi-legacy", "legacy", broker.url),
                "tuned": Child(tmp, "pi-tuned", "tuned", broker.url),
                "idle_on": Child(
                    tmp, "pi-idle-on", "tuned", broker.url, heartbeat_s=5, telemetry_s=10
                ),
                "idle_off": Child(tmp, "pi-idle-off", "tuned", broker.url),
            }
            children += runs.values()
            jobs = {
                "legacy": lambda: cycles(runs["legacy"], room, args.cycles),
                "tuned": lambda: cycles(runs["tuned"], room, args.cycles),
                "idle_on": lambda: idle(runs["idle_on"], args.idle_s),
                "idle_off": lambda: idle(runs["idle_off"], args.idle_s),
            }
            threads = [
                threading.Thread(target=lambda k=k, f=f: results.__setitem__(k, f()))
                for k, f in jobs.items()
            ]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            for name, child in runs.items():
                results[name]["log_events"] = dict(child.log_events)
            for child in children:
                child.stop()
            children.clear()
    finally:
        for child in children:
            child.stop()
        broker.stop()
    report(results)


def report(results: dict[str, Any]) -> None:
    life = table(
        [
            "store",
            "cycles",
            "KB written / cycle",
            "KB / event",
            "goal KB / event",
            "store growth KB / event",
            "log B / event",
        ],
        [
            [
                name,
                r["cycles"],
                r["write_kb_per_cycle"],
                r["write_kb_per_event"],
                GOAL_EVENT_KB,
                r["store_growth_kb_per_event"],
                r["log_bytes_per_event"],
            ]
            for name, r in ((n, results[n]) for n in ("legacy", "tuned"))
        ],
    )
    idle_rows = []
    for name, label in (("idle_on", "heartbeat 5 s, telemetry 10 s"), ("idle_off", "both off")):
        r = results[name]
        idle_rows.append(
            [
                label,
                r["measured_s"],
                r["write_kb_per_hour"],
                r["write_mb_per_day"],
                GOAL_IDLE_DAY_MB,
                r["log_kb_per_day"],
            ]
        )
    idle_t = table(
        [
            "idle (measured, scaled x)",
            "measured s",
            "KB written / h",
            "MB / day",
            "goal MB / day",
            "log KB / day",
        ],
        idle_rows,
    )
    tuned = results["tuned"]
    journal_per_event = (
        tuned["log_bytes_per_event"] + JOURNAL_ENTRY_OVERHEAD_B * tuned["log_lines_per_event"]
    )
    idle_on = results["idle_on"]
    journal_idle_day = (
        idle_on["log_kb_per_day"] * 1024 + JOURNAL_ENTRY_OVERHEAD_B * idle_on["log_lines_per_day"]
    )
    results["journald_estimate"] = {
        "entry_overhead_bytes_assumed": JOURNAL_ENTRY_OVERHEAD_B,
        "bytes_per_event": round(journal_per_event),
        "idle_bytes_per_day": round(journal_idle_day),
    }
    print(life)
    print()
    print(idle_t)
    print()
    print(
        f"journald (estimate, {JOURNAL_ENTRY_OVERHEAD_B} B per entry assumed): "
        f"{journal_per_event / 1024:.2f} KB per event, "
        f"{journal_idle_day / 1024:.1f} KB per idle day"
    )
    path = write_result("bench_writes", results, {"lifecycle": life, "idle": idle_t})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
