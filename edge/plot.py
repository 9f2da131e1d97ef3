"""``replay --plot``: the trace, its thresholds and the states a sensor went through.

matplotlib is an optional extra (``pip install 'siaga-edge[plot]'``): it is imported only
here and only when a plot is asked for, so the daemon on a Pi never loads it. The figure
is drawn with matplotlib's object API on the Agg canvas, never pyplot, so nothing global
(backend, open figures) changes in the calling process.

Panels, top to bottom: the trace with every configured threshold and stage; what the
detector computes from it (the high-passed signal and STA/LTA ratio, the least-squares
rise rate, or the pulse count in its window), with the lines it is compared against; the
published state as a step line. The background of every panel is tinted by that state.
A zone's replay draws each member's trace, then a timeline of the members' and the
zone's states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import Direction, SensorConfig, SiagaConfig, ZoneConfig
from edge.detect.build import classifier_for
from edge.detect.classify import PulseDensity, Seismic, Thresholds
from edge.detect.types import State
from edge.replay import Replay, ZoneReplay

INSTALL_HINT = "--plot needs matplotlib: pip install 'siaga-edge[plot]'"

COLOURS = {
    State.STARTING: "#9e9e9e",
    State.NORMAL: "#2e7d32",
    State.WARNING: "#f9a825",
    State.ALARM: "#c62828",
    State.FAULT: "#6a1b9a",
    State.DISABLED: "#cfd8dc",
}
STATE_ROWS = [
    State.DISABLED,
    State.STARTING,
    State.NORMAL,
    State.WARNING,
    State.ALARM,
    State.FAULT,
]


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    """Fail early, before any work, when the optional extra is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailableError(INSTALL_HINT) from None


@dataclass
class _Lines:
    """Horizontal reference lines of one panel: (y, label, colour, style)."""

    items: list[tuple[float, str, str, str]] = field(default_factory=list)

    def add(self, y: float | None, label: str, colour: str, style: str = "--") -> None:
        if y is not None:
            self.items.append((y, label, colour, style))


@dataclass
class _Detail:
    """What the detector computed per sample, for the middle panel."""

    label: str
    t: list[float]
    y: list[float]
    lines: _Lines
    steps: bool = False


def _level_lines(cfg: SensorConfig) -> _Lines:
    lines = _Lines()
    for name, state in (("warning", State.WARNING), ("alarm", State.ALARM)):
        at = getattr(cfg, name)
        if at is None:
            continue
        lines.add(at, f"{name} {at:g}", COLOURS[state])
        if cfg.hysteresis > 0:
            release = (
                at - cfg.hysteresis if cfg.direction is Direction.RISING else at + cfg.hysteresis
            )
            lines.add(release, f"{name} release {release:g}", "#757575", ":")
    for stage in cfg.stages:
        colour = COLOURS[State(stage.state.value)]
        lines.add(stage.level, f"{stage.name} ({stage.state.value}) {stage.level:g}", colour)
    f = cfg.fault
    if f.min is not None:
        lines.add(f.min, f"fault below {f.min:g}", COLOURS[State.FAULT], "-.")
    if f.max is not None:
        lines.add(f.max, f"fault above {f.max:g}", COLOURS[State.FAULT], "-.")
    if cfg.rate_arm_above is not None:
        lines.add(cfg.rate_arm_above, f"rate armed above {cfg.rate_arm_above:g}", "#1565c0", ":")
    return lines


