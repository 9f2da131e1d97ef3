"""The control room's station: ``run``, ``check-config``, ``user add``, ``export``.

``-c STATION.toml`` (default $SIAGA_STATION_CONFIG, else /etc/siaga-edge/station.toml).
Needs the extra ``siaga-edge[station]`` (web server, database client, password hashing);
the device never installs it. Exit codes: 0, 2 (bad usage or config: file, field,
reason), 1 (anything else, e.g. the database cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

ROLES = ("viewer", "operator", "admin")
DEFAULT_CONFIG = "/etc/siaga-edge/station.toml"
MISSING_EXTRA = (
    "siaga-edge: the station needs its extra: pip install 'siaga-edge[station]' ({error})"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="station_command", metavar="COMMAND", required=True)
    config_help = "station config (default $SIAGA_STATION_CONFIG, else " + DEFAULT_CONFIG + ")"

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("-c", "--config", default=argparse.SUPPRESS, help=config_help)
        return cmd

    command("run", "the service: ingest, archive, alarms, resend, HTTP API")
    check = command("check-config", "validate and print the effective config (secrets redacted)")
    check.add_argument("--quiet", action="store_true", help="print nothing when valid")
    user = command("user", "operator accounts")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser("add", help="create or update an account; password on stdin")
    add.add_argument("-c", "--config", default=argparse.SUPPRESS, help=config_help)
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    export = command("export", "every archived event, by site, device, seq")
    export.add_argument("--since", metavar="ISO8601", help="received at or after this time")
    export.add_argument("--json", action="store_true", help="each event's payload plus received_at")
    from edge.commands import station_report

    station_report.add_arguments(command("report", "shift handover, drill reports"), config_help)


def run(args: argparse.Namespace) -> int:
    from edge.station.config import load_station_config

    config = load_station_config(getattr(args, "config", None))
    handler = {
        "run": _run,
        "check-config": _check,
        "user": _user,
        "export": _export,
        "report": _report,
    }[args.station_command]
    try:
        return handler(args, config)
    except ModuleNotFoundError as exc:
        print(MISSING_EXTRA.format(error=exc), file=sys.stderr)
        return EXIT_FAILURE


def _check(args: argparse.Namespace, config: Any) -> int:
    from edge.config import ConfigError
    from edge.mqtt import SecretError, read_password
    from edge.station.config import station_config_path

    path = station_config_path(getattr(args, "config", None))
    problems = []
    if config.mqtt.password_file is not None:
        try:
            read_password(config.mqtt.password_file)
        except SecretError as exc:
            problems.append(("mqtt.password_file", str(exc)))
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(config.mqtt, name)
        if file is not None and not file.exists():
            problems.append((f"mqtt.{name}", f"{file} does not exist"))
    if problems:
        raise ConfigError(path, problems)
    if not args.quiet:
        print(f"# {path}: valid")
        print(json.dumps(config.redacted(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _run(args: argparse.Namespace, config: Any) -> int:
    from edge import logs
    from edge.mqtt import SecretError
    from edge.station.service import StationService

    logs.configure(config.logging.level, config.logging.format)
    try:
        service = StationService(config)
    except SecretError as exc:
        print(f"siaga-edge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.stop())
    return service.run()


def _open(config: Any) -> Any:
    from edge.station.archive import Archive, ArchiveDownError

    try:
        return Archive(config.database.url).open()
    except ArchiveDownError as exc:
        print(f"siaga-edge: the database cannot be opened: {exc}", file=sys.stderr)
        return None


def _user(args: argparse.Namespace, config: Any) -> int:
    import re
    import time

    from edge.station.accounts import MIN_PASSWORD, NAME_PATTERN, Accounts, Role

    if not re.fullmatch(NAME_PATTERN, args.name):
        print(
            f"siaga-edge: {args.name!r}: a name of letters, digits, space . _ @ - (at most 64)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        print("siaga-edge: give the password as one line on standard input", file=sys.stderr)
        return EXIT_USAGE
    if len(password) < MIN_PASSWORD:
        print(
            f"siaga-edge: password: at least {MIN_PASSWORD} characters (got {len(password)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    archive = _open(config)
    if archive is None:
        return EXIT_FAILURE
    try:
        new = Accounts(archive).add(args.name, Role(args.role), password, time.time())
    finally:
        archive.close()
    print(f"{'created' if new else 'updated'} {args.name} ({args.role})")
    return EXIT_OK


def _report(args: argparse.Namespace, config: Any) -> int:
    from edge.commands import station_report

    return station_report.run(args, config)


def _export(args: argparse.Namespace, config: Any) -> int:
    from datetime import datetime

    if args.since is not None:
        try:
            stamp = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            print(f"siaga-edge: --since {args.since!r}: not an ISO 8601 time", file=sys.stderr)
            return EXIT_USAGE
        from edge.clock import iso_ms

        if stamp.tzinfo is None:
            print("siaga-edge: --since needs a time zone (Z or +07:00)", file=sys.stderr)
            return EXIT_USAGE
        since: str | None = iso_ms(stamp.timestamp())
    else:
        since = None
    archive = _open(config)
    if archive is None:
        return EXIT_FAILURE
    out = sys.stdout
    try:
        for event in archive.export(since):
            if args.json:
                out.write(json.dumps(event, ensure_ascii=False) + "\n")
            else:
                out.write(
                    "\t".join(
                        str(event.get(k, ""))
                        for k in ("site", "device", "seq", "id", "ts", "sensor", "state")
                    )
                    + "\t"
                    + str(event.get("message", ""))
                    + "\n"
                )
    finally:
        archive.close()
    return EXIT_OK
