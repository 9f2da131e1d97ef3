"""Walk test and siren test on the running daemon (commissioning, maintenance).

``siaga-edge test SENSOR… [--minutes N]`` (or ``all``) puts sensors in test for a bounded
time (default 30 min, at most 240): walk the site and set each one off. Their events
carry ``"test": true`` and say UJI / TEST; they never sound the siren, are never
repeated, need no ack and are never the sensor's retained real state, so the police see
a test, not an emergency. The test's start and end are audited events of the device
(``_device``, reason ``test``). It ends by itself; ``--stop [SENSOR…]`` ends it early,
``--status`` lists what is in test.

``siaga-edge test --siren SECONDS`` sounds the siren and blinks the status LED for that
long (at most 60 s) so the wiring can be checked; the real state is shown again after.

Both talk to the daemon over its local control socket (as ``drill`` does): without a
running daemon nothing is tested and the command says so. Exit 0 done, 2 bad usage or
config, 1 no daemon or refused.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, argtypes
from edge.config import config_path, load_config
from edge.control import ControlClient, ControlError, NoDaemonError
from edge.outputs import MAX_SIREN_TEST_S
from edge.walktest import ALL, DEFAULT_MINUTES, MAX_MINUTES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sensors", metavar="SENSOR", nargs="*", help="sensor ids, or all")
    parser.add_argument(
        "--minutes",
        type=argtypes.positive,
        default=DEFAULT_MINUTES,
        metavar="N",
        help=f"how long the walk test lasts (default {DEFAULT_MINUTES:g}, at most {MAX_MINUTES:g})",
    )
    parser.add_argument(
        "--siren",
        type=argtypes.seconds,
        metavar="SECONDS",
        help=f"sound the siren and blink the LED this long (at most {MAX_SIREN_TEST_S:g})",
    )
    parser.add_argument("--stop", action="store_true", help="end the walk test now")
    parser.add_argument("--status", action="store_true", help="list the sensors in test")


def run(args: argparse.Namespace) -> int:
    config = load_config(config_path(args.config))
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    site = f"{config.site.id}/{config.site.device}"
    modes = sum((args.siren is not None, args.stop, args.status))
    if modes > 1 or (args.siren is not None and args.sensors):
        err.print("siaga-edge test: give sensors, or one of --siren, --stop, --status")
        return EXIT_USAGE
    if modes == 0 and not args.sensors:
        err.print("siaga-edge test: name the sensors to test (or all), or give --siren SECONDS")
        return EXIT_USAGE
    known = [s.id for s in config.sensors]
    unknown = [s for s in args.sensors if s != ALL and s not in known]
    if unknown:
        err.print(
            f"siaga-edge test: no sensor {', '.join(map(repr, unknown))} in the config "
            f"(known: {', '.join(known)})",
            markup=False,
        )
        return EXIT_USAGE
    if args.siren is not None and args.siren > MAX_SIREN_TEST_S:
        err.print(f"siaga-edge test: --siren lasts at most {MAX_SIREN_TEST_S:g} s")
        return EXIT_USAGE
    if args.minutes > MAX_MINUTES:
        err.print(f"siaga-edge test: --minutes is at most {MAX_MINUTES:g}")
        return EXIT_USAGE
    try:
        with ControlClient(config.control.socket) as client:
            if args.siren is not None:
                answer = client.request("siren_test", seconds=args.siren)
                err.print(
                    f"[bold magenta]UJI / TEST[/] siren and status LED on {site} for "
                    f"{answer.get('seconds', args.siren):g} s"
                )
            elif args.stop:
                answer = client.request("walk_test_stop", sensors=args.sensors)
                ended = answer.get("sensors") or []
                err.print(f"walk test ended: {', '.join(ended) or 'nothing was in test'}")
            elif args.status:
                answer = client.request("walk_test_status")
                _status(out, answer.get("sensors") or [])
            else:
                answer = client.request(
                    "walk_test_start", sensors=args.sensors, minutes=args.minutes
                )
                until = time.strftime(
                    "%H:%M", time.localtime(time.time() + float(answer["remaining_s"]))
                )
                err.print(
                    f"[bold magenta]UJI / TEST[/] walk test on {site}: "
                    f"{', '.join(answer['sensors'])} until {until} ({args.minutes:g} min). "
                    "Their events say UJI/TEST, sound no siren and need no ack; it ends by "
                    "itself (or: siaga-edge test --stop)"
                )
    except NoDaemonError as exc:
        err.print(
            f"siaga-edge test: {exc}; a test runs on the running daemon, and none runs "
            "with this config (start it: sudo systemctl start siaga-edge)",
            markup=False,
        )
        return EXIT_FAILURE
    except ControlError as exc:
        err.print(f"siaga-edge test: {exc}", markup=False)
        return EXIT_FAILURE
    return EXIT_OK


def _status(out: Console, rows: list[dict[str, object]]) -> None:
    if not rows:
        out.print("no sensor is in test")
        return
    for row in rows:
        remaining = float(str(row.get("remaining_s", 0)))
        out.print(
            f"{row['sensor']:<16} in test, {remaining / 60:.1f} min left (by {row.get('by')})"
        )
