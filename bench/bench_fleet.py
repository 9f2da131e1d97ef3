"""Fleet: N device processes recovering from a broker outage against one broker, one consumer.

For each N, every device is a real ``python -m edge run`` process (one digital smoke input
on mock pins, kept light for 2 cores) whose outbox already holds ``--events`` events
stored while the broker was down. A console-like consumer (``bench/sub_counter.py``, one
paho subscriber on ``siaga/v1/+/+/events``, persistent session) subscribes first; the
broker stops; all N daemons start and report READY on a fake ``$NOTIFY_SOCKET``; then
the broker starts and every device drains at once: the stampede after an outage.

Reported per N: events lost (must be 0), duplicates, out-of-order, events/s over the whole
recovery and in the busiest second, time from broker start to the last event, and the
CPU the broker and the consumer used.

    PYTHONPATH=. python -m bench.bench_fleet [--devices 10 25 50] [--events 400]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bench.bench_drain import Consumer
from bench.bench_footprint import cpu_s
from bench.common import (
    ROOT,
    child_env,
    config_dict,
    prefill_outbox,
    python,
    smoke_sensor,
    table,
    toml_text,
    write_result,
)
from edge.localbroker import Mosquitto

SITE = "fleet"


def start_devices(
    tmp: Path, n: int, events: int, broker_url: str, notify: Path
) -> tuple[list[subprocess.Popen[bytes]], float]:
    """Pre-fill every outbox, then spawn every daemon; the processes and the spawn time."""
    paths: list[Path] = []
    for i in range(n):  # every outbox and config first: spawning is then quick
        device = f"d{i:03d}"
        store = tmp / f"{device}.sqlite3"
        prefill_outbox(store, events, site=SITE, device=device)
        cfg = config_dict(broker_url, store, [smoke_sensor()], site=SITE, device=device)
        cfg["gpio"] = {"pin_factory": "mock"}
        cfg["heartbeat"] = {"interval_s": 30}
        cfg["logging"] = {"level": "info", "format": "json"}
        cfg["control"] = {"socket": str(tmp / f"{device}.sock")}
        path = tmp / f"{device}.toml"
        path.write_text(toml_text(cfg))
        paths.append(path)
    procs: list[subprocess.Popen[bytes]] = []
    t_spawn = time.monotonic()
    for path in paths:
        with path.with_suffix(".log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [python(), "-m", "edge", "run", "-c", str(path)],
                    env=child_env(NOTIFY_SOCKET=str(notify)),
                    stdout=log,
                    stderr=log,
                    cwd=ROOT,
                )
            )
    return procs, t_spawn


class NotifyReader:
    """A fake systemd: reads every datagram at once (the kernel queues only ~10 per socket,
    and a daemon whose sd_notify times out loses that READY), counts READY=1."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.ready = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if b"READY=1" in data.split(b"\n"):
                self.ready += 1

    def wait(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.ready < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.ready

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def one_fleet(tmp: Path, n: int, events: int) -> dict[str, Any]:
    broker = Mosquitto().start()
    notify = tmp / f"notify-{n}"
    reader = NotifyReader(notify)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        consumer = Consumer(broker.port, f"siaga/v1/{SITE}/+/events", events, n, timeout=120)
        broker.stop()
        procs, t_spawn = start_devices(tmp / f"n{n}", n, events, broker.url, notify)
        ready = reader.wait(n, timeout=180)
        startup_s = time.monotonic() - t_spawn
        t_up = time.monotonic()
        broker.start()
        assert broker.proc is not None
        broker_pid = broker.proc.pid
        res = consumer.result(timeout=150)
        broker_cpu = cpu_s(broker_pid)
        alive = sum(p.poll() is None for p in procs)
        rss_kb = 0
        for p in procs:
            try:
                text = Path(f"/proc/{p.pid}/status").read_text()
                rss_kb += int(text.split("VmRSS:")[1].split()[0])
            except (OSError, IndexError):
                pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        exit_codes = []
        for p in procs:
            try:
                exit_codes.append(p.wait(30))
            except subprocess.TimeoutExpired:
                p.kill()
                exit_codes.append(p.wait(5))
        reader.close()
        broker.close()
    first, last = res.get("first_t"), res.get("last_t")
    span = (last - first) if first is not None and last is not None else float("nan")
    completes = res.get("complete_t") or []
    return {
        "devices": n,
        "events_per_device": events,
        "ready": ready,
        "startup_all_ready_s": round(startup_s, 1),
        "expected": res.get("expected"),
        "received_unique": res.get("received_unique"),
        "lost": res.get("lost"),
        "duplicates": res.get("duplicates"),
        "out_of_order": res.get("out_of_order"),
        "events_per_s": round(res.get("received_unique", 0) / span, 1) if span > 0 else None,
        "peak_events_per_s": res.get("peak_per_s"),
        "broker_up_to_first_s": round(first - t_up, 2) if first is not None else None,
        "broker_up_to_last_s": round(last - t_up, 2) if last is not None else None,
        "device_completion_spread_s": round(completes[-1] - completes[0], 2) if completes else None,
        "broker_cpu_s": round(broker_cpu, 2),
        "consumer_cpu_s": res.get("cpu_s"),
        "devices_alive_at_end": alive,
        "device_rss_mb_mean": round(rss_kb / 1024 / max(1, n), 1),
        "exit_codes_nonzero": sum(1 for c in exit_codes if c != 0),
        "per_second": res.get("per_second"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[10, 25, 50])
    ap.add_argument("--events", type=int, default=400, help="backlog per device")
    args = ap.parse_args(argv)
    runs: list[dict[str, Any]] = []
    with TemporaryDirectory(prefix="siaga-fleet-") as tmpname:
        tmp = Path(tmpname)
        for n in args.devices:
            (tmp / f"n{n}").mkdir()
            run = one_fleet(tmp, n, args.events)
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "per_second"}), flush=True)
    base = runs[0]
    rows = [
        [
            r["devices"],
            r["expected"],
            r["lost"],
            r["duplicates"],
            r["out_of_order"],
            r["events_per_s"],
            r["peak_events_per_s"],
            r["broker_up_to_last_s"],
            r["broker_cpu_s"],
            r["consumer_cpu_s"],
            r["startup_all_ready_s"],
        ]
        for r in runs
    ]
    tab = table(
        [
            "devices",
            "events",
            "lost",
            "dups",
            "out of order",
            "events/s",
            "peak 1 s",
            "broker up -> all in, s",
            "broker CPU s",
            "consumer CPU s",
            "all READY after, s",
        ],
        rows,
    )
    print(tab)
    growth = [
        {
            "devices": r["devices"],
            "x_devices": round(r["devices"] / base["devices"], 1),
            "x_events_per_s": round((r["events_per_s"] or 0) / (base["events_per_s"] or 1), 2),
            "x_recovery_time": round(
                (r["broker_up_to_last_s"] or 0) / (base["broker_up_to_last_s"] or 1), 2
            ),
        }
        for r in runs
    ]
    targets = {"zero_loss": all(r["lost"] == 0 for r in runs)}
    print("growth:", json.dumps(growth))
    print("targets:", json.dumps(targets))
    write_result(
        "bench_fleet",
        {
            "params": vars(args),
            "nproc": os.cpu_count(),
            "runs": runs,
            "growth": growth,
            "targets": targets,
        },
        {"fleet": tab},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
