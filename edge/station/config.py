"""The station's config (``station.toml``): one pydantic-settings model, validated in full.

Environment variables override the file as ``SIAGA_STATION_<SECTION>__<FIELD>``. A bad
config is refused with the file, the field path and the reason (:class:`ConfigError`,
exit 2), exactly as the device's is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from edge.cap.config import CapConfig
from edge.config import (
    SLUG,
    ConfigError,
    Language,
    LoggingConfig,
    MqttConfig,
    Strict,
    describe_errors,
    effective_mqtt,
    read_config_file,
)
from edge.payloads import Hazard

DEFAULT_PATH = Path("/etc/siaga-edge/station.toml")
ENV_PATH = "SIAGA_STATION_CONFIG"
ENV_PREFIX = "SIAGA_STATION_"
DEFAULT_DATABASE = "sqlite:////var/lib/siaga-station/station.sqlite3"


class StationSection(Strict):
    name: str = Field(default="Siaga Station", description="The control room's name")
    language: Language = Field(default=Language.ID, description="Board and messages: id or en")


class StationMqttConfig(MqttConfig):
    """As the device's ``[mqtt]`` (TLS files, username, password file), plus the station's
    fixed client id. ``urls`` are all listened to at once, not tried in turn."""

    client_id: str = Field(
        default="siaga-station",
        min_length=1,
        max_length=128,
        description="Fixed: the persistent session lives on each broker under it",
    )
    share_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Several stations on one database: archive through $share/<group>/",
    )
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="Messages a broker may have in flight to the station, unacknowledged",
    )


class DatabaseConfig(Strict):
    url: str = Field(
        default=DEFAULT_DATABASE,
        description="sqlite:////absolute/path.sqlite3 or postgresql://user@host/db",
    )
    retain_days: float = Field(
        default=0.0, ge=0, description="Delete events older than this; 0 keeps everything"
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "sqlite":
            if not parts.path or parts.path == "/":
                raise ValueError(
                    "sqlite:////absolute/path.sqlite3 (four slashes: an absolute path)"
                )
            return value
        if parts.scheme in ("postgresql", "postgres"):
            if parts.password:
                raise ValueError("put the password in ~/.pgpass or $PGPASSFILE, never in the URL")
            return value
        raise ValueError(f"{value!r}: use sqlite:////path or postgresql://user@host/db")

    @property
    def backend(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"


class HttpConfig(Strict):
    listen: str = Field(default="127.0.0.1:8080", description="host:port the board is served on")
    cert_file: Path | None = Field(
        default=None, description="TLS certificate (PEM): the station serves HTTPS itself"
    )
    key_file: Path | None = Field(default=None, description="TLS private key (PEM), with cert_file")
    secret_file: Path | None = Field(
        default=None,
        description="Key that signs session cookies; none: one kept in the database",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 7, description="A login lasts this long (one shift)"
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (both or neither)")
        return self

    @property
    def tls(self) -> bool:
        return self.cert_file is not None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r}: use host:port, e.g. 127.0.0.1:8080")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class SiteInfo(Strict):
    id: str = Field(pattern=SLUG)
    name: str = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    places: dict[str, str] = Field(
        default_factory=dict, description="sensor id -> where it is, as the board shows it"
    )


class Procedure(Strict):
    hazard: Hazard
    steps: list[str] = Field(default_factory=list)


class StationConfig(BaseSettings):
    """The whole station config. Environment variables override the file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    station: StationSection = Field(default_factory=StationSection)
    mqtt: StationMqttConfig = Field(default_factory=StationMqttConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    sites: list[SiteInfo] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    cap: CapConfig = Field(default_factory=CapConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    def redacted(self) -> dict[str, Any]:
        """Safe to print: no password is ever a value (files and ~/.pgpass hold them)."""
        data = self.model_dump(mode="json")
        effective_mqtt(data["mqtt"])
        return data

    def site(self, site_id: str) -> SiteInfo | None:
        return next((s for s in self.sites if s.id == site_id), None)


def station_config_path(explicit: str | Path | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_PATH)
    return Path(env) if env else DEFAULT_PATH


def load_station_config(path: str | Path | None = None) -> StationConfig:
    """Read, merge with the environment and validate; ConfigError names file, field, reason."""
    file = station_config_path(path)
    data = read_config_file(file)
    try:
        return StationConfig(**data)
    except ValidationError as exc:
        raise ConfigError(file, describe_errors(exc, data)) from None
    except SettingsError as exc:
        raise ConfigError(file, [("", f"an environment override is not valid: {exc}")]) from None
