"""The published contract: docs/schema/ and docs/mqtt-api.md must not drift from the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from edge.schema import CHANNELS, documents, payload_schema, render

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMAS = DOCS / "schema"
REGENERATE = "regenerate with: python -m edge schema --write docs/schema"
EXAMPLE = re.compile(r"<!-- example: (\w+) -->\s*```json\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("name", sorted(documents()))
def test_the_committed_schema_matches_the_models(name: str) -> None:
    path = SCHEMAS / name
    assert path.exists(), f"{path} is missing; {REGENERATE}"
    assert path.read_text(encoding="utf-8") == render(documents()[name]), (
        f"{path} differs from the models; {REGENERATE}"
    )


def test_no_schema_file_is_committed_that_the_models_no_longer_produce() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(documents())


def test_the_integrators_guide_names_every_topic_of_the_api() -> None:
    guide = (DOCS / "mqtt-api.md").read_text(encoding="utf-8")
    for _, address, *_ in CHANNELS:
        suffix = address.split("{device}/", 1)[1].replace("{sensor}", "")
        assert f"/{suffix}" in guide, f"docs/mqtt-api.md does not document {address}"


def test_every_payload_example_in_the_integrators_guide_validates() -> None:
    guide = (DOCS / "mqtt-api.md").read_text(encoding="utf-8")
    examples = EXAMPLE.findall(guide)
    assert {kind for kind, _ in examples} >= {"event", "status", "heartbeat", "ack", "resend"}
    for kind, text in examples:
        jsonschema.validate(json.loads(text), payload_schema(kind))
