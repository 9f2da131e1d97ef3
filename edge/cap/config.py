"""The station config's ``[cap]`` table, its ``[[cap.push]]`` partners and ``[[cap.feeds]]``
read-back sources: pydantic models the station config includes as its ``cap`` field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from edge.cap.model import FORBIDDEN_IN_ID
from edge.config import FieldProblemError, Strict

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
DEFAULT_RESTRICTION = (
    "Hanya untuk instansi mitra (kepolisian, lapas, damkar, BPBD, BMKG); "
    "partner agencies only, not for public broadcast"
)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


class Geocode(Strict):
    """A CAP geocode: a code system's name and the area's code in it (e.g. the BPS
    region code of the regency)."""

    name: str = Field(min_length=1, description="valueName, e.g. 'BPS' or 'ADM2'")
    value: str = Field(min_length=1, description="The area's code, e.g. '3510'")


class PushTarget(Strict):
    """One partner that wants every alert POSTed to it, in order, as it is issued."""

    name: str = Field(
        default="",
        description="Key of this partner's queue and its name on the board; default: the "
        "URL's host. Renaming it starts a new, empty queue.",
    )
    url: str = Field(description="Where each alert is POSTed (http:// or https://)")
    auth: Literal["none", "basic", "bearer"] = "none"
    username: str | None = Field(default=None, description="For auth = 'basic'")
    password_file: Path | None = Field(default=None, description="For auth = 'basic'")
    token_file: Path | None = Field(
        default=None, description="For auth = 'bearer': the token, read at every attempt"
    )
    content_type: str = "application/cap+xml"
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    backoff_s: float = Field(default=5.0, gt=0, description="First retry after about this")
    backoff_max_s: float = Field(default=600.0, gt=0, description="Retries never wait longer")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @model_validator(mode="after")
    def _auth_fields(self) -> PushTarget:
        if self.auth == "basic" and (self.username is None or self.password_file is None):
            raise FieldProblemError(
                "username" if self.username is None else "password_file",
                "auth = 'basic' needs username and password_file",
            )
        if self.auth == "bearer" and self.token_file is None:
            raise FieldProblemError("token_file", "auth = 'bearer' needs token_file")
        if self.backoff_max_s < self.backoff_s:
            raise FieldProblemError("backoff_max_s", "must not be below backoff_s")
        if self.name and not re.match(NAME, self.name):
            raise FieldProblemError("name", "letters, digits, '_', '.', '-' only")
        return self

    @property
    def key(self) -> str:
        return self.name or (urlsplit(self.url).hostname or self.url)


class FeedSource(Strict):
    """A CAP feed the station reads back for the board's banner (e.g. BMKG's)."""

    name: str = Field(min_length=1, description="Shown on the banner as the source")
    url: str = Field(description="Atom or RSS of CAP alerts, or one CAP alert")
    interval_s: float = Field(default=300.0, ge=10)
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_alerts: int = Field(default=20, ge=1, le=200, description="Linked alerts read per poll")
    max_bytes: int = Field(default=2_000_000, ge=1024, description="Larger answers are refused")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class CapConfig(Strict):
    """``[cap]``: how the station's alerts are addressed, timed and placed."""

    sender: str = Field(
        default="siaga@station",
        min_length=1,
        description="CAP sender, e.g. 'siaga@polresta-banyuwangi'; set it: partners key on it",
    )
    scope: Literal["Public", "Restricted", "Private"] = "Restricted"
    restriction: str = Field(
        default=DEFAULT_RESTRICTION, description="Who may see alerts (scope = Restricted)"
    )
    addresses: str | None = Field(
        default=None, description="Space-separated recipients; required for scope = Private"
    )
    timezone: str = Field(
        default="Asia/Jakarta", description="The station's zone: CAP times carry its offset"
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL partners reach the station at (for 'web' and the feed); "
        "default: the http listen address",
    )
    alarm_path: str = Field(
        default="/alarms/{alarm_id}", description="The alarm's page under public_url"
    )
    radius_km: float = Field(default=0.5, gt=0, le=500, description="Circle around a site")
    geocode: list[Geocode] = Field(default_factory=list, description="Every area's geocodes")
    site_geocode: dict[str, list[Geocode]] = Field(
        default_factory=dict, description="Per site id: geocodes replacing 'geocode'"
    )
    expires_h: float = Field(
        default=6.0, gt=0, le=720, description="An alert or update is valid this long"
    )
    feed_limit: int = Field(default=50, ge=1, le=1000, description="Entries in feed.atom")
    push: list[PushTarget] = Field(default_factory=list)
    feeds: list[FeedSource] = Field(default_factory=list)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if FORBIDDEN_IN_ID.search(value):
            raise ValueError("no spaces, commas, '<' or '&' (CAP 1.2 sender)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Asia/Jakarta')") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value).rstrip("/")

    @field_validator("alarm_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or "{alarm_id}" not in value:
            raise ValueError("a path starting with '/' containing {alarm_id}")
        return value

    @model_validator(mode="after")
    def _scope(self) -> CapConfig:
        if self.scope == "Private" and not self.addresses:
            raise FieldProblemError("addresses", "scope = 'Private' needs addresses")
        keys = [p.key for p in self.push]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise FieldProblemError("push", f"two partners share the name {dupes[0]!r}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
