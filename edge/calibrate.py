"""Calibration arithmetic for ``siaga-edge calibrate``, and the state it leaves behind.

Pure parts: baseline statistics of a sampled sensor, thresholds that stay clear of its
noise (with the reasoning spelled out), two-point calibration from reference points, and
editing the config file in place with tomlkit so every comment and the layout survive.

The state file ``calibration.json`` sits next to the event store (``storage.path``): the
last baseline recorded for each sensor (which ``check-config`` uses to warn about
thresholds inside the noise) and the reference points waiting for a partner. Statistics
are kept in the sensor's *raw* unit (ADC fraction, echo distance in metres) so they stay
true when the calibration changes; :func:`value_stats` converts them with the config as
it is now.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import statistics
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, InlineTable, Table

from edge.config import (
    Calibration,
    Direction,
    Hcsr04Input,
    Mcp3008Input,
    SensorConfig,
    SiagaConfig,
    StageState,
    validate_config,
)
from edge.detect.build import calibration_for

STATE_FILE = "calibration.json"
SIMULATED_STATE_FILE = "calibration.simulated.json"
ADC_STEPS = 1024
HCSR04_RESOLUTION_M = 0.003  # about what the echo timing resolves
K_WARNING = 6.0
K_ALARM = 10.0
BAND_MARGIN = 0.25
"""A threshold sits at least this share of the noise band beyond the band's edge."""
STEADY_RAW_STD = 0.01


class CalibrationError(ValueError):
    """Something the technician must do differently; the message says what."""


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class RawStats:
    """A sampling run in the sensor's raw unit."""

    n: int
    missing: int
    seconds: float
    mean: float
    std: float
    min: float
    max: float
    ts: str = ""
    median: float = 0.0
    """What a calibration point takes: one echo off debris or a late SPI read does not
    move it, as it moves the mean."""

    @classmethod
    def of(cls, raws: Sequence[float | None], seconds: float, ts: str = "") -> RawStats:
        good = [r for r in raws if r is not None and math.isfinite(r)]
        if not good:
            raise CalibrationError("no valid sample: check the wiring (every read failed)")
        return cls(
            n=len(good),
            missing=len(raws) - len(good),
            seconds=seconds,
            mean=statistics.fmean(good),
            std=statistics.pstdev(good) if len(good) > 1 else 0.0,
            min=min(good),
            max=max(good),
            ts=ts,
            median=statistics.median(good),
        )


@dataclass(frozen=True, slots=True)
class ValueStats:
    """The same run in the sensor's unit, as the config calibrates it now."""

    mean: float
    std: float
    min: float
    max: float
    resolution: float
    unit: str

    @property
    def noise(self) -> float:
        """Peak-to-peak: the width of the band the baseline wandered in."""
        return self.max - self.min


def to_value(cfg: SensorConfig) -> Callable[[float], float]:
    """Raw reading -> the sensor's unit, as the adapters compute it."""
    inp = cfg.input
    if isinstance(inp, Hcsr04Input):
        return lambda distance: inp.mount_height_m - distance
    return calibration_for(cfg)


def resolution(cfg: SensorConfig) -> float:
    """The smallest step the sensor can show, in its unit."""
    inp = cfg.input
    if isinstance(inp, Hcsr04Input):
        return HCSR04_RESOLUTION_M
    if isinstance(inp, Mcp3008Input):
        f = calibration_for(cfg)
        return abs(f(1.0) - f(0.0)) / ADC_STEPS
    return 0.0


def value_stats(cfg: SensorConfig, raw: RawStats) -> ValueStats:
    f = to_value(cfg)
    lo, hi = f(raw.min), f(raw.max)
    slope = abs(f(raw.mean + 1.0) - f(raw.mean))
    return ValueStats(
        mean=f(raw.mean),
        std=raw.std * slope,
        min=min(lo, hi),
        max=max(lo, hi),
        resolution=resolution(cfg),
        unit=cfg.unit,
    )


# ---------------------------------------------------------------- thresholds


@dataclass(slots=True)
class Suggestion:
    warning: float | None = None
    alarm: float | None = None
    hysteresis: float | None = None
    reasons: list[str] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)
    """(fine, sentence) about the thresholds configured now; not fine: check-config warns."""
    cautions: list[str] = field(default_factory=list)
    """Thresholds clear of this run's noise but closer to the baseline than the suggestion
    would put them: worth a look, not a check-config warning."""

    def updates(self) -> dict[str, float]:
        return {
            k: v
            for k, v in (
                ("warning", self.warning),
                ("alarm", self.alarm),
                ("hysteresis", self.hysteresis),
            )
            if v is not None
        }


