"""The configuration technicians write: the single source of truth for every setting.

Loaded from TOML, overridden from the environment (``SIAGA_<SECTION>__<FIELD>``), validated
in full before anything starts: a bad config is refused with the field path and the reason.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from edge.detect.eol import Loop
from edge.payloads import Hazard
from edge.usererror import UserInputError

DEFAULT_PATH = Path("/etc/siaga-edge/config.toml")
ENV_PATH = "SIAGA_EDGE_CONFIG"
ENV_PREFIX = "SIAGA_"
ENV_NESTING = "__"
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
DEVICE_SENSOR = "_device"
MAX_BCM = 27
HCSR04_CLOSEST_M = 0.02  # an HC-SR04 cannot see closer than this
# Pins that the SPI0 bus claims for an MCP3008 on chip select CE0 / CE1.
SPI0_BUS = ("GPIO9", "GPIO10", "GPIO11")
SPI0_SELECT = {0: "GPIO8", 1: "GPIO7"}


class FieldProblemError(ValueError):
    """A cross-field check that can name the field at fault, below the model raising it.

    pydantic reports a model validator's error at the model's own path; this carries the
    rest (``alarm``, ``input.pin``) so the technician is pointed at the line to change."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


class Strict(BaseModel):
    """Every section refuses unknown keys (a typo must not silently become a default) and
    non-finite numbers (an ``alarm = nan`` compares false with every reading: never fires)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def normalise_pin(value: object) -> str:
    """Accept ``GPIO17``, ``BCM17``, ``gpio17`` or ``17`` and name it ``GPIO17``."""
    text = str(value).strip().upper()
    match = re.fullmatch(r"(?:GPIO|BCM)?(\d{1,2})", text)
    if not match or int(match.group(1)) > MAX_BCM:
        raise ValueError(f"{value!r} is not a GPIO pin; use a BCM name such as 'GPIO17'")
    return f"GPIO{int(match.group(1))}"


Pin = Annotated[str, Field(description="BCM pin name, e.g. 'GPIO17'")]


class Language(StrEnum):
    ID = "id"
    EN = "en"


class SiteConfig(Strict):
    id: str = Field(pattern=SLUG, description="Site id, part of every topic")
    device: str = Field(pattern=SLUG, description="Device id, unique within the site")
    name: str = Field(default="", description="Human name of the site")
    language: Language = Field(default=Language.ID, description="Language of event messages")


class MqttProtocol(StrEnum):
    V5 = "5"
    V311 = "3.1.1"


class MqttConfig(Strict):
    url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt:// or mqtts:// (TLS)")
    urls: list[str] = Field(
        default_factory=list, description="Failover brokers, tried in order; replaces `url`"
    )
    username: str | None = None
    password_file: Path | None = Field(
        default=None, description="File holding the password; must not be world-readable"
    )
    ca_file: Path | None = None
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS)")
    key_file: Path | None = None
    topic_prefix: str = "siaga/v1"
    keepalive_s: int = Field(
        default=10,
        ge=5,
        le=3600,
        description="The broker sends the Will 1.5 keepalives after the last packet: "
        "10 s flags a frozen device within 15 s",
    )
    protocol: MqttProtocol = Field(default=MqttProtocol.V5, description="'5' or '3.1.1'")
    session_expiry_s: int = Field(
        default=86400, ge=0, description="MQTT v5 session kept by the broker across reconnects"
    )
    # A new alarm waits behind the backlog (seq order): the drain must be fast. 10,000/s
    # is what one Python consumer takes (bench_fleet); the broker's queue does the rest.
    inflight: int = Field(default=50, ge=1, le=1000, description="Events in flight at once")
    drain_per_s: float = Field(
        default=10000.0, gt=0, description="Pace of backlog drain after an outage, events/s"
    )

    @field_validator("url", "urls")
    @classmethod
    def _check_urls(cls, value: str | list[str]) -> str | list[str]:
        for url in [value] if isinstance(value, str) else value:
            parts = urlsplit(url)
            if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
                raise ValueError(f"{url!r}: use mqtt://host[:port] or mqtts://host[:port]")
            if parts.password:
                raise ValueError("put the password in password_file, never in the URL")
            try:
                _ = parts.port
            except ValueError as exc:
                raise ValueError(f"{url!r}: {exc}") from None
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if (
            not value
            or value.startswith("/")
            or value.endswith("/")
            or any(c in value for c in "#+")
        ):
            raise ValueError(
                "a topic prefix such as 'siaga/v1': no wildcards, no leading or trailing /"
            )
        return value

    @model_validator(mode="after")
    def _check_tls_pair(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise FieldProblemError(
                "key_file" if self.key_file is None else "cert_file",
                "cert_file and key_file go together (mutual TLS)",
            )
        if self.password_file is not None and self.username is None:
            raise FieldProblemError("username", "password_file needs a username")
        if len({urlsplit(u).scheme for u in self.broker_urls}) > 1:
            # One TLS setting serves every broker in the list.
            raise FieldProblemError(
                "urls", "urls mixes mqtt:// and mqtts://; use one scheme for all brokers"
            )
        return self

    @property
    def broker_urls(self) -> list[str]:
        return self.urls or [self.url]


class StorageConfig(Strict):
    path: Path = Path("/var/lib/siaga-edge/outbox.sqlite3")
    retain_days: float = Field(default=7.0, gt=0, description="Keep delivered events for resend")
    max_mb: float = Field(default=256.0, gt=0, description="Bound on the store's size")
    allow_volatile: bool = Field(
        default=False,
        description="Accept a store on RAM (tmpfs, overlay root, zram): demos and tests only; "
        "otherwise a `_device` fault `storage` at start",
    )
    # Test only (fault injection: a full disk), left out of the schema and the docs:
    # SQLite's max_page_count, so the store fills up after this many pages.
    max_page_count: SkipJsonSchema[int | None] = Field(default=None, ge=1)


class AlertsConfig(Strict):
    repeat_s: float = Field(default=60.0, gt=0, description="Re-send unacknowledged alarms")
    latency_budget_s: float = Field(
        default=10.0, gt=0, description="An alarm slower than this to PUBACK raises a device fault"
    )


class HeartbeatConfig(Strict):
    interval_s: float = Field(default=30.0, gt=0)


class PlatformConfig(Strict):
    """The Raspberry Pi under the daemon: where its firmware and kernel tell power,
    temperature and the hardware watchdog (docs/operations.md, "Months on a Pi")."""

    throttled_path: Path = Field(
        default=Path("/sys/devices/platform/soc/soc:firmware/get_throttled"),
        description="Firmware throttled flags (hex); absent: the hwmon alarm is read",
    )
    hwmon_path: Path = Field(
        default=Path("/sys/class/hwmon"),
        description="Where the raspberrypi-hwmon device (name rpi_volt, in0_lcrit_alarm) is",
    )
    thermal_path: Path = Field(
        default=Path("/sys/class/thermal/thermal_zone0/temp"), description="CPU temperature"
    )
    watchdog_path: Path = Field(
        default=Path("/sys/class/watchdog"), description="Hardware watchdogs (state, timeout)"
    )
    power_poll_s: float = Field(
        default=2.0, gt=0, le=5.0, description="How often the power flags are read"
    )


class TelemetryConfig(Strict):
    interval_s: float = Field(default=0.0, ge=0, description="Readings topic period; 0 = off")


class PinFactoryName(StrEnum):
    DEFAULT = "default"
    MOCK = "mock"
    LGPIO = "lgpio"
    RPIGPIO = "rpigpio"
    PIGPIO = "pigpio"
    NATIVE = "native"


class GpioConfig(Strict):
    pin_factory: PinFactoryName = PinFactoryName.DEFAULT


class OutputsConfig(Strict):
    siren_pin: Pin | None = None
    status_led_pin: Pin | None = None
    siren_active_low: bool = Field(
        default=False,
        description="The siren's relay board switches on when its input is LOW (many do)",
    )
    status_led_active_low: bool = Field(
        default=False, description="The status LED is on when its pin is LOW (LED to 3.3 V)"
    )

    _pins = field_validator("siren_pin", "status_led_pin", mode="before")(
        lambda v: None if v is None else normalise_pin(v)
    )


class HomeAssistantConfig(Strict):
    enabled: bool = False
    discovery_prefix: str = "homeassistant"


class ControlConfig(Strict):
    socket: Path = Field(
        default=Path("/run/siaga-edge/control.sock"),
        description="Local socket for `siaga-edge drill` and `readings` (mode 0660)",
    )


class LoggingConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


# ---------------------------------------------------------------- sensors


class Kind(StrEnum):
    SMOKE = "smoke"
    WATER_LEVEL = "water_level"
    VIBRATION = "vibration"


class DigitalInput(Strict):
    type: Literal["digital"]
    pin: Pin
    active_low: bool = Field(
        default=False, description="Contact closes to ground (the internal pull-up is used)"
    )
    normally_closed: bool = Field(
        default=False,
        description="Normally-closed contact to ground that opens on alarm (the pull-up is "
        "used): a cut wire reads as an alarm, never as silence",
    )
    bounce_s: float = Field(
        default=0.0, ge=0, le=1.0, description="Contact bounce filter, applied on timestamps"
    )

    _pin = field_validator("pin", mode="before")(normalise_pin)

    @model_validator(mode="after")
    def _one_wiring(self) -> DigitalInput:
        if self.normally_closed and self.active_low:
            raise FieldProblemError(
                "active_low",
                "normally_closed already uses the pull-up and reads the closed contact as "
                "normal; leave active_low out",
            )
        return self

    @property
    def pull_up(self) -> bool:
        """Whether the pin's internal pull-up is on (a contact to ground)."""
        return self.active_low or self.normally_closed


