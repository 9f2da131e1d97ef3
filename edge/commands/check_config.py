"""Validate the config and print the effective config (environment overrides applied).

Exit 0 when it would run, 2 when it would not: every problem names the file, the field
path and the reason. Secret files are checked (present, not world-readable) but their
contents are never printed.
"""

from __future__ import annotations

import argparse
import json

from edge import lint
from edge.config import ConfigError, config_path, load_config
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
    lint.report(config)  # likely mistakes, as warnings on stderr; still exit 0
    if not args.quiet:
        print(f"# {path}: valid")
        print(json.dumps(config.redacted(), indent=2, ensure_ascii=False))
    return 0
