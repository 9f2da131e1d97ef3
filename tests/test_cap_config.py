"""The [cap] table, [[cap.push]] partners and [[cap.feeds]]: refused with the field and why."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from edge.cap.config import CapConfig, PushTarget


def _cap(**fields: Any) -> CapConfig:
    return CapConfig.model_validate({"sender": "siaga@polresta-banyuwangi", **fields})


def test_the_defaults_are_a_restricted_feed_in_western_indonesia_time() -> None:
    cap = _cap()
    assert (cap.scope, cap.timezone, cap.expires_h, cap.feed_limit) == (
        "Restricted",
        "Asia/Jakarta",
        6.0,
        50,
    )
    assert cap.restriction and cap.push == [] and cap.feeds == []


@pytest.mark.parametrize(
    ("fields", "where", "why"),
    [
        ({"sender": "siaga polresta"}, "sender", "no spaces"),
        ({"timezone": "Asia/Bandung"}, "timezone", "unknown time zone"),
        ({"scope": "Private"}, "", "needs addresses"),
        ({"public_url": "ftp://x"}, "public_url", "not an http"),
        ({"alarm_path": "/alarms"}, "alarm_path", "{alarm_id}"),
        ({"push": [{"url": "https://a.test/cap"}, {"url": "https://a.test/x"}]}, "", "share"),
    ],
)
def test_a_bad_cap_table_names_the_field_and_the_reason(
    fields: dict[str, Any], where: str, why: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _cap(**fields)
    error = info.value.errors()[0]
    assert where in ".".join(str(p) for p in error["loc"])
    assert why in error["msg"]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"auth": "basic", "username": "u"}, "needs username and password_file"),
        ({"auth": "bearer"}, "needs token_file"),
        ({"backoff_s": 10, "backoff_max_s": 5}, "below backoff_s"),
        ({"url": "partner.test/cap"}, "not an http"),
        ({"timeout_s": 0}, "greater than 0"),
    ],
)
def test_a_bad_push_partner_is_refused(fields: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        PushTarget.model_validate({"url": "https://partner.test/cap", **fields})


def test_a_partner_is_named_by_its_host_unless_named() -> None:
    assert PushTarget(url="https://pusdalops.bpbd.test/cap").key == "pusdalops.bpbd.test"
    assert PushTarget(name="bpbd", url="https://pusdalops.bpbd.test/cap").key == "bpbd"


def test_the_whole_table_reads_from_toml() -> None:
    import tomllib

    text = """
    [cap]
    sender = "siaga@polresta-banyuwangi"
    scope = "Restricted"
    public_url = "https://siaga.polresta.example"
    geocode = [{ name = "BPS", value = "3510" }]

    [[cap.push]]
    name = "bpbd"
    url = "https://pusdalops.bpbd.example/cap/inbox"
    auth = "bearer"
    token_file = "/etc/siaga-edge/bpbd.token"

    [[cap.feeds]]
    name = "BMKG gempa"
    url = "https://data.bmkg.example/gempa.xml"
    """
    cap = CapConfig.model_validate(tomllib.loads(text)["cap"])
    assert cap.push[0].auth == "bearer" and cap.feeds[0].interval_s == 300
    assert cap.geocode[0].value == "3510"