class PulseInput(Strict):
    type: Literal["pulse"]
    pin: Pin
    active_low: bool = False

    _pin = field_validator("pin", mode="before")(normalise_pin)


class AdcChannel(Strict):
    """One channel of an MCP3008 on SPI0: what analog and supervised inputs share."""

    channel: int = Field(ge=0, le=7)
    select: int = Field(default=0, ge=0, le=1, description="SPI0 chip select: 0 = CE0, 1 = CE1")


class Mcp3008Input(AdcChannel):
    type: Literal["mcp3008"]


class EolInput(AdcChannel):
    """A supervised contact loop with an end-of-line resistor, read through the MCP3008
    (docs/detection.md, "Supervised loops"): normal, alarm, cut and short are told apart."""

    type: Literal["eol"]
    eol_ohm: float = Field(gt=0, le=1e6, description="End-of-line resistor at the loop's far end")
    alarm_ohm: float = Field(
        gt=0, le=1e6, description="Alarm resistor in series with each detector's contact"
    )
    pullup_ohm: float = Field(
        default=4700.0, gt=0, le=1e6, description="From the ADC channel to the MCP3008's VREF"
    )
    tolerance: float = Field(
        default=0.10, ge=0.01, le=0.25, description="Band around each resistance (0.10 = ±10 %)"
    )

    @model_validator(mode="after")
    def _bands(self) -> EolInput:
        for field, reason in self.loop.problems():
            raise FieldProblemError(field, reason)
        return self

    @property
    def loop(self) -> Loop:
        return Loop(self.eol_ohm, self.alarm_ohm, self.pullup_ohm, self.tolerance)


class Hcsr04Input(Strict):
    type: Literal["hcsr04"]
    trigger: Pin
    echo: Pin
    mount_height_m: float = Field(gt=0, le=10.0, description="Sensor face above the bottom")
    pings: int = Field(default=5, ge=1, le=15, description="Pings per sample; the median is used")
    air_temp_c: float = Field(default=28.0, ge=-20, le=60, description="For the speed of sound")
    max_distance_m: float = Field(default=4.0, gt=0, le=4.5, description="Longer echo = no echo")

    _pins = field_validator("trigger", "echo", mode="before")(normalise_pin)

    @model_validator(mode="after")
    def _sees_the_bottom(self) -> Hcsr04Input:
        if self.max_distance_m < self.mount_height_m:
            raise FieldProblemError(
                "max_distance_m",
                f"max_distance_m ({self.max_distance_m:g}) is shorter than mount_height_m "
                f"({self.mount_height_m:g}): below "
                f"{self.mount_height_m - self.max_distance_m:g} m of water every echo counts "
                "as none, so the sensor is in fault whenever the channel is low; make it at "
                "least mount_height_m",
            )
        return self

    @property
    def levels(self) -> tuple[float, float]:
        """The water levels this sensor can measure: from the farthest echo it takes to
        its closest range (about 2 cm from the face)."""
        return (self.mount_height_m - self.max_distance_m, self.mount_height_m - HCSR04_CLOSEST_M)


