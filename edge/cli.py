"""``siaga-edge``: one console script, one module per subcommand under ``edge/commands``.

Exit codes: 0 success, 2 bad usage or invalid config, 1 any other failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from edge import __version__
from edge.commands import EXIT_FAILURE, EXIT_USAGE, early_signals
from edge.usererror import UserInputError

# name -> module in edge.commands exposing ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS = {
    "run": "the daemon",
    "check-config": "validate the config and print the effective config",
    "readings": "live table of every sensor",
    "calibrate": "sample one sensor, suggest thresholds, record a calibration point",
    "replay": "run a recorded trace through a sensor's detection",
    "drill": "feed a scenario into a running device as a drill",
    "test": "walk-test sensors, or test the siren, on a running device",
    "console": "the control room's live board",
    "demo": "a newcomer's first run: broker, simulated sensors, console",
    "schema": "print JSON Schemas and the AsyncAPI document",
    "station": "the control room's station: run, check-config, user add, export",
}


CONFIG_HELP = "config file (default $SIAGA_EDGE_CONFIG, else /etc/siaga-edge/config.toml)"


def _module(name: str) -> str:
    return "edge.commands." + name.replace("-", "_")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's module is imported.

    A command module may import heavy things (rich, matplotlib, the console): the daemon,
    started for months under systemd, should not carry the memory of every tool.
    ``-c/--config`` is accepted before the command as well as after it.
    """
    parser = argparse.ArgumentParser(
        prog="siaga-edge", description="Siaga Edge early-warning daemon and tools"
    )
    parser.add_argument("--version", action="version", version=f"siaga-edge {__version__}")
    parser.add_argument("-c", "--config", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        # SUPPRESS: a -c given before the command is not overwritten by this default.
        cmd.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
        if only is None or name == only:
            module = importlib.import_module(_module(name))
            cmd.description = module.__doc__
            cmd.formatter_class = argparse.RawDescriptionHelpFormatter
            module.add_arguments(cmd)
            cmd.set_defaults(handler=module.run)
    return parser


def _named_command(argv: Sequence[str]) -> str | None:
    """The command argv names, skipping a ``-c PATH`` before it; None if unclear."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-c", "--config"):
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    named = _named_command(args_list)
    if named == "run":
        early_signals.hold()  # before the daemon's imports: a SIGHUP now must not kill it
    parser = build_parser(named or "")  # "": names and help only
    args = parser.parse_args(args_list)
    try:
        return int(args.handler(args))
    except UserInputError as exc:  # a config, a scenario: the message says where and why
        print(f"siaga-edge: {exc.headline}\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as the Python docs advise, and
        # keep the interpreter from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
