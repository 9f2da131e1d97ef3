"""The house's layers, checked on the source: the detection core imports nothing outside
itself, and the daemon's rooms no I/O library (only the loop and the adapters do)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EDGE = Path(__file__).parents[1] / "edge"
PURE_ROOMS = ["courier", "recorder", "drills", "health", "reload", "inbound", "inbox", "core"]
IO_LIBRARIES = {"paho", "gpiozero", "socket", "sqlite3"}


def imported(path: Path) -> set[str]:
    """Every module a file imports, as written (``from x.y import z`` gives ``x.y``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (EDGE / "detect").glob("*.py") if p.name != "build.py"),
    ids=lambda p: p.name,
)
def test_the_detection_core_imports_nothing_of_the_project_outside_itself(path: Path) -> None:
    outside = {
        m for m in imported(path) if m.startswith("edge") and not m.startswith("edge.detect")
    }
    assert not outside, f"{path.name} imports {sorted(outside)}"


@pytest.mark.parametrize("room", PURE_ROOMS)
def test_a_room_of_the_daemon_imports_no_io_library(room: str) -> None:
    found = {m.split(".")[0] for m in imported(EDGE / "daemon" / f"{room}.py")}
    assert not found & IO_LIBRARIES, f"edge/daemon/{room}.py imports {sorted(found & IO_LIBRARIES)}"


def test_the_checks_see_an_import_when_there_is_one(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import sqlite3\nfrom paho.mqtt import client\nfrom edge.config import X\n")
    assert imported(probe) == {"sqlite3", "paho.mqtt", "edge.config"}
