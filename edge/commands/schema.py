"""Print the JSON Schemas of the config and every MQTT payload, and the AsyncAPI document.

With ``--write DIR`` the documents are written as files instead (docs/schema/ in the
repository holds the committed copy).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.schema import documents, write_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write", metavar="DIR", type=Path, help="write one file per document")


def run(args: argparse.Namespace) -> int:
    if args.write:
        for path in write_all(args.write):
            print(path)
        return 0
    print(json.dumps(documents(), indent=2, sort_keys=True, ensure_ascii=False))
    return 0
