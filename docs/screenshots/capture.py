"""Make the README screenshots: real terminal captures of `readings` and `console`.

Runs a private mosquitto and three simulated devices of the example config, the console
and the readings table in tmux (real terminals), drives a small story (the demo
scenario on pi-blok-a, an operator acknowledging the first alarms, a drill, pi-blok-b
stopped cleanly, pi-blok-c frozen so its heartbeat stops), captures both panes with their
colours (``tmux capture-pane -e``) and renders them straight to PNG with Pillow: rich
parses the ANSI into styled cells, and every cell is drawn at (column, row) of an exact
character grid in DejaVu Sans Mono, so box-drawing borders line up on every row (an SVG
renderer's font advance need not match the width rich assumes). Dark palette: rich's
SVG export theme; truecolour passes through. A simple window frame carries the title.

    PYTHONPATH=. python docs/screenshots/capture.py       # needs mosquitto, tmux, Pillow
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

from PIL import Image, ImageDraw, ImageFont
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.style import Style
from rich.terminal_theme import SVG_EXPORT_THEME, TerminalTheme
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


FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_SIZE = 20
THEME: TerminalTheme = SVG_EXPORT_THEME
RGB = tuple[int, int, int]


def font(name: str, size: int = FONT_SIZE) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


FONTS = {
    (False, False): font("DejaVuSansMono.ttf"),
    (True, False): font("DejaVuSansMono-Bold.ttf"),
    (False, True): font("DejaVuSansMono-Oblique.ttf"),
    (True, True): font("DejaVuSansMono-BoldOblique.ttf"),
}
ASCENT, DESCENT = FONTS[False, False].getmetrics()
CELL_W = round(FONTS[False, False].getlength("M"))  # 12 px at 20 px: advance 12.05
CELL_H = ASCENT + DESCENT  # box-drawing glyphs span exactly ascent..descent


def rgb(color: Color | None, foreground: bool) -> RGB:
    if color is None:
        triplet = THEME.foreground_color if foreground else THEME.background_color
    else:
        triplet = color.get_truecolor(THEME, foreground=foreground)
    return (triplet.red, triplet.green, triplet.blue)


def blend(a: RGB, b: RGB, alpha: float) -> RGB:
    return tuple(round(x * alpha + y * (1 - alpha)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def cells(ansi: str) -> list[list[tuple[str, int, Style]]]:
    """The captured pane as rows of (text, cell width, style), one entry per cell run."""
    console = Console(
        width=WIDTH,
        force_terminal=True,
        color_system="truecolor",
        file=io.StringIO(),
        legacy_windows=False,
    )
    text = Text.from_ansi(ansi.rstrip("\n"), no_wrap=True, overflow="crop")
    options = console.options.update(width=WIDTH, no_wrap=True, overflow="crop")
    rows: list[list[tuple[str, int, Style]]] = []
    for line in console.render_lines(text, options, pad=False, new_lines=False):
        row: list[tuple[str, int, Style]] = []
        for segment in line:
            if segment.control:
                continue
            style = segment.style or Style.null()
            for char in segment.text:
                width = cell_len(char)
                if width == 0 and row:  # a combining mark joins the cell before it
                    prev, prev_w, prev_style = row[-1]
                    row[-1] = (prev + char, prev_w, prev_style)
                elif width:
                    row.append((char, width, style))
        rows.append(row)
    while rows and all(char == " " and not style.bgcolor for char, _, style in rows[-1]):
        rows.pop()
    return rows


def render(ansi: str, title: str, path: Path) -> tuple[int, int]:
    """Draw the pane on an exact character grid inside a window frame; returns the size."""
    rows = cells(ansi)
    margin, pad, bar = 12, 14, 40
    grid_w, grid_h = WIDTH * CELL_W, len(rows) * CELL_H
    win_w, win_h = grid_w + 2 * pad, bar + grid_h + pad
    image = Image.new("RGBA", (win_w + 2 * margin, win_h + 2 * margin), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    background = rgb(None, foreground=False)
    draw.rounded_rectangle(
        (margin, margin, margin + win_w - 1, margin + win_h - 1),
        radius=10,
        fill=background,
        outline=blend((255, 255, 255), background, 0.35),
        width=1,
    )
    for i, dot in enumerate(((255, 95, 87), (254, 188, 46), (40, 200, 64))):
        cx, cy = margin + 22 + i * 22, margin + bar // 2
        draw.ellipse((cx - 7, cy - 7, cx + 7, cy + 7), fill=dot)
    draw.text(
        (margin + win_w / 2, margin + bar / 2),
        title,
        font=font("DejaVuSans-Bold.ttf", 18),
        fill=rgb(None, foreground=True),
        anchor="mm",
    )
    x0, y0 = margin + pad, margin + bar
    for r, row in enumerate(rows):
        col = 0
        for char, width, style in row:
            fg = rgb(style.color, foreground=True)
            bg = rgb(style.bgcolor, foreground=False)
            if style.reverse:
                fg, bg = bg, fg
            if style.dim:
                fg = blend(fg, bg, 0.6)
            x, y = x0 + col * CELL_W, y0 + r * CELL_H
            w = width * CELL_W
            if bg != background or style.reverse:
                draw.rectangle((x, y, x + w - 1, y + CELL_H - 1), fill=bg)
            if not char.isspace():
                glyph = FONTS[bool(style.bold), bool(style.italic)]
                draw.text((x + w / 2, y + ASCENT), char, font=glyph, fill=fg, anchor="ms")
            if style.underline:
                draw.line((x, y + ASCENT + 2, x + w - 1, y + ASCENT + 2), fill=fg, width=1)
            if style.strike:
                mid = y + ASCENT - round(FONT_SIZE * 0.3)
                draw.line((x, mid, x + w - 1, mid), fill=fg, width=1)
            col += width
    image.save(path)
    return image.size


def capture(pane: str, name: str, title: str) -> None:
    ansi = tmux("capture-pane", "-e", "-p", "-t", pane)
    path = OUT / f"{name}.png"
    w, h = render(ansi, title, path)
    print(f"wrote {path} ({w}x{h})")


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