def _fmt(x: float, unit: str = "") -> str:
    return f"{x:.4g} {unit}".strip()


def _round_out(x: float, step: float, sign: float) -> float:
    """``x`` rounded to ``step``, away from the baseline (up for a rising sensor)."""
    if step <= 0:
        return x
    k = math.ceil(x / step - 1e-9) if sign > 0 else math.floor(x / step + 1e-9)
    return float(f"{k * step:.10g}")


def _step(sigma: float) -> float:
    """A round step a little below sigma: 0.001, 0.002, 0.005, 0.01, ..."""
    if sigma <= 0:
        return 0.0
    base: float = 10.0 ** math.floor(math.log10(sigma))
    for m in (5, 2, 1):
        if m * base <= sigma:
            return m * base
    return base


def suggest(cfg: SensorConfig, stats: ValueStats) -> Suggestion:
    """Thresholds no closer to the baseline than the noise allows, with the reasons."""
    out = Suggestion()
    unit = stats.unit
    sign = -1.0 if cfg.direction is Direction.FALLING else 1.0
    sigma = max(stats.std, stats.resolution)
    edge = stats.max if sign > 0 else stats.min
    beyond = "above" if sign > 0 else "below"
    step = _step(sigma)
    out.reasons.append(
        f"baseline {_fmt(stats.mean, unit)}, σ {_fmt(stats.std, unit)}, noise band "
        f"{_fmt(stats.min)} … {_fmt(stats.max, unit)} (peak-to-peak {_fmt(stats.noise, unit)})"
    )
    if stats.std < stats.resolution:
        out.reasons.append(
            f"σ is below the sensor's resolution ({_fmt(stats.resolution, unit)}); "
            "the resolution is used as σ"
        )
    clear = edge + sign * (BAND_MARGIN * stats.noise + sigma)
    if cfg.sta_lta is not None:
        peak = max(stats.max - stats.mean, stats.mean - stats.min)
        alarm = max(K_ALARM * sigma, 2.0 * peak)
        out.alarm = _round_out(alarm, step, 1.0)
        out.reasons.append(
            f"alarm (peak after the high-pass) ≥ max({K_ALARM:g}σ = {_fmt(K_ALARM * sigma)}, "
            f"2 × the largest excursion {_fmt(peak)}) = {_fmt(out.alarm, unit)}"
        )
        _check(out, "alarm", cfg.alarm, peak, 1.0, "the largest excursion", unit)
        return out
    if cfg.stages:
        out.reasons.append("stages are set from the site's physical levels: none suggested")
        for stage in cfg.stages:
            if stage.state is StageState.NORMAL:
                continue  # a normal stage (Siaga IV) is where the baseline belongs
            _check(out, f"stage {stage.name!r}", stage.level, edge, sign, "the noise band", unit)
        return out
    warning = stats.mean + sign * K_WARNING * sigma
    alarm = stats.mean + sign * K_ALARM * sigma
    w = warning if sign * (warning - clear) >= 0 else clear
    out.reasons.append(
        f"warning ≥ baseline + {K_WARNING:g}σ = {_fmt(warning)}, and {beyond} the noise band by "
        f"{BAND_MARGIN:.0%} of its width + σ = {_fmt(clear)}: {_fmt(w, unit)}"
    )
    hysteresis = max(2.0 * sigma, stats.noise / 2.0)
    a = alarm if sign * (alarm - w) >= 2.0 * hysteresis else w + sign * 2.0 * hysteresis
    out.reasons.append(
        f"alarm ≥ baseline + {K_ALARM:g}σ = {_fmt(alarm)}, at least 2 × hysteresis past the "
        f"warning: {_fmt(a, unit)}"
    )
    out.reasons.append(
        f"hysteresis ≥ max(2σ, half the noise band) = {_fmt(hysteresis, unit)}: a reading "
        "wandering at a threshold does not chatter"
    )
    out.warning = _round_out(w, step, sign)
    out.alarm = _round_out(a, step, sign)
    out.hysteresis = _round_out(hysteresis, step, 1.0)
    out.reasons.append(
        "these are the lowest safe values; set them higher where the site's physical "
        "levels (a drain's rim, a gas limit) say so"
    )
    _check(out, "warning", cfg.warning, edge, sign, "the noise band", unit, stats, sigma)
    _check(out, "alarm", cfg.alarm, edge, sign, "the noise band", unit, stats, sigma)
    return out


