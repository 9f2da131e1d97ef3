"""A reload or stop asked for while the daemon is still starting is kept, not fatal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from edge.commands import early_signals


@pytest.fixture
def restored() -> Iterator[None]:
    before = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


def test_a_sighup_before_the_daemon_listens_is_kept_for_it(restored: None) -> None:
    early_signals.hold()
    os.kill(os.getpid(), signal.SIGHUP)  # would end the process by default
    os.kill(os.getpid(), signal.SIGHUP)
    os.kill(os.getpid(), signal.SIGTERM)
    assert early_signals.held() == [signal.SIGHUP, signal.SIGTERM]
    assert early_signals.held() == []


def test_a_sighup_while_the_run_command_imports_the_daemon_does_not_end_it() -> None:
    # The signal lands exactly where it used to kill: after start, before the daemon's
    # imports and handlers. `run --help` then ends the process normally.
    code = (
        "import os, signal, sys\n"
        "import edge.cli as cli\n"
        "build = cli.build_parser\n"
        "def sighup_first(name):\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "    return build(name)\n"
        "cli.build_parser = sighup_first\n"
        "sys.exit(cli.main(['run', '--help']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert result.returncode == 0, (result.returncode, result.stderr)
