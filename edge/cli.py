"""``siaga-edge``: one console script, one module per subcommand under ``edge/commands``.

Exit codes: 0 success, 2 bad usage or invalid config, 1 any other failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from edge import __version__
from edge.config import ConfigError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# name -> module in edge.commands exposing ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS = {
    "run": "the daemon",
    "check-config": "validate the config and print the effective config",
    "readings": "live table of every sensor",
    "calibrate": "sample one sensor, suggest thresholds, record a calibration point",
    "replay": "run a recorded trace through a sensor's detection",
    "drill": "feed a scenario into a running device as a drill",
    "console": "the control room's live board",
    "demo": "a newcomer's first run: broker, simulated sensors, console",
    "schema": "print JSON Schemas and the AsyncAPI document",
}


def _module(name: str) -> str:
    return "edge.commands." + name.replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siaga-edge", description="Siaga Edge early-warning daemon and tools"
    )
    parser.add_argument("--version", action="version", version=f"siaga-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != _module(name):
                raise
            continue  # a command not built yet is simply not offered
        cmd = sub.add_parser(name, help=help_text, description=module.__doc__)
        cmd.add_argument(
            "-c",
            "--config",
            help="config file (default $SIAGA_EDGE_CONFIG, else /etc/siaga-edge/config.toml)",
        )
        module.add_arguments(cmd)
        cmd.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"siaga-edge: invalid config\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILURE
