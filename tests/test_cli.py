"""The command line: every command is offered, and the daemon carries none of the tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools_support import cli, write_config

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


def test_a_bad_scenario_is_a_usage_error_naming_where_for_every_command(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text('duration_s = 5.0\n[[step]]\nat_s = 0.0\nsensor = "gas-1"\nvalue = "x"\n')
    for command in (["run"], ["readings", "--once"], ["calibrate", "gas-1", "--seconds", "1"]):
        result = cli(*command, "-c", str(config), "--simulate", str(bad))
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert f"siaga-edge: invalid scenario\n{bad}: step[0](gas-1).value: " in result.stderr


def test_a_refresh_interval_or_count_that_makes_no_sense_is_a_usage_error(
    tmp_path: Path,
) -> None:
    config = str(write_config(tmp_path))
    for option, value in (("--interval", "-1"), ("--interval", "nan"), ("--count", "0")):
        result = cli("readings", "-c", config, option, value)
        assert result.returncode == 2, (option, value, result.stderr)
        assert f"argument {option}:" in result.stderr
