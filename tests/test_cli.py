"""The command line: every command is offered, and the daemon carries none of the tools."""

from __future__ import annotations

import subprocess
import sys

from edge.cli import COMMANDS


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_the_daemon_command_loads_no_tool_modules() -> None:
    # Months on a Pi: the memory of rich, the console or matplotlib is not the daemon's.
    result = python(
        "import sys\n"
        "from edge.cli import build_parser\n"
        "build_parser('run')\n"
        "import edge.daemon\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('rich', 'pygments', 'matplotlib', 'tomlkit') or m.startswith('edge.console'))\n"
        "print(heavy)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_rich_still_works_after_the_logs_are_set_up() -> None:
    result = python("import edge.logs\nfrom rich.console import Console\nConsole().print('ok')\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_an_unknown_command_is_bad_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "bogus"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