SensorInput = Annotated[
    DigitalInput | PulseInput | Mcp3008Input | EolInput | Hcsr04Input,
    Field(discriminator="type"),
]


class Direction(StrEnum):
    RISING = "rising"
    FALLING = "falling"


class Calibration(Strict):
    raw: tuple[float, float] = Field(description="Two raw readings (ADC fraction 0..1)")
    value: tuple[float, float] = Field(description="The true values at those readings")

    @model_validator(mode="after")
    def _distinct(self) -> Calibration:
        if self.raw[0] == self.raw[1]:
            raise FieldProblemError("raw", "the two raw points must differ")
        return self


class StageState(StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    ALARM = "alarm"


class Stage(Strict):
    name: str = Field(min_length=1, description="Local name, e.g. 'Siaga II'")
    level: float = Field(description="Reached at or beyond this value")
    state: StageState


class StaLta(Strict):
    sta_s: float = Field(gt=0, description="Short-term average window")
    lta_s: float = Field(gt=0, description="Long-term average window; also the warm-up")
    on: float = Field(gt=1.0, description="Trigger when STA/LTA rises above")
    off: float = Field(gt=0, description="Release when STA/LTA falls below")
    highpass_hz: float = Field(default=1.0, ge=0, description="Removes tilt and drift; 0 = off")

    @model_validator(mode="after")
    def _order(self) -> StaLta:
        if self.lta_s <= self.sta_s:
            raise FieldProblemError(
                "lta_s", f"lta_s ({self.lta_s}) must be longer than sta_s ({self.sta_s})"
            )
        if self.off >= self.on:
            raise FieldProblemError("off", f"off ({self.off}) must be below on ({self.on})")
        return self


class Pulses(Strict):
    window_s: float = Field(gt=0)
    warning: int | None = Field(default=None, ge=1)
    alarm: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> Pulses:
        if self.warning is not None and self.warning >= self.alarm:
            raise FieldProblemError(
                "alarm", f"warning ({self.warning}) must be below alarm ({self.alarm})"
            )
        return self


# Long enough that isolated outliers never fault (at 2 Hz a fault needs 7 bad samples in
# a row: an echo off debris or one noisy read cannot do that), short enough that a cut
# loop is a fault well inside 10 s at any sample rate of 1 Hz or more.
DEFAULT_VERIFY_S = 3.0


class Fault(Strict):
    no_data_s: float | None = Field(default=None, gt=0, description="No valid sample this long")
    min: float | None = None
    max: float | None = None
    stuck_s: float | None = Field(default=None, gt=0, description="Identical readings this long")
    chatter_per_s: float | None = Field(
        default=None, gt=0, description="More edges than this per second on a contact"
    )
    verify_s: float = Field(
        default=DEFAULT_VERIFY_S,
        ge=0,
        le=60,
        description="Out-of-range (or a cut/shorted loop) must hold this long to be a fault; "
        "such a fault clears after twice this long clean",
    )

    @model_validator(mode="after")
    def _order(self) -> Fault:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise FieldProblemError("max", f"min ({self.min}) must be below max ({self.max})")
        return self


DEFAULT_HAZARD = {
    Kind.SMOKE: Hazard.FIRE,
    Kind.WATER_LEVEL: Hazard.FLOOD,
    Kind.VIBRATION: Hazard.EARTHQUAKE,
}


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # the default depends on kind; the description says how


class SensorConfig(Strict):
    id: str = Field(pattern=SLUG, description="Sensor id, part of topics")
    kind: Kind
    hazard: Hazard = Field(
        default=Hazard.FIRE,
        description="What an alarm means; when omitted, by kind: smoke -> fire, "
        "water_level -> flood, vibration -> earthquake",
        json_schema_extra=_no_default,
    )
    name: str = ""
    location: str = ""
    enabled: bool = Field(default=True, description="false = maintenance; published as disabled")
    input: SensorInput
    sample_hz: float = Field(default=1.0, gt=0, le=1000)
    calibration: Calibration | None = None
    unit: str = ""
    direction: Direction = Direction.RISING
    warning: float | None = None
    alarm: float | None = None
    hysteresis: float = Field(default=0.0, ge=0)
    stages: list[Stage] = Field(default_factory=list)
    rate_alarm_per_min: float | None = Field(default=None, gt=0)
    rate_window_s: float = Field(default=120.0, gt=0)
    rate_arm_above: float | None = Field(
        default=None, description="Rate alarm armed only at or above this level"
    )
    sta_lta: StaLta | None = None
    pulses: Pulses | None = None
    warmup_s: float = Field(default=0.0, ge=0, description="Preheat: state is starting meanwhile")
    delay_on_s: float = Field(default=0.0, ge=0, le=3600)
    delay_off_s: float = Field(default=0.0, ge=0, le=86400)
    fault: Fault = Field(default_factory=Fault)
    manual: bool = Field(
        default=False,
        description="A manual call point (a digital input, hazard fire): alarms at once, "
        "and its zone with it, whatever the zone's rule",
    )
    latch: bool = Field(
        default=False,
        description="An alarm stays until acknowledged and its condition has cleared",
    )

    @model_validator(mode="after")
    def _call_point(self) -> SensorConfig:
        if not self.manual:
            return self
        if not isinstance(self.input, DigitalInput):
            raise FieldProblemError("manual", "a manual call point is a digital input")
        if self.hazard is not Hazard.FIRE:
            raise FieldProblemError("hazard", "a manual call point has hazard 'fire'")
        if self.delay_on_s != 0:
            raise FieldProblemError(
                "delay_on_s", "a manual call point alarms at once: delay_on_s must be 0"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _hazard_by_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("hazard") is None:
            try:
                return {**data, "hazard": DEFAULT_HAZARD[Kind(str(data.get("kind")))]}
            except ValueError:
                return data  # the kind itself is wrong: its own error says so
        return data

    @model_validator(mode="after")
    def _coherent(self) -> SensorConfig:  # noqa: C901 (a flat list of independent rules)
        if self.hazard is Hazard.DEVICE:
            raise FieldProblemError("hazard", "hazard 'device' is for the device's own events")
        kind, inp = self.kind, self.input
        if isinstance(inp, DigitalInput | PulseInput | EolInput):
            article = "an" if isinstance(inp, EolInput) else "a"
            for name in ("warning", "alarm", "calibration", "sta_lta", "rate_alarm_per_min"):
                if getattr(self, name) is not None:
                    raise FieldProblemError(
                        name, f"{name} does not apply to {article} {inp.type} input"
                    )
            if self.stages:
                raise FieldProblemError(
                    "stages", f"stages do not apply to {article} {inp.type} input"
                )
        if isinstance(inp, EolInput):
            for name in ("min", "max", "stuck_s"):
                if getattr(self.fault, name) is not None:
                    raise FieldProblemError(
                        f"fault.{name}",
                        f"fault.{name} does not apply to an eol input: its resistance bands "
                        "supervise it (a loop at rest reads the same all day)",
                    )
        if isinstance(inp, PulseInput):
            if kind is not Kind.VIBRATION:
                raise FieldProblemError(
                    "kind", "a pulse input counts vibration pulses: kind must be vibration"
                )
            if self.pulses is None:
                raise FieldProblemError(
                    "pulses", "a pulse input needs pulses = { window_s, warning, alarm }"
                )
        elif self.pulses is not None:
            raise FieldProblemError("pulses", "pulses applies only to a pulse input")
        if isinstance(inp, Hcsr04Input) and kind is not Kind.WATER_LEVEL:
            raise FieldProblemError(
                "kind", "an hcsr04 input measures water level: kind must be water_level"
            )
        if self.sta_lta is not None:
            if not isinstance(inp, Mcp3008Input) or kind is not Kind.VIBRATION:
                raise FieldProblemError(
                    "sta_lta", "sta_lta needs a vibration sensor on an mcp3008 input"
                )
            nyquist = self.sample_hz / 2
            if self.sta_lta.highpass_hz >= nyquist:
                raise FieldProblemError(
                    "sta_lta.highpass_hz",
                    f"sta_lta.highpass_hz ({self.sta_lta.highpass_hz}) must be below half "
                    f"of sample_hz ({nyquist})",
                )
            if self.sta_lta.sta_s * self.sample_hz < 2:
                raise FieldProblemError(
                    "sta_lta.sta_s", "sta_lta.sta_s must span at least 2 samples at sample_hz"
                )
            if self.warning is not None or self.stages or self.rate_alarm_per_min is not None:
                raise FieldProblemError(
                    "sta_lta",
                    "with sta_lta the trigger is the warning and `alarm` the peak: "
                    "warning, stages and rate_alarm_per_min do not apply",
                )
        if self.rate_arm_above is not None and self.rate_alarm_per_min is None:
            raise FieldProblemError("rate_arm_above", "rate_arm_above needs rate_alarm_per_min")
        if isinstance(inp, Mcp3008Input | Hcsr04Input):
            has_rule = (
                self.warning is not None
                or self.alarm is not None
                or self.stages
                or self.sta_lta is not None
                or self.rate_alarm_per_min is not None
            )
            if not has_rule:
                raise FieldProblemError(
                    "alarm", "an analog sensor needs warning/alarm, stages, sta_lta or a rate"
                )
        if self.stages and (self.warning is not None or self.alarm is not None):
            raise FieldProblemError("stages", "use either stages or warning/alarm, not both")
        self._check_levels()
        self._check_stages()
        self._check_supervision()
        self._check_reachable()
        return self

    def _check_supervision(self) -> None:
        """A supervision time no longer than one sample period faults the sensor between
        every two readings, and a failed check restarts every delay: it never alarms."""
        if not isinstance(self.input, Mcp3008Input | Hcsr04Input | EolInput):
            return  # contacts and pulses report on change: no sample period to compare
        period = 1.0 / self.sample_hz
        for name, why in (
            ("no_data_s", "the sensor is a no_data fault between every two readings"),
            ("stuck_s", "the sensor is a stuck fault whenever two readings agree"),
        ):
            limit = getattr(self.fault, name)
            if limit is not None and limit <= period:
                raise FieldProblemError(
                    f"fault.{name}",
                    f"fault.{name} = {limit:g} s is not longer than one sample period "
                    f"({period:g} s at sample_hz {self.sample_hz:g}): {why}, and a fault "
                    "restarts every delay, so it never alarms (the field is in seconds, "
                    "not samples)",
                )

    def _measurable(self) -> tuple[float, float] | None:
        """The values this sensor can report, in its unit (None: not an analog input)."""
        inp = self.input
        if isinstance(inp, Hcsr04Input):
            return inp.levels
        if not isinstance(inp, Mcp3008Input):
            return None
        if self.calibration is None:
            return (0.0, 1.0)
        (r0, r1), (v0, v1) = self.calibration.raw, self.calibration.value
        ends = [v0 + (x - r0) * (v1 - v0) / (r1 - r0) for x in (0.0, 1.0)]
        return (min(ends), max(ends))

    def _check_reachable(self) -> None:
        """An alarm that can never fire is a config error (check-config exits 2): the site
        would believe it is watched. Each reason names what makes it unreachable."""
        inp = self.input
        if not isinstance(inp, Mcp3008Input | Hcsr04Input):
            return
        cal = self.calibration
        if (
            isinstance(inp, Mcp3008Input)
            and cal is not None
            and any(not 0.0 <= r <= 1.0 for r in cal.raw)
        ):
            raise FieldProblemError(
                "calibration.raw",
                f"{list(cal.raw)} is not what an MCP3008 reads: raw is the fraction "
                "0..1 of its VREF (3.3 V reads 1.0), not volts; divide volts by VREF",
            )
        if self.sta_lta is not None:
            if self.alarm is None:
                raise FieldProblemError(
                    "alarm",
                    "with sta_lta alone this sensor can never alarm: the STA/LTA trigger is "
                    "only a warning; add alarm = the peak acceleration that is an alarm "
                    "(siaga-edge calibrate suggests one)",
                )
            if self.alarm <= 0:
                raise FieldProblemError(
                    "alarm",
                    f"alarm {self.alarm:g}{self.unit}: with sta_lta, alarm is a peak "
                    "|acceleration|, never below 0, so every trigger (a door slammed next "
                    "to the sensor) would be an alarm that never ends; give the peak that "
                    "is an alarm, e.g. 0.05",
                )
            span = self._measurable()
            if span is not None and self.alarm > span[1] - span[0]:
                raise FieldProblemError(
                    "alarm",
                    f"alarm {self.alarm:g}{self.unit} is a peak larger than the whole range "
                    f"the ADC can show ({span[0]:g} … {span[1]:g}): it can never fire",
                )
            return
        can_alarm = (
            self.alarm is not None
            or self.rate_alarm_per_min is not None
            or any(st.state is StageState.ALARM for st in self.stages)
        )
        if not can_alarm:
            raise FieldProblemError(
                "alarm",
                "this sensor can never alarm: only warning levels are set; add alarm (or a "
                "stage with state alarm, or rate_alarm_per_min)",
            )
        levels = [(n, getattr(self, n)) for n in ("warning", "alarm")]
        levels += [("stages", st.level) for st in self.stages if st.state is not StageState.NORMAL]
        if self.rate_arm_above is not None:
            levels.append(("rate_arm_above", self.rate_arm_above))
        for field, level in levels:
            if level is not None:
                self._check_level_reachable(field, level)

    def _check_level_reachable(self, field: str, level: float) -> None:
        inp = self.input
        rising = self.direction is Direction.RISING
        span = self._measurable()
        assert span is not None
        lo, hi = span
        unit = f" {self.unit}" if self.unit else ""
        what = "the rate alarm is never armed" if field == "rate_arm_above" else "it never fires"
        if (rising and level > hi) or (not rising and level < lo):
            if isinstance(inp, Hcsr04Input):
                why = (
                    f"is above the sensor face or within {HCSR04_CLOSEST_M * 100:.0f} cm of it "
                    f"(mount_height_m {inp.mount_height_m:g}): an HC-SR04 cannot measure that close"
                    if rising
                    else f"is deeper than the sensor sees (max_distance_m {inp.max_distance_m:g})"
                )
            elif self.calibration is not None:
                (r0, r1), (v0, v1) = self.calibration.raw, self.calibration.value
                raw = r0 + (level - v0) * (r1 - r0) / (v1 - v0)
                why = (
                    f"needs an ADC reading of {raw:.2f} of full scale, and an MCP3008 reads "
                    f"0..1 (this calibration spans {lo:g} … {hi:g}{unit})"
                )
            else:
                why = "is outside the ADC's 0..1 (no calibration: the value is the fraction)"
            raise FieldProblemError(field, f"{level:g}{unit} {why}: {what}")
        limit = self.fault.max if rising else self.fault.min
        if limit is not None and (level > limit if rising else level < limit):
            name = "fault.max" if rising else "fault.min"
            raise FieldProblemError(
                field,
                f"{level:g}{unit} is beyond {name} ({limit:g}): the sensor is in fault "
                f"before it gets there, so {what}",
            )

    def _check_levels(self) -> None:
        if self.warning is None or self.alarm is None:
            return
        rising = self.direction is Direction.RISING
        if rising and self.warning >= self.alarm:
            raise FieldProblemError(
                "alarm",
                f"warning ({self.warning}) must be below alarm ({self.alarm}) for a rising sensor",
            )
        if not rising and self.warning <= self.alarm:
            raise FieldProblemError(
                "alarm",
                f"warning ({self.warning}) must be above alarm ({self.alarm}) for a falling sensor",
            )
        if self.hysteresis >= abs(self.alarm - self.warning) > 0 and self.hysteresis > 0:
            raise FieldProblemError(
                "hysteresis",
                f"hysteresis ({self.hysteresis}) must be smaller than the gap between "
                f"warning and alarm ({abs(self.alarm - self.warning):g})",
            )

    def _check_stages(self) -> None:
        if not self.stages:
            return
        levels = [s.level for s in self.stages]
        rising = self.direction is Direction.RISING
        ordered = sorted(levels) if rising else sorted(levels, reverse=True)
        if levels != ordered or len(set(levels)) != len(levels):
            order = "increasing" if rising else "decreasing"
            raise FieldProblemError(
                "stages", f"stage levels must be strictly {order} for a {self.direction} sensor"
            )
        rank = {StageState.NORMAL: 0, StageState.WARNING: 1, StageState.ALARM: 2}
        states = [rank[s.state] for s in self.stages]
        if states != sorted(states):
            raise FieldProblemError(
                "stages", "stage states must not get milder as the level gets worse"
            )
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise FieldProblemError("stages", "stage names must be unique")
        gap = min((abs(levels[i + 1] - levels[i]) for i in range(len(levels) - 1)), default=None)
        if gap is not None and self.hysteresis > 0 and self.hysteresis >= gap:
            raise FieldProblemError(
                "hysteresis",
                f"hysteresis ({self.hysteresis}) must be smaller than the smallest gap "
                f"between stage levels ({gap:g})",
            )

    @property
    def pins(self) -> list[tuple[str, str]]:
        """(field, GPIO pin) this sensor claims, SPI bus lines included."""
        inp = self.input
        if isinstance(inp, DigitalInput | PulseInput):
            return [("input.pin", inp.pin)]
        if isinstance(inp, Hcsr04Input):
            return [("input.trigger", inp.trigger), ("input.echo", inp.echo)]
        spi = [*SPI0_BUS, SPI0_SELECT[inp.select]]
        return [(f"input (SPI0 {pin})", pin) for pin in spi]


# ---------------------------------------------------------------- zones


class ZoneRule(StrEnum):
    ANY = "any"
    COINCIDENCE = "coincidence"
    TWO_DETECTOR = "two_detector"


RULE_FIELDS = {
    ZoneRule.ANY: (),
    ZoneRule.COINCIDENCE: ("weights", "threshold", "window_s", "max_length_s"),
    ZoneRule.TWO_DETECTOR: ("confirm_s", "confirm_by_time"),
}


class ZoneConfig(Strict):
    """Sensors of one hazard that decide together (docs/detection.md, "Zones")."""

    id: str = Field(pattern=SLUG, description="Zone id: its events' `sensor`, part of topics")
    name: str = ""
    location: str = ""
    hazard: Hazard | None = Field(
        default=None, description="Must be the members' hazard; when omitted, the members'"
    )
    members: list[str] = Field(min_length=1, description="Sensor ids")
    rule: ZoneRule = Field(
        default=ZoneRule.ANY, description="any | coincidence (k of n votes) | two_detector (fire)"
    )
    weights: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="coincidence: a member's vote (default 1 each)"
    )
    threshold: float = Field(
        default=2.0, gt=0, description="coincidence: the sum of votes that raises the zone"
    )
    window_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="coincidence: a vote lasts this long past its member's trigger",
    )
    max_length_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="coincidence: a member triggered longer stops voting and is a fault",
    )
    confirm_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="two_detector: how long a first detector's alarm waits for a second",
    )
    confirm_by_time: bool = Field(
        default=True,
        description="two_detector: a first detector still in alarm after confirm_s confirms",
    )
    latch: bool = Field(
        default=False,
        description="The zone's alarm stays until acknowledged and its condition has cleared",
    )

    @model_validator(mode="after")
    def _coherent(self) -> ZoneConfig:
        if self.hazard is Hazard.DEVICE:
            raise FieldProblemError("hazard", "hazard 'device' is for the device's own events")
        seen: set[str] = set()
        for member in self.members:
            if member in seen:
                raise FieldProblemError("members", f"{member!r} is listed twice")
            seen.add(member)
        for member in self.weights:
            if member not in seen:
                raise FieldProblemError("weights", f"{member!r} is not a member of this zone")
        for rule, fields in RULE_FIELDS.items():
            for name in fields:
                if rule is not self.rule and name in self.model_fields_set:
                    raise FieldProblemError(
                        name, f"{name} applies to rule {rule.value!r}, not {self.rule.value!r}"
                    )
        return self

    def weight(self, member: str) -> float:
        return self.weights.get(member, 1.0)