def _detail(cfg: SensorConfig, samples: Sequence[tuple[float, float]]) -> _Detail | None:
    """Re-run the sensor's classifier alone to show its inner signal."""
    classifier = classifier_for(cfg)
    ts = [t for t, _ in samples]
    if isinstance(classifier, Seismic):
        ratios: list[float] = []
        for t, v in samples:
            classifier.classify(t, v)
            ratios.append(classifier.trigger.ratio)
        lines = _Lines()
        lines.add(classifier.trigger.on, f"on {classifier.trigger.on:g}", COLOURS[State.WARNING])
        lines.add(classifier.trigger.off, f"off {classifier.trigger.off:g}", "#757575", ":")
        return _Detail("STA/LTA", ts, ratios, lines)
    if isinstance(classifier, Thresholds) and classifier.rate is not None:
        rate = classifier.rate
        slopes: list[float] = []
        for t, v in samples:
            classifier.classify(t, v)
            slope = rate.slope()
            slopes.append(float("nan") if slope is None else slope * 60.0)
        lines = _Lines()
        per_min = rate.alarm_per_s * 60.0
        lines.add(per_min, f"rate alarm {per_min:g}/min", COLOURS[State.ALARM])
        return _Detail(f"rise, {cfg.unit or 'unit'}/min", ts, slopes, lines)
    if isinstance(classifier, PulseDensity):
        # The count steps up at each pulse and down as each one leaves the window.
        window = classifier.window.window_s
        pulses = [t for t, v in samples if v >= 0.5]
        end = samples[-1][0] if samples else 0.0
        at = sorted({t for t, _ in samples} | {p + window for p in pulses if p + window <= end})
        counts: list[float] = []
        j = 0
        for t in at:
            while j < len(samples) and samples[j][0] <= t:
                classifier.classify(*samples[j])
                j += 1
            counts.append(float(classifier.window.count(t)))
        lines = _Lines()
        if classifier.warning is not None:
            lines.add(
                float(classifier.warning), f"warning {classifier.warning}", COLOURS[State.WARNING]
            )
        lines.add(float(classifier.alarm), f"alarm {classifier.alarm}", COLOURS[State.ALARM])
        return _Detail(f"pulses in {window:g} s", at, counts, lines, steps=True)
    return None


def _filtered(cfg: SensorConfig, samples: Sequence[tuple[float, float]]) -> list[float] | None:
    classifier = classifier_for(cfg)
    if not isinstance(classifier, Seismic):
        return None
    out = []
    for t, v in samples:
        classifier.classify(t, v)
        out.append(classifier.filtered)
    return out


def _draw_lines(ax: Any, lines: _Lines) -> None:
    for y, label, colour, style in lines.items:
        ax.axhline(y, color=colour, linestyle=style, linewidth=1.0, label=label)


def _shade(ax: Any, spans: list[tuple[float, float, State]]) -> None:
    for start, end, state in spans:
        ax.axvspan(start, end, color=COLOURS[state], alpha=0.12, linewidth=0)


