"""From a sensor's config to its state machine: the one place config meets detection."""

from __future__ import annotations

from collections.abc import Callable

from edge.config import (
    DigitalInput,
    Direction,
    EolInput,
    PulseInput,
    SensorConfig,
    SiagaConfig,
    ZoneConfig,
    ZoneRule,
)
from edge.detect.calibration import identity, linear
from edge.detect.classify import (
    Classifier,
    Contact,
    LoopContact,
    PulseDensity,
    Seismic,
    Thresholds,
)
from edge.detect.coincidence import CoincidenceRule
from edge.detect.eol import loop_check
from edge.detect.highpass import HighPass
from edge.detect.levels import staged, warning_alarm
from edge.detect.machine import SensorMachine, Timing
from edge.detect.pulses import PulseWindow
from edge.detect.rate import RateOfRise
from edge.detect.rules import AnyRule, Rule
from edge.detect.stalta import StaLtaTrigger
from edge.detect.supervision import SupervisionRules
from edge.detect.twodetector import TwoDetector
from edge.detect.types import Reason, State
from edge.detect.zones import Zone, ZoneSet

# A contact that changes state more than this often is a loose wire, not a detector.
DEFAULT_CHATTER_PER_S = 2.0
# Fixed time the ADC of an analog sensor may stay silent before it counts as dead.
DEFAULT_NO_DATA_PERIODS = 10


def classifier_for(cfg: SensorConfig) -> Classifier:
    inp = cfg.input
    if isinstance(inp, DigitalInput):
        return Contact(Reason.MANUAL if cfg.manual else Reason.CONTACT)
    if isinstance(inp, EolInput):
        return LoopContact(inp.loop)
    if isinstance(inp, PulseInput):
        assert cfg.pulses is not None
        p = cfg.pulses
        return PulseDensity(PulseWindow(p.window_s), p.warning, p.alarm)
    if cfg.sta_lta is not None:
        s = cfg.sta_lta
        nsta = max(1, round(s.sta_s * cfg.sample_hz))
        nlta = max(nsta + 1, round(s.lta_s * cfg.sample_hz))
        return Seismic(
            HighPass(s.highpass_hz, cfg.sample_hz),
            StaLtaTrigger(nsta, nlta, s.on, s.off),
            cfg.alarm,
            hold_s=s.lta_s,
        )
    sign = 1.0 if cfg.direction is Direction.RISING else -1.0
    if cfg.stages:
        thresholds, _ = staged(
            [(st.name, st.level, State(st.state.value)) for st in cfg.stages], sign=sign
        )
    else:
        thresholds = warning_alarm(cfg.warning, cfg.alarm, sign=sign)
    rate = None
    if cfg.rate_alarm_per_min is not None:
        arm = None if cfg.rate_arm_above is None else sign * cfg.rate_arm_above
        rate = RateOfRise(cfg.rate_alarm_per_min, cfg.rate_window_s, arm)
    return Thresholds(
        thresholds, cfg.hysteresis, sign=sign, rate=rate, rate_threshold=cfg.rate_alarm_per_min
    )


def supervision_for(cfg: SensorConfig) -> SupervisionRules:
    f = cfg.fault
    sampled = not isinstance(cfg.input, DigitalInput | PulseInput)
    no_data = f.no_data_s
    if no_data is None and sampled:
        no_data = max(DEFAULT_NO_DATA_PERIODS / cfg.sample_hz, 5.0)
    chatter = f.chatter_per_s
    if chatter is None and isinstance(cfg.input, DigitalInput):
        chatter = DEFAULT_CHATTER_PER_S
    return SupervisionRules(
        no_data_s=no_data,
        min=f.min,
        max=f.max,
        stuck_s=f.stuck_s if sampled else None,
        chatter_per_s=chatter,
        recover_s=cfg.delay_off_s,
        verify_s=f.verify_s,
        sample_check=loop_check(cfg.input.loop) if isinstance(cfg.input, EolInput) else None,
    )


def timing_for(cfg: SensorConfig) -> Timing:
    bounce = cfg.input.bounce_s if isinstance(cfg.input, DigitalInput) else 0.0
    # A pressed call point is a person's word, not a transient: it alarms at once
    # (EN 54-2: no delay), the bounce filter only holds its release.
    return Timing(
        delay_on_s=0.0 if cfg.manual else max(cfg.delay_on_s, bounce),
        delay_off_s=max(cfg.delay_off_s, bounce),
        warmup_s=cfg.warmup_s,
    )


def machine_for(cfg: SensorConfig) -> SensorMachine:
    return SensorMachine(
        cfg.id,
        classifier_for(cfg),
        timing=timing_for(cfg),
        supervision=supervision_for(cfg),
        enabled=cfg.enabled,
    )


def calibration_for(cfg: SensorConfig) -> Callable[[float], float]:
    """Raw reading (an MCP3008's fraction of full scale) to the sensor's unit (for a
    supervised loop: its resistance in ohms)."""
    if isinstance(cfg.input, EolInput):
        return cfg.input.loop.ohm
    if cfg.calibration is not None:
        return linear(cfg.calibration.raw, cfg.calibration.value)
    return identity


def rule_for(zone: ZoneConfig, detectors: list[str]) -> Rule:
    if zone.rule is ZoneRule.COINCIDENCE:
        return CoincidenceRule(
            {m: zone.weight(m) for m in detectors},
            zone.threshold,
            extension_s=zone.window_s,
            max_length_s=zone.max_length_s,
        )
    if zone.rule is ZoneRule.TWO_DETECTOR:
        return TwoDetector(detectors, zone.confirm_s, by_time=zone.confirm_by_time)
    return AnyRule()


def zone_for(config: SiagaConfig, zone: ZoneConfig) -> Zone:
    manual = {m for m in zone.members if config.sensor(m).manual}
    detectors = [m for m in zone.members if m not in manual]
    call_points = [m for m in zone.members if m in manual]
    return Zone(zone.id, rule_for(zone, detectors), detectors, call_points)


def zones_for(config: SiagaConfig) -> ZoneSet:
    """The zones and latches of a config: every sensor transition goes through it."""
    latching = [s.id for s in config.sensors if s.latch] + [z.id for z in config.zones if z.latch]
    return ZoneSet([zone_for(config, z) for z in config.zones], latching)