class SiagaConfig(BaseSettings):
    """The whole configuration. Environment variables override the file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTING,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    site: SiteConfig
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    platform: PlatformConfig = Field(default_factory=PlatformConfig)
    gpio: GpioConfig = Field(default_factory=GpioConfig)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    sensors: list[SensorConfig] = Field(min_length=1)
    zones: list[ZoneConfig] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init kwargs; the environment wins over them.
        # SIAGA_SENSORS__<ID>__<FIELD> (and SIAGA_ZONES__…) is applied by validate_config
        # (apply_sensor_env): pydantic-settings would make the list a table of them.
        return (_WithoutSensorFields(settings_cls, env_settings), init_settings)

    @model_validator(mode="after")
    def _unique(self) -> SiagaConfig:
        def where(i: int, field: str) -> str:
            return f"sensors[{i}]({self.sensors[i].id}).{field}"

        ids: dict[str, int] = {}
        channels: dict[tuple[int, int], int] = {}
        for i, s in enumerate(self.sensors):
            if s.id in ids:
                raise FieldProblemError(
                    where(i, "id"), f"{s.id!r} is also the id of sensors[{ids[s.id]}]"
                )
            ids[s.id] = i
            if isinstance(s.input, AdcChannel):
                key = (s.input.select, s.input.channel)
                if key in channels:
                    raise FieldProblemError(
                        where(i, "input.channel"),
                        f"CE{key[0]} channel {key[1]} is also read by "
                        f"{self.sensors[channels[key]].id}",
                    )
                channels[key] = i
        # pin -> (where it is claimed, by the shared SPI bus)
        owners: dict[str, tuple[str, bool]] = {}
        claims = [
            (where(i, field), pin, isinstance(s.input, AdcChannel))
            for i, s in enumerate(self.sensors)
            for field, pin in s.pins
        ]
        claims += [
            (f"outputs.{name}", pin, False)
            for name in ("siren_pin", "status_led_pin")
            if (pin := getattr(self.outputs, name)) is not None
        ]
        for owner, pin, spi in claims:
            if pin in owners:
                first, first_spi = owners[pin]
                if spi and first_spi:
                    continue  # sensors on one MCP3008 share its bus and chip select
                raise FieldProblemError(owner, f"pin {pin} is already used by {first}")
            owners[pin] = (owner, spi)
        return self

    @model_validator(mode="after")
    def _zones_fit(self) -> SiagaConfig:  # noqa: C901 (a flat list of independent rules)
        """Zones name real sensors of one hazard and can reach their threshold."""
        sensors = {s.id: s for s in self.sensors}
        zone_ids: dict[str, int] = {}
        homes: dict[tuple[Hazard, str], int] = {}
        for i, zone in enumerate(self.zones):

            def where(field: str, i: int = i, zone: ZoneConfig = zone) -> str:
                return f"zones[{i}]({zone.id}).{field}"

            if zone.id in sensors:
                raise FieldProblemError(where("id"), f"{zone.id!r} is also a sensor's id")
            if zone.id in zone_ids:
                raise FieldProblemError(
                    where("id"), f"{zone.id!r} is also the id of zones[{zone_ids[zone.id]}]"
                )
            zone_ids[zone.id] = i
            for member in zone.members:
                if member not in sensors:
                    known = ", ".join(sensors)
                    raise FieldProblemError(
                        where("members"), f"no sensor {member!r} (known: {known})"
                    )
            cfgs = [sensors[m] for m in zone.members]
            hazards = sorted({c.hazard.value for c in cfgs})
            if len(hazards) > 1:
                raise FieldProblemError(
                    where("members"), f"members of one hazard only; these are {', '.join(hazards)}"
                )
            if zone.hazard is not None and zone.hazard.value != hazards[0]:
                raise FieldProblemError(
                    where("hazard"), f"{zone.hazard.value!r}, but its members are {hazards[0]!r}"
                )
            kinds = sorted({c.kind.value for c in cfgs})
            if len(kinds) > 1:
                raise FieldProblemError(
                    where("members"), f"members of one kind only; these are {', '.join(kinds)}"
                )
            detectors = [c for c in cfgs if not c.manual]
            if zone.rule is ZoneRule.COINCIDENCE:
                votes = sum(zone.weight(c.id) for c in detectors)
                if votes < zone.threshold:
                    raise FieldProblemError(
                        where("threshold"),
                        f"the members' weights add up to {votes:g}, below the threshold "
                        f"{zone.threshold:g}: the zone could never trigger",
                    )
            if zone.rule is ZoneRule.TWO_DETECTOR:
                if hazards[0] != Hazard.FIRE.value:
                    raise FieldProblemError(where("rule"), "two_detector is for fire zones")
                if len(detectors) < 2:
                    raise FieldProblemError(
                        where("members"), "two_detector needs at least two detectors"
                    )
            for member in zone.members:
                key = (sensors[member].hazard, member)
                if key in homes:
                    j = homes[key]
                    raise FieldProblemError(
                        where("members"),
                        f"{member!r} is already a member of zones[{j}]({self.zones[j].id}), "
                        f"a zone of the same hazard",
                    )
                homes[key] = i
        return self

    def zone(self, zone_id: str) -> ZoneConfig:
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        known = ", ".join(z.id for z in self.zones) or "none"
        raise KeyError(f"no zone {zone_id!r} in the config (known: {known})")

    def zone_hazard(self, zone: ZoneConfig) -> Hazard:
        """The zone's hazard: its own, or (the config checks they agree) its members'."""
        return zone.hazard or self.sensor(zone.members[0]).hazard

    def zone_kind(self, zone: ZoneConfig) -> Kind:
        """The zone's kind: its members' (the config checks they share one)."""
        return self.sensor(zone.members[0]).kind

    def sensor(self, sensor_id: str) -> SensorConfig:
        for sensor in self.sensors:
            if sensor.id == sensor_id:
                return sensor
        known = ", ".join(s.id for s in self.sensors)
        raise KeyError(f"no sensor {sensor_id!r} in the config (known: {known})")

    def redacted(self) -> dict[str, Any]:
        """The effective config, safe to print: secrets live only in files it names.

        A password is never a config value (``password_file`` is a path, and a URL with a
        password is refused), so what is left to hide is any user-info in broker URLs.
        """
        data = self.model_dump(mode="json")
        effective_mqtt(data["mqtt"])
        return data


def effective_mqtt(mqtt: dict[str, Any]) -> None:
    """An ``[mqtt]`` dump as it is used, in place: user-info hidden, and ``url`` left out
    when ``urls`` is given (it is then never used; printing it misled admins)."""
    if mqtt["urls"]:
        del mqtt["url"]
    else:
        mqtt["url"] = _hide_userinfo(mqtt["url"])
    mqtt["urls"] = [_hide_userinfo(u) for u in mqtt["urls"]]


class _WithoutSensorFields(PydanticBaseSettingsSource):
    """The environment source, less the per-sensor and per-zone variables validate_config
    applies."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self.inner()
        return {k: v for k, v in data.items() if not (k in ENTRY_ENV and isinstance(v, dict))}


