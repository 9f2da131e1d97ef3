"""``station report shift|drill``: the shift handover and a drill's report, read from the
archive (the same builders as the board's printable pages). ``--json`` prints the report
as one JSON document; without it, a short text summary."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE


def add_arguments(report: argparse.ArgumentParser, config_help: str) -> None:
    sub = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    shift = sub.add_parser("shift", help="the shift handover: open alarms, notes, who was on")
    shift.add_argument("-c", "--config", default=argparse.SUPPRESS, help=config_help)
    shift.add_argument("--since", metavar="ISO8601", help="shift start (default: 8 h ago)")
    shift.add_argument("--until", metavar="ISO8601", help="shift end (default: now)")
    shift.add_argument("--json", action="store_true", help="the report as JSON")
    drill = sub.add_parser("drill", help="a drill's response times, per alarm")
    drill.add_argument("-c", "--config", default=argparse.SUPPRESS, help=config_help)
    drill.add_argument("drill_id", metavar="ID", nargs="?", help="the drill's id (none: list them)")
    drill.add_argument("--json", action="store_true", help="the report as JSON")


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"siaga-edge: {name} {value!r}: not an ISO 8601 time") from None
    if stamp.tzinfo is None:
        raise SystemExit(f"siaga-edge: {name} needs a time zone (Z or +07:00)")
    return stamp.timestamp()


def run(args: argparse.Namespace, config: Any) -> int:
    from edge.station.archive import Archive, ArchiveDownError
    from edge.station.web import reporting
    from edge.station.web.queries import BoardQueries

    try:
        since = _time(getattr(args, "since", None), "--since")
        until = _time(getattr(args, "until", None), "--until")
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        archive = Archive(config.database.url).open()
    except ArchiveDownError as exc:
        print(f"siaga-edge: the database cannot be opened: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        q = BoardQueries(archive)
        now = time.time()
        if args.report_command == "shift":
            report: Any = reporting.shift(q, config, now, since, until)
        elif args.drill_id is None:
            report = reporting.drills(q, now)
        else:
            report = reporting.drill(q, args.drill_id, now)
            if report is None:
                print(f"siaga-edge: no drill {args.drill_id!r}", file=sys.stderr)
                return EXIT_FAILURE
    finally:
        archive.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(_text(args.report_command, args, report))
    return EXIT_OK


def _text(kind: str, args: argparse.Namespace, report: Any) -> str:
    if kind == "shift":
        who = ", ".join(p["name"] for p in report["on_shift"]) or "-"
        return (
            f"{report['station']}: shift {report['since']} .. {report['until']}\n"
            f"open, unacknowledged: {len(report['open'])}\n"
            f"acknowledged, not closed: {len(report['acknowledged_not_closed'])}\n"
            f"closed in the shift: {len(report['closed_in_shift'])}\n"
            f"silent or offline sites: {len(report['silent_sites'])}\n"
            f"drills: {len(report['drills'])}; notes: {len(report['notes'])}; on shift: {who}"
        )
    if args.drill_id is None:
        return "\n".join(
            "\t".join((d["id"], f"{d['site']}/{d['device']}", d["started_at"], d["name"]))
            + f"\t{d['alarms']} alarms"
            for d in report
        )
    lines = [
        f"drill {report['drill']['name']} ({report['drill']['site']}/{report['drill']['device']})"
    ]
    for a in report["alarms"]:
        parts = [a["sensor"]]
        for key in ("first_view", "ack", "confirmed", "close"):
            step = a[key]
            parts.append(
                f"{key} " + ("-" if step is None else f"{step['after_s']} s by {step['by']}")
            )
        lines.append("  " + "; ".join(parts))
    return "\n".join(lines)
