"""The daemon as its own process for ``bench_writes``: its ``/proc/<pid>/io`` counts only
what the daemon writes. JSON log lines go to stdout (what journald would take); commands
come on stdin, one a line: ``low``/``high`` (the smoke contact), ``checkpoint`` (fold the
WAL into the database so both settings are compared with their checkpoints paid),
``stop``. Each command answers ``ok`` on stderr.

    python -m bench.writes_child CONFIG.toml tuned|legacy
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge import logs
from edge.clock import Clock, SystemClock
from edge.config import SiagaConfig, load_config
from edge.daemon import Daemon
from edge.outbox import LEGACY, TUNED, Outbox


def main() -> int:
    config_path, mode = Path(sys.argv[1]), sys.argv[2]
    tuning = LEGACY if mode == "legacy" else TUNED
    logs.configure("info", "json", stream=sys.stdout)
    config = load_config(config_path)

    def outbox(cfg: SiagaConfig, clock: Clock) -> Outbox:
        s = cfg.storage
        return Outbox(s.path, retain_days=s.retain_days, max_mb=s.max_mb, tuning=tuning)

    factory = MockFactory()
    daemon = Daemon(
        config, SystemClock(), pin_factory=factory, outbox_factory=outbox, control=False
    )
    thread = threading.Thread(target=daemon.run, name="daemon", daemon=True)
    thread.start()
    daemon.ready.wait(30)
    print("ready", file=sys.stderr, flush=True)
    pin = factory.pin("GPIO17")
    for line in sys.stdin:
        word = line.strip()
        if word == "low":
            pin.drive_low()
        elif word == "high":
            pin.drive_high()
        elif word == "checkpoint":
            daemon.call(lambda: daemon.outbox.db.execute("PRAGMA wal_checkpoint(PASSIVE)"))
        elif word == "stop":
            break
        print("ok", file=sys.stderr, flush=True)
    daemon.stop()
    thread.join(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