def _check(
    out: Suggestion,
    name: str,
    configured: float | None,
    edge: float,
    sign: float,
    what: str,
    unit: str,
    stats: ValueStats | None = None,
    sigma: float | None = None,
) -> None:
    if configured is None:
        return
    if sign * (configured - edge) <= 0:
        out.checks.append(
            (
                False,
                f"configured {name} {_fmt(configured, unit)} lies INSIDE {what} "
                f"(up to {_fmt(edge, unit)}): it would trip on noise alone",
            )
        )
        return
    if stats is not None and sigma:
        ks = sign * (configured - stats.mean) / sigma
        needed = K_ALARM if name == "alarm" else K_WARNING
        if ks < needed:
            out.cautions.append(
                f"configured {name} {_fmt(configured, unit)} is clear of {what} but only "
                f"{ks:.1f}σ from the baseline (the suggestion keeps {needed:g}σ): noise a "
                "longer run would see may trip it"
            )
            return
        out.checks.append(
            (
                True,
                f"configured {name} {_fmt(configured, unit)} is {ks:.0f}σ from the baseline, "
                f"clear of {what}",
            )
        )
    else:
        out.checks.append((True, f"configured {name} {_fmt(configured, unit)} is clear of {what}"))


def never_closer(
    cfg: SensorConfig, suggested: dict[str, float], *, force: bool = False
) -> tuple[dict[str, float], list[str]]:
    """The suggested thresholds that may be written, and why the others are not.

    A suggestion is the *lowest* safe value from one run's noise; a configured threshold
    further from the baseline was chosen for the site (a gas limit, a drain's rim) and
    its check passed. So nothing is written closer to the baseline than configured (a
    warning or alarm nearer to it, a smaller hysteresis) unless ``force``.
    """
    sign = -1.0 if cfg.direction is Direction.FALLING else 1.0
    if cfg.sta_lta is not None:
        sign = 1.0  # the alarm is a peak: smaller is closer to the baseline
    keep: dict[str, float] = {}
    notes: list[str] = []
    for name, value in suggested.items():
        configured = getattr(cfg, name)
        closer = configured is not None and (
            value < configured if name == "hysteresis" else sign * (value - configured) < 0
        )
        if closer and not force:
            notes.append(
                f"kept the configured {name} {configured:g}: the suggestion {value:g} is "
                f"{'smaller' if name == 'hysteresis' else 'closer to the baseline'} "
                "(give --force to write it anyway)"
            )
            continue
        if closer:
            notes.append(f"--force: {name} {configured:g} -> {value:g}, closer to the baseline")
        keep[name] = value
    return keep, notes


# ---------------------------------------------------------------- reference points


@dataclass(frozen=True, slots=True)
class Point:
    raw: float
    value: float
    std: float
    ts: str


def separation_needed(a: Point, b: Point) -> float:
    """How far apart two points' raw readings must be to tell them apart from noise."""
    return max(4.0 * max(a.std, b.std), 2.0 / ADC_STEPS)


def same_level(a: Point, b: Point) -> bool:
    return abs(a.raw - b.raw) < separation_needed(a, b)


def two_point(a: Point, b: Point, cfg: SensorConfig) -> Calibration:
    """The linear calibration through two reference points, if they are far enough apart."""
    needed = separation_needed(a, b)
    if same_level(a, b):
        raise CalibrationError(
            f"the two raw readings ({a.raw:.4f}, {b.raw:.4f}) differ by less than the noise "
            f"allows ({needed:.4f}): take the points further apart"
        )
    if a.value == b.value:
        raise CalibrationError("the two reference values are equal: take two different levels")
    lo, hi = sorted((a, b), key=lambda p: p.raw)
    return Calibration(raw=(round(lo.raw, 5), round(hi.raw, 5)), value=(lo.value, hi.value))


def mount_height(distance: float, level: float) -> float:
    """HC-SR04: the sensor face above the bottom, from one measured level."""
    height = round(distance + level, 3)
    if not 0 < height <= 10.0:
        raise CalibrationError(
            f"echo distance {distance:.3f} m + level {level:g} m = {height:g} m: not a "
            "plausible mount height (0 … 10 m)"
        )
    return height


