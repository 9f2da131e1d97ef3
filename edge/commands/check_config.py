"""Validate the config and print the effective config (environment overrides applied).

Exit 0 when it would run, 2 when it would not: every problem names the file, the field
path and the reason. An alarm that can never fire (a threshold above the sensor face or
beyond fault.max, a calibration in volts, a sensor with no alarm at all) is such a
problem. Secret files are checked (present; the password file and the TLS key not
world-readable) but their contents are never printed.

Likely mistakes that would still run are warnings (edge/lint.py): they are printed
before the effective config and again at the end, above the last line, which is
``valid, N warnings``, so they do not scroll away.
"""

from __future__ import annotations

import argparse
import json
import sys

from edge import lint
from edge.config import ConfigError, config_path, load_config, read_toml
from edge.mqtt import SecretError, read_password


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print nothing when valid")


def run(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    config = load_config(path)
    problems: list[tuple[str, str]] = []
    mqtt = config.mqtt
    if mqtt.password_file is not None:
        try:
            read_password(mqtt.password_file)
        except SecretError as exc:
            problems.append(("mqtt.password_file", str(exc)))
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(mqtt, name)
        if file is not None and not file.exists():
            problems.append((f"mqtt.{name}", f"{file} does not exist"))
    if problems:
        raise ConfigError(path, problems)
    try:
        data = read_toml(path)
    except (OSError, UnicodeDecodeError, ConfigError):
        data = {}  # load_config read it a moment ago; the file's own warnings are a bonus
    warnings = lint.all_warnings(config, data)  # likely mistakes; still exit 0
    if not args.quiet:
        _warn(warnings)
        print(f"# {path}: valid")
        print(json.dumps(config.redacted(), indent=2, ensure_ascii=False), flush=True)
    _warn(warnings)  # again at the end: the effective config must not scroll them away
    if warnings or not args.quiet:
        print(lint.summary(len(warnings)), file=sys.stderr)
    return 0


def _warn(warnings: list[lint.LintWarning]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
