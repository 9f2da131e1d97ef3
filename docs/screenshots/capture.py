"""Make the README screenshots: real terminal captures of `readings` and `console`.

Runs a private mosquitto and three simulated devices of the example config, the console
and the readings table in tmux (real terminals), drives a small story (the demo
scenario on pi-blok-a, an operator acknowledging the first alarms, a drill, pi-blok-b
stopped cleanly, pi-blok-c frozen so its heartbeat stops), captures both panes with their
colours (``tmux capture-pane -e``) and renders them to SVG with rich, then to PNG with
``rsvg-convert``.

    PYTHONPATH=. python docs/screenshots/capture.py       # needs mosquitto, tmux, rsvg-convert
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from edge.localbroker import Mosquitto

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
EXAMPLE = REPO / "edge" / "data" / "config.example.toml"
DEMO = REPO / "edge" / "data" / "demo-scenario.toml"
PY = sys.executable
SESSION = "siaga-shots"
WIDTH, HEIGHT = 150, 46

QUIET = """duration_s = 600.0
[[step]]
at_s = 1.0
sensor = "getar-pagar"
value = 0.0
"""
DRILL = """duration_s = 25.0
[[step]]
at_s = 1.0
sensor = "getar-pagar"
value = 12.0
"""


def env(work: Path, device: str, url: str) -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        {
            "PYTHONPATH": str(REPO),
            "SIAGA_MQTT__URL": url,
            "SIAGA_SITE__DEVICE": device,
            "SIAGA_STORAGE__PATH": str(work / device / "outbox.sqlite3"),
            "SIAGA_CONTROL__SOCKET": str(work / device / "control.sock"),
            "SIAGA_HEARTBEAT__INTERVAL_S": "5",
            "SIAGA_ALERTS__REPEAT_S": "30",
            "SIAGA_LOGGING__FORMAT": "json",
        }
    )
    return out


def device(work: Path, name: str, url: str, scenario: Path) -> subprocess.Popen[bytes]:
    (work / name).mkdir()
    log = (work / name / "daemon.log").open("wb")
    return subprocess.Popen(
        [PY, "-m", "edge", "run", "--simulate", str(scenario), "-c", str(EXAMPLE)],
        env=env(work, name, url),
        stdout=log,
        stderr=log,
    )


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture(pane: str, name: str, title: str) -> None:
    ansi = tmux("capture-pane", "-e", "-p", "-t", pane)
    console = Console(
        record=True,
        width=WIDTH,
        force_terminal=True,
        color_system="truecolor",
        file=io.StringIO(),
    )
    console.print(Text.from_ansi(ansi.rstrip("\n")), crop=True, overflow="crop")
    svg = OUT / f"{name}.svg"
    console.save_svg(str(svg), title=title)
    subprocess.run(
        ["rsvg-convert", "--zoom", "1.0", "-o", str(OUT / f"{name}.png"), str(svg)], check=True
    )
    svg.unlink()
    print(f"wrote {OUT / name}.png")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="siaga-shots-"))
    broker = Mosquitto().start()
    url = broker.url
    quiet = work / "quiet.toml"
    quiet.write_text(QUIET)
    drill = work / "latihan-pagar.toml"
    drill.write_text(DRILL)
    a_env = env(work, "pi-blok-a", url)
    shell_env = " ".join(
        f"{k}={v}" for k, v in a_env.items() if k.startswith("SIAGA_") or k == "PYTHONPATH"
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], check=False, capture_output=True)
        console_cmd = (
            f"cd {REPO} && env PYTHONPATH={REPO} XDG_STATE_HOME={work} {PY} -m edge console "
            f"--broker {url} --ack-as 'Bripka Sari' --client-id control-room-1"
        )
        tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), console_cmd)
        time.sleep(1.5)
        procs.append(device(work, "pi-blok-c", url, quiet))
        procs.append(device(work, "pi-blok-b", url, quiet))
        time.sleep(1.0)
        procs.append(device(work, "pi-blok-a", url, DEMO))
        time.sleep(12.0)
        tmux("send-keys", "-t", SESSION, "a")  # the operator acknowledges what is open
        time.sleep(3.0)
        procs[1].send_signal(signal.SIGTERM)  # pi-blok-b stops cleanly: offline
        procs[0].send_signal(signal.SIGSTOP)  # pi-blok-c hangs: silent, its Will not yet due
        time.sleep(14.0)
        subprocess.run(
            [PY, "-m", "edge", "drill", str(drill), "-c", str(EXAMPLE), "--detach"],
            env=a_env,
            check=True,
            capture_output=True,
        )
        readings_cmd = f"cd {REPO} && env {shell_env} {PY} -m edge readings -c {EXAMPLE}"
        tmux("new-window", "-t", SESSION, "-n", "readings", readings_cmd)
        time.sleep(16.0)
        capture(f"{SESSION}:0", "console", "siaga-edge console --ack-as 'Bripka Sari'")
        capture(f"{SESSION}:readings", "readings", "siaga-edge readings")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], check=False, capture_output=True)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
        broker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