# ---------------------------------------------------------------- the state file


def state_path(config: SiagaConfig, *, simulated: bool = False) -> Path:
    """Where baselines and pending points are kept; a simulated run keeps its own, so a
    noiseless simulated baseline never stands in for the real sensor's in check-config."""
    return config.storage.path.parent / (SIMULATED_STATE_FILE if simulated else STATE_FILE)


def load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": 1, "sensors": {}}
    if not isinstance(data, dict) or not isinstance(data.get("sensors"), dict):
        return {"version": 1, "sensors": {}}
    return data


def save_state(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def recorded_stats(data: dict[str, Any], sensor: str) -> RawStats | None:
    entry = data["sensors"].get(sensor, {}).get("stats")
    if not isinstance(entry, dict):
        return None
    try:
        return RawStats(**entry)
    except TypeError:
        return None


def record_stats(data: dict[str, Any], sensor: str, stats: RawStats) -> None:
    data["sensors"].setdefault(sensor, {})["stats"] = asdict(stats)


def pending_points(data: dict[str, Any], sensor: str) -> list[Point]:
    raw = data["sensors"].get(sensor, {}).get("points", [])
    try:
        points = [Point(**p) for p in raw]
    except TypeError:
        return []
    # A point from a hand-edited or older file that is not a number is no reference at all.
    return [p for p in points if all(map(math.isfinite, (p.raw, p.value, p.std)))]


def set_points(data: dict[str, Any], sensor: str, points: list[Point]) -> None:
    data["sensors"].setdefault(sensor, {})["points"] = [asdict(p) for p in points]


# ---------------------------------------------------------------- the config file


def _sensor_table(doc: tomlkit.TOMLDocument, sensor: str) -> Table | InlineTable:
    sensors = doc.get("sensors")
    if not isinstance(sensors, AoT | list):
        raise CalibrationError("the config has no [[sensors]]")
    for item in sensors:
        if isinstance(item, Table | InlineTable) and item.get("id") == sensor:
            return item
    raise CalibrationError(f"no sensor {sensor!r} in the config file")


def _put(table: Table | InlineTable, key: str, value: Any, after: Sequence[str]) -> None:
    """Set ``key``; a new key goes right after the last of ``after`` present, not at the end
    (where it would land below the comment that introduces the next sensor)."""
    if key in table or isinstance(table, InlineTable):
        table[key] = value
        return
    anchor = next((k for k in reversed(after) if k in table), None)
    if anchor is None:
        table[key] = value
    else:
        table.value._insert_after(anchor, key, tomlkit.item(value))


def edit_config(text: str, sensor: str, updates: dict[str, Any]) -> str:
    """The config text with ``updates`` applied to one sensor, all else byte for byte.

    Keys: ``calibration`` (a :class:`Calibration`), ``mount_height_m`` (in ``input``),
    ``warning``, ``alarm``, ``hysteresis``.
    """
    doc = tomlkit.parse(text)
    table = _sensor_table(doc, sensor)
    order = ("id", "kind", "name", "location", "input", "sample_hz", "calibration", "unit")
    for key, value in updates.items():
        if key == "calibration":
            assert isinstance(value, Calibration)
            existing = table.get("calibration")
            if isinstance(existing, InlineTable | Table):
                existing["raw"] = list(value.raw)
                existing["value"] = list(value.value)
            else:
                cal = tomlkit.inline_table()
                cal["raw"] = list(value.raw)
                cal["value"] = list(value.value)
                _put(table, "calibration", cal, order[:6])
        elif key == "mount_height_m":
            inp = table.get("input")
            if not isinstance(inp, InlineTable | Table):
                raise CalibrationError(f"sensor {sensor!r} has no input table")
            inp["mount_height_m"] = value
        else:
            _put(table, key, value, (*order, "warning", "alarm"))
    return tomlkit.dumps(doc)


def check_config_text(text: str, path: Path) -> SiagaConfig:
    """Validate edited config text exactly as the daemon would (ConfigError if not)."""
    from edge.config import ConfigError

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("", f"not valid TOML: {exc}")]) from None
    return validate_config(data, path)


def diff(old: str, new: str, path: Path) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{path} (now)",
            tofile=f"{path} (calibrated)",
        )
    )


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, keeping its mode (a half-written config never exists)."""
    mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.calibrate.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, mode)
        try:
            st = path.stat()
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:
            pass
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # never leave a half-written copy beside the config
        raise