SENSOR_ENV = f"{ENV_PREFIX}SENSORS{ENV_NESTING}"
ENTRY_ENV = {"sensors": SENSOR_ENV, "zones": f"{ENV_PREFIX}ZONES{ENV_NESTING}"}
"""The lists whose entries are set by id from the environment, and their prefixes."""


def sensor_env_key(sensor_id: str) -> str:
    """How a sensor id is written in a variable: ``smoke-dapur`` -> ``SMOKE_DAPUR``."""
    return sensor_id.upper().replace("-", "_")


def apply_sensor_env(
    data: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The file's data with ``SIAGA_SENSORS__<ID>__<FIELD>[__<SUBFIELD>]`` applied to the
    sensor of that id (``SIAGA_SENSORS__SMOKE_DAPUR__DELAY_ON_S=5``,
    ``SIAGA_SENSORS__AIR_SELOKAN__INPUT__MOUNT_HEIGHT_M=2.4``), and ``SIAGA_ZONES__<ID>__…``
    to the zone of that id. A value is JSON when it parses as JSON, else the text; a JSON
    table is merged into the file's table (``…__FAULT={"min": -0.1}`` keeps ``max``).
    Problems name the variable."""
    problems: list[tuple[str, str]] = []
    for section, prefix in ENTRY_ENV.items():
        data, found = _apply_entry_env(data, environ, section, prefix)
        problems += found
    return data, problems


def _apply_entry_env(
    data: dict[str, Any], environ: Mapping[str, str], section: str, prefix: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    names = sorted(k for k in environ if k.upper().startswith(prefix))
    entries = data.get(section)
    what = section.removesuffix("s")
    if not names:
        return data, []
    whole = prefix.removesuffix(ENV_NESTING)
    example = (
        f"{prefix}SMOKE_DAPUR__DELAY_ON_S" if section == "sensors" else f"{prefix}<ID>__MEMBERS"
    )
    if any(k.upper() == whole for k in environ):
        return data, [
            (
                names[0],
                f"set either {whole} (the whole list) or {prefix}<ID>__<FIELD> variables, not both",
            )
        ]
    if not isinstance(entries, list):
        return data, [(names[0], f"there is no {what} in the file to set it on ([[{section}]])")]
    by_key = {
        sensor_env_key(str(s.get("id"))): i for i, s in enumerate(entries) if isinstance(s, dict)
    }
    out = [dict(s) if isinstance(s, dict) else s for s in entries]
    problems: list[tuple[str, str]] = []
    for name in names:
        parts = name.upper().removeprefix(prefix).split(ENV_NESTING)
        if len(parts) < 2 or not all(parts):
            problems.append((name, f"write it as {prefix}<ID>__<FIELD>, e.g. {example}"))
            continue
        index = by_key.get(parts[0])
        if index is None:
            known = ", ".join(by_key) or "none"
            problems.append((name, f"no {what} {parts[0]} here (known: {known})"))
            continue
        node = out[index] = _copy_path(out[index], [p.lower() for p in parts[1:-1]])
        for part in parts[1:-1]:
            node = node[part.lower()]
        key, value = parts[-1].lower(), _env_value(environ[name])
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            value = {**node[key], **value}
        node[key] = value
    return {**data, section: out}, problems


def _copy_path(sensor: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """A copy of ``sensor`` whose tables along ``path`` are fresh dicts (the file's data
    stays untouched)."""
    top = dict(sensor)
    node = top
    for part in path:
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, dict) else {}
        node = node[part]
    return top


def _env_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _hide_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


class ConfigError(UserInputError):
    """A config that cannot run: names the file, the field path and the reason."""

    headline = "invalid config"

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}: {field}: {reason}" if field else f"{path}: {reason}"
            for field, reason in problems
        ]
        super().__init__("\n".join(lines))


def config_path(explicit: str | Path | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_PATH)
    return Path(env) if env else DEFAULT_PATH


def load_config(path: str | Path | None = None) -> SiagaConfig:
    """Read, merge with the environment and validate; raise ConfigError on any problem."""
    file = config_path(path)
    return validate_config(read_config_file(file), file)


def read_config_file(file: Path) -> dict[str, Any]:
    """A config file's TOML, or ConfigError with a sentence for what went wrong reading it
    (the device's and the station's config alike)."""
    try:
        return read_toml(file)
    except FileNotFoundError:
        raise ConfigError(file, [("", "no such file")]) from None
    except PermissionError:
        raise ConfigError(file, [("", "permission denied")]) from None
    except IsADirectoryError:
        raise ConfigError(file, [("", "is a directory, not a config file")]) from None
    except OSError as exc:
        raise ConfigError(file, [("", exc.strerror or str(exc))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(file, [("", f"not UTF-8 text ({exc.reason})")]) from None


BOM = "\ufeff"
_DECIMAL_COMMA = re.compile(r"=\s*[-+]?\d+,\d+\s*(?:[,}#\]]|$)")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def read_toml(file: Path) -> dict[str, Any]:
    """The file's TOML; mistakes a technician makes get a sentence, not a parser's words
    (ConfigError). OSError and UnicodeDecodeError are left to the caller."""
    text = file.read_text(encoding="utf-8")
    if text.startswith(BOM):
        raise ConfigError(
            file,
            [
                (
                    "",
                    "the file starts with an invisible byte-order mark (BOM), which some "
                    "Windows editors add; save it again as UTF-8 without BOM (Notepad: Save "
                    "as, Encoding: UTF-8; nano and vi never add one)",
                )
            ],
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [("", _toml_sentence(text, str(exc)))]) from None


def _toml_sentence(text: str, error: str) -> str:
    lines = text.splitlines()
    match = _TOML_LINE.search(error)
    n = int(match.group(1)) if match else 0
    line = lines[n - 1].strip() if 0 < n <= len(lines) else ""
    if "Cannot declare ('sensors',) twice" in error:
        return (
            f"line {n}: each sensor starts with [[sensors]] (two pairs of brackets); "
            "[sensors] with one pair can be written only once, so the second sensor cannot "
            "be added"
        )
    if _DECIMAL_COMMA.search(line.split("#")[0]):
        fixed = re.sub(r"(\d),(\d)", r"\1.\2", line.split("#")[0]).strip()
        return (
            f"line {n}: {line!r} writes a decimal comma; numbers in this file use a "
            f"decimal point: {fixed}"
        )
    return f"not valid TOML: {error}"


def validate_config(data: dict[str, Any], file: Path) -> SiagaConfig:
    if isinstance(data.get("sensors"), dict):
        raise ConfigError(
            file,
            [
                (
                    "sensors",
                    "write [[sensors]] (two pairs of brackets) above each sensor: [sensors] "
                    "with one pair makes a single table, not a list of sensors",
                )
            ],
        )
    data, problems = apply_sensor_env(data, os.environ)
    if problems:
        raise ConfigError(file, problems)
    try:
        return SiagaConfig(**data)
    except ValidationError as exc:
        raise ConfigError(file, describe_errors(exc, data)) from None
    except SettingsError as exc:  # an environment value for a list or table that is not JSON
        raise ConfigError(file, [_unparsable_env(exc)]) from None


def env_name(loc: tuple[int | str, ...]) -> str | None:
    """The environment variable that sets this field, if it can be set from there at all."""
    if not loc or not all(isinstance(part, str) for part in loc):
        return None
    return ENV_PREFIX + ENV_NESTING.join(str(part).upper() for part in loc)


def _from_env(loc: tuple[int | str, ...], data: dict[str, Any]) -> str | None:
    """The variable this field's value came from, when one is set: the file is not to blame."""
    if not loc:
        return None
    environ = {k.upper() for k in os.environ}
    if len(loc) >= 3 and loc[0] in ENTRY_ENV and isinstance(loc[1], int):
        i, entries = loc[1], data.get(str(loc[0]))
        if isinstance(entries, list) and i < len(entries) and isinstance(entries[i], dict):
            fields = [str(p).upper() for p in loc[2:] if str(p) not in _INPUT_TAGS]
            key = sensor_env_key(str(entries[i].get("id")))
            for depth in range(len(fields), 0, -1):
                variable = ENTRY_ENV[str(loc[0])] + ENV_NESTING.join([key, *fields[:depth]])
                if variable in environ:
                    return variable
    for depth in range(len(loc), 0, -1):
        name = env_name(loc[:depth])
        if name is not None and name in environ:
            return name
    return None


def _unparsable_env(exc: SettingsError) -> tuple[str, str]:
    match = re.search(r'field "([^"]+)"', str(exc))
    section = match.group(1) if match else ""
    names = sorted(k for k in os.environ if k.upper().startswith(f"{ENV_PREFIX}{section.upper()}"))
    return (
        ", ".join(names) or f"{ENV_PREFIX}{section.upper()}",
        "not valid JSON: a list or table set from the environment is written as JSON, "
        """e.g. SIAGA_MQTT__URLS='["mqtts://a:8883","mqtts://b:8883"]'""",
    )


def describe_errors(exc: ValidationError, data: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        path = field_path(error["loc"], data)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblemError):
            path = f"{path}.{cause.field}" if path else cause.field
        reason = plain_reason(error, data)
        source = _from_env(error["loc"], data)
        if source is not None:
            reason += f" (set by the environment variable {source})"
        problems.append((path, reason))
    return problems


_INPUT_TAGS = frozenset({"digital", "pulse", "mcp3008", "eol", "hcsr04"})


def _known_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every setting name of the config's models, for "did you mean" on a typo."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(field.alias or name)
        for arg in _models_in(field.annotation):
            names |= _known_names(arg, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def plain_reason(error: Any, data: dict[str, Any]) -> str:
    """pydantic's words for the mistakes technicians make, said for a technician."""
    kind, msg = error["type"], error["msg"].removeprefix("Value error, ")
    name = str(error["loc"][-1]) if error["loc"] else ""
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(name, sorted(_known_names(SiagaConfig)), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{name!r} is not a setting here (a typo?){hint}"
    if kind == "string_pattern_mismatch" and SLUG in str(error.get("ctx", {}).get("pattern")):
        return "use only lower-case letters a-z, digits and single dashes (e.g. 'lapas-banyuwangi')"
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type"):
        value = _value_at(error["loc"], data)
        if isinstance(value, str) and "," in value:
            return (
                f"{value!r} is not a number: write decimals with a dot ({value.replace(',', '.')})"
            )
        return f"must be a number, not {value!r}" if value is not None else "must be a number"
    if kind == "missing":
        return "this setting is required and missing"
    return str(msg)


def _value_at(loc: tuple[Any, ...], data: Any) -> Any:
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        elif isinstance(node, dict) and part in _INPUT_TAGS:
            continue
        else:
            return None
    return node


def field_path(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """``('sensors', 2, 'input', 'hcsr04', 'echo')`` -> ``sensors[2](air-selokan).input.echo``."""
    out = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                out += f"({node['id']})"
            continue
        if isinstance(node, dict) and part not in node and part in _INPUT_TAGS:
            continue  # the discriminator tag pydantic inserts, not a key the user wrote
        out += f".{part}" if out else str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return out