def plot_replay(
    cfg: SensorConfig,
    samples: Sequence[tuple[float, float]],
    result: Replay,
    path: Path,
) -> None:
    """Draw the replay to ``path`` (PNG, or any format matplotlib knows by extension)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    end = max(result.end_t_s, result.events[-1][0] if result.events else 0.0)
    changes = [(t, event.state) for t, event in result.events]
    spans = [
        (t, changes[i + 1][0] if i + 1 < len(changes) else end, state)
        for i, (t, state) in enumerate(changes)
    ]
    detail = _detail(cfg, samples)
    rows = 3 if detail is not None else 2
    fig = Figure(figsize=(11, 2.6 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, height_ratios=[3, 2, 1] if rows == 3 else [3, 1])
    top, bottom = axes[0], axes[-1]

    ylabel = f"value ({cfg.unit})" if cfg.unit else "value"
    filtered = _filtered(cfg, samples)
    if filtered is not None:
        top.plot(ts, vs, color="#90a4ae", linewidth=0.6, label="trace")
        top.plot(ts, filtered, color="#263238", linewidth=0.7, label="high-passed")
        if cfg.alarm is not None:
            top.axhline(cfg.alarm, color=COLOURS[State.ALARM], linestyle="--", linewidth=1.0)
            top.axhline(
                -cfg.alarm,
                color=COLOURS[State.ALARM],
                linestyle="--",
                linewidth=1.0,
                label=f"alarm ±{cfg.alarm:g}",
            )
    elif cfg.input.type == "pulse":
        pulses = [t for t, v in samples if v >= 0.5]
        top.vlines(pulses, 0.0, 1.0, color="#263238", linewidth=0.8, label="pulses")
        top.set_yticks([])
        ylabel = "pulses"
    else:
        draw = "steps-post" if cfg.input.type == "digital" else "default"
        top.plot(ts, vs, color="#263238", linewidth=0.8, drawstyle=draw, label="trace")
        _draw_lines(top, _level_lines(cfg))
    top.set_ylabel(ylabel)
    top.set_title(f"{cfg.id} ({cfg.kind.value}): replay of {len(samples)} samples")
    top.legend(loc="upper left", fontsize="small", ncols=2)

    if detail is not None:
        mid = axes[1]
        style = "steps-post" if detail.steps else "default"
        mid.plot(detail.t, detail.y, color="#1565c0", linewidth=0.8, drawstyle=style)
        _draw_lines(mid, detail.lines)
        mid.set_ylabel(detail.label)
        mid.legend(loc="upper left", fontsize="small")

    rank = {state: i for i, state in enumerate(STATE_ROWS)}
    step_t = [t for t, _ in changes] + [end]
    step_y = [rank[s] for _, s in changes] + [rank[changes[-1][1]]] if changes else []
    if changes:
        bottom.step(step_t, step_y, where="post", color="#263238", linewidth=1.2)
        for t, event in result.events:
            bottom.plot([t], [rank[event.state]], "o", color=COLOURS[event.state], markersize=4)
    bottom.set_yticks(range(len(STATE_ROWS)), [s.value for s in STATE_ROWS])
    bottom.set_ylim(-0.5, len(STATE_ROWS) - 0.5)
    bottom.set_ylabel("state")
    bottom.set_xlabel("t_s (seconds into the trace)")
    for ax in axes:
        _shade(ax, spans)
        ax.grid(True, alpha=0.3)
    if result.pending is not None:
        p = result.pending
        bottom.annotate(
            f"pending: {p.state.value} at {p.t_s:.1f} s",
            xy=(end, rank[changes[-1][1]] if changes else 0),
            fontsize="small",
            ha="right",
            va="bottom",
        )
    fig.savefig(path, dpi=110)


def _spans(events: list[tuple[float, State]], end: float) -> list[tuple[float, float, State]]:
    return [
        (t, events[i + 1][0] if i + 1 < len(events) else end, state)
        for i, (t, state) in enumerate(events)
    ]


def _draw_trace(ax: Any, cfg: SensorConfig, samples: Sequence[tuple[float, float]]) -> None:
    """One member's trace as :func:`plot_replay`'s top panel draws it."""
    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    filtered = _filtered(cfg, samples)
    if filtered is not None:
        ax.plot(ts, vs, color="#90a4ae", linewidth=0.6, label="trace")
        ax.plot(ts, filtered, color="#263238", linewidth=0.7, label="high-passed")
        if cfg.alarm is not None:
            for sign in (1.0, -1.0):
                ax.axhline(sign * cfg.alarm, color=COLOURS[State.ALARM], linestyle="--", lw=1.0)
    elif cfg.input.type == "pulse":
        ax.vlines([t for t, v in samples if v >= 0.5], 0.0, 1.0, color="#263238", lw=0.8)
        ax.set_yticks([])
    else:
        draw = "steps-post" if cfg.input.type == "digital" else "default"
        ax.plot(ts, vs, color="#263238", linewidth=0.8, drawstyle=draw, label="trace")
        _draw_lines(ax, _level_lines(cfg))
    ax.set_ylabel(cfg.unit or "value")
    ax.set_title(f"{cfg.id} ({cfg.kind.value}{', call point' if cfg.manual else ''})", loc="left")


def plot_zone_replay(
    config: SiagaConfig,
    zone: ZoneConfig,
    traces: Mapping[str, Sequence[tuple[float, float]]],
    result: ZoneReplay,
    path: Path,
) -> None:
    """Draw a zone's replay: each member's trace tinted by its state, then one timeline of
    states per member with the zone's on top."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    members = list(zone.members)
    end = max(result.end_t_s, result.events[-1][0] if result.events else 0.0)
    changes: dict[str, list[tuple[float, State]]] = {m: [] for m in [zone.id, *members]}
    for t, event in result.events:
        changes[event.sensor].append((t, event.state))
    n = len(members)
    fig = Figure(figsize=(11, 1.9 * n + 1.6 + 0.3 * n), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n + 1, 1, sharex=True, height_ratios=[2.0] * n + [0.8 + 0.3 * n])
    for ax, member in zip(axes[:-1], members, strict=True):
        _draw_trace(ax, config.sensor(member), traces[member])
        _shade(ax, _spans(changes[member], end))
        ax.grid(True, alpha=0.3)
    timeline = axes[-1]
    rows = [zone.id, *members]
    for y, ident in enumerate(reversed(rows)):
        for start, stop, state in _spans(changes[ident], end):
            timeline.broken_barh(
                [(start, max(stop - start, 1e-9))], (y - 0.4, 0.8), color=COLOURS[state]
            )
    timeline.set_yticks(
        range(len(rows)), [f"{r} (zone)" if r == zone.id else r for r in reversed(rows)]
    )
    timeline.set_xlabel("t_s (seconds into the traces)")
    timeline.legend(
        handles=[Patch(color=COLOURS[s], label=s.value) for s in STATE_ROWS],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize="small",
        ncols=len(STATE_ROWS),
        frameon=False,
    )
    timeline.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"zone {zone.id} ({zone.rule.value}): replay of {n} members")
    fig.savefig(path, dpi=110)
