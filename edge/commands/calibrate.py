"""Sample one sensor, report its baseline and noise, suggest thresholds; record and apply
calibration points.

Sampling: from the running daemon over its control socket when one runs (the daemon
keeps watching; calibrate only listens in), else from the pins on the configured pin
factory, or from mock pins driven by a scenario with ``--simulate SCENARIO``.

Report: mean, standard deviation, min, max and noise (peak-to-peak) in the sensor's unit
and raw, and the lowest thresholds that stay clear of that noise, with the reasoning:
warning at least 6σ beyond the baseline and beyond the noise band, alarm at least 10σ,
hysteresis at least 2σ or half the band. The baseline is saved in ``calibration.json``
next to the event store, where ``check-config`` looks for thresholds inside the noise.
``--record FILE.csv`` also saves the trace, for ``replay``.

Calibration: ``--point VALUE`` says what the sensor truly measures during this run (a
measured water depth, a reference gas). An MCP3008 channel needs two points at different
levels (the first waits in ``calibration.json``); an HC-SR04 needs one (it sets
``mount_height_m``). ``--write`` then updates the config file in place, keeping every
comment and the layout: the diff is shown, the result validated as the daemon would, and
an invalid config is never written. ``--thresholds`` also writes the suggested warning,
alarm and hysteresis, but never one closer to the baseline than the configured value
(a threshold set for the site's physical levels stays) unless ``--force``; a
``--simulate`` baseline is no site's noise, so ``--thresholds`` is refused with it.
After writing, reload the daemon (``systemctl reload siaga-edge``).

Exit 0, 2 for a bad config, sensor or argument, 1 when the sensor cannot be read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.prompt import Confirm
from rich.table import Table

from edge.calibrate import (
    STEADY_RAW_STD,
    CalibrationError,
    Point,
    RawStats,
    Suggestion,
    ValueStats,
    check_config_text,
    diff,
    edit_config,
    load_state,
    mount_height,
    never_closer,
    pending_points,
    record_stats,
    recorded_stats,
    same_level,
    save_state,
    set_points,
    state_path,
    suggest,
    to_value,
    two_point,
    value_stats,
    write_atomically,
)
from edge.clock import SystemClock, iso_ms
from edge.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, argtypes
from edge.commands.readings import LocalSensors
from edge.config import (
    ConfigError,
    DigitalInput,
    EolInput,
    Hcsr04Input,
    PulseInput,
    SensorConfig,
    SiagaConfig,
    config_path,
    load_config,
)
from edge.control import ControlClient, ControlDeniedError, ControlError, NoDaemonError
from edge.lint import LintWarning, lint
from edge.sensors.factory import open_hint
from edge.trace import write_trace
from edge.usererror import UserInputError

READ_EVERY_S = 0.2

Samples = list[tuple[float, float | None, float | None]]  # (t, value, raw)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sensor", metavar="SENSOR", help="sensor id from the config")
    parser.add_argument(
        "--seconds", type=argtypes.seconds, default=30.0, metavar="N", help="how long"
    )
    parser.add_argument("--record", metavar="FILE.csv", type=Path, help="save the trace")
    parser.add_argument(
        "--point",
        type=argtypes.finite,
        metavar="VALUE",
        help="the true value now (calibration point)",
    )
    parser.add_argument("--write", action="store_true", help="apply to the config file")
    parser.add_argument(
        "--thresholds", action="store_true", help="with --write: also the suggested thresholds"
    )
    parser.add_argument("--simulate", metavar="SCENARIO", type=Path, help="mock pins")
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument("--yes", action="store_true", help="write without asking")
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --thresholds: also write values closer to the baseline than configured",
    )


def run(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    config = load_config(path)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    try:
        cfg = config.sensor(args.sensor)
    except KeyError as exc:
        err.print(f"siaga-edge calibrate: {exc.args[0]}", markup=False)
        return EXIT_USAGE
    if isinstance(cfg.input, DigitalInput | PulseInput | EolInput):
        err.print(
            f"siaga-edge calibrate: {cfg.id} is a {cfg.input.type} input: it has no analog "
            "value to calibrate (check it with `siaga-edge readings`)"
        )
        return EXIT_USAGE
    if args.thresholds and not args.write:
        err.print("siaga-edge calibrate: --thresholds goes with --write")
        return EXIT_USAGE
    if args.thresholds and args.simulate is not None:
        err.print(
            "siaga-edge calibrate: --thresholds with --simulate would write a simulated "
            "baseline's thresholds into the config; calibrate the real sensor for thresholds"
        )
        return EXIT_USAGE
    if args.write and not args.yes and not sys.stdin.isatty():
        # Said now, not after the technician has held the sensor steady for --seconds.
        err.print("siaga-edge calibrate: no terminal to confirm --write on; add --yes")
        return EXIT_USAGE
    if args.record is not None and (problem := _unwritable(args.record)):
        # Said now, not after the technician has held the sensor steady for --seconds.
        err.print(f"siaga-edge calibrate: --record {args.record}: {problem}", markup=False)
        return EXIT_USAGE
    try:
        samples = sample(config, cfg, args.seconds, args.simulate, err, quiet=args.json)
    except UserInputError:
        raise  # a bad scenario: exit 2 from the command line, naming where
    except Exception as exc:  # pins that cannot be opened, SPI off, a daemon gone
        err.print(
            f"siaga-edge calibrate: cannot read {cfg.id}: {exc}; {open_hint(exc)}", markup=False
        )
        return EXIT_FAILURE
    try:
        return _report(args, path, config, cfg, samples, out, err)
    except CalibrationError as exc:
        err.print(f"siaga-edge calibrate: {exc}", markup=False)
        return EXIT_USAGE


# ---------------------------------------------------------------- sampling


def sample(
    config: SiagaConfig,
    cfg: SensorConfig,
    seconds: float,
    simulate: Path | None,
    err: Console,
    *,
    quiet: bool = False,
) -> Samples:
    """``seconds`` of one sensor's samples, from the daemon, the pins or a scenario."""
    clock = SystemClock()
    got: Samples = []
    progress = Progress(
        TextColumn(f"sampling {cfg.id}"),
        BarColumn(),
        TextColumn("{task.fields[n]} samples"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )
    client: ControlClient | None = None
    local: LocalSensors | None = None
    if simulate is None:
        try:
            client = ControlClient(config.control.socket)
            client.request("tap_start", sensor=cfg.id)
        except ControlDeniedError:
            raise
        except NoDaemonError:
            client = None
    try:
        if client is None:
            local = LocalSensors(config, clock, scenario=simulate, only=cfg.id)
        source = "the running daemon" if client is not None else local.label if local else ""
        if not quiet:
            err.print(f"[dim]reading {cfg.id} from {escape(source)} for {seconds:g} s[/]")
        start = clock.monotonic()
        with progress:
            task = progress.add_task("", total=seconds, n=0)
            while True:
                elapsed = clock.monotonic() - start
                if client is not None:
                    rows = client.request("tap_read", sensor=cfg.id)["samples"]
                    got += [(float(t), v, r) for t, v, r in rows]
                elif local is not None:
                    got += [(s.t, s.value, s.raw) for s in local.poll() if s.sensor == cfg.id]
                progress.update(task, completed=min(elapsed, seconds), n=len(got))
                if elapsed >= seconds:
                    break
                time.sleep(min(READ_EVERY_S, max(0.0, seconds - elapsed)))
        return [s for s in got if start <= s[0] <= start + seconds]
    finally:
        if client is not None:
            with contextlib.suppress(ControlError):
                client.request("tap_stop", sensor=cfg.id)
            client.close()
        if local is not None:
            local.close()


# ---------------------------------------------------------------- report


def _report(  # noqa: C901 (one section of the report per check)
    args: argparse.Namespace,
    path: Path,
    config: SiagaConfig,
    cfg: SensorConfig,
    samples: Samples,
    out: Console,
    err: Console,
) -> int:
    now_ts = iso_ms(time.time())
    raw = RawStats.of([r for _, _, r in samples], args.seconds, now_ts)
    stats = value_stats(cfg, raw)
    state_file = state_path(config, simulated=args.simulate is not None)
    state = load_state(state_file)
    report: dict[str, Any] = {
        "sensor": cfg.id,
        "samples": raw.n,
        "missing": raw.missing,
        "seconds": args.seconds,
        "unit": cfg.unit,
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.min,
        "max": stats.max,
        "noise": stats.noise,
        "raw": {"mean": raw.mean, "std": raw.std, "min": raw.min, "max": raw.max},
    }
    updates: dict[str, Any] = {}
    notes: list[str] = []
    if args.point is not None:
        updates, point_notes = _points(cfg, raw, args.point, state, now_ts)
        notes += point_notes
        report["calibration_update"] = {
            k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v)
            for k, v in updates.items()
        }
    else:
        record_stats(state, cfg.id, raw)
    # Thresholds come from a baseline (this run, or the last one recorded when this run
    # sampled a calibration point), in the units the config will have once written.
    baseline = raw if args.point is None else recorded_stats(state, cfg.id)
    suggestion: Suggestion | None = None
    if baseline is not None:
        effective = _with(cfg, updates)
        suggestion = suggest(effective, value_stats(effective, baseline))
        if baseline is not raw:
            suggestion.reasons.insert(0, f"from the baseline recorded {baseline.ts}")
        report["suggested"] = suggestion.updates()
        report["reasons"] = suggestion.reasons
        report["checks"] = [{"ok": ok, "text": text} for ok, text in suggestion.checks]
        report["cautions"] = suggestion.cautions
    else:
        notes.append(
            "no baseline recorded for threshold suggestions: run calibrate without --point "
            "while the sensor is at rest"
        )
    try:
        save_state(state_file, state)
        report["state_file"] = str(state_file)
    except OSError as exc:
        notes.append(f"could not save {state_file}: {exc}")
    if args.record is not None:
        _record(args.record, cfg, samples, path, stats)
        notes.append(
            f"trace saved to {args.record} (replay it: siaga-edge replay {cfg.id} {args.record})"
        )
        report["record"] = str(args.record)
    if args.thresholds:
        if suggestion is None:
            err.print("siaga-edge calibrate: --thresholds needs a recorded baseline first")
            return EXIT_USAGE
        allowed, kept = never_closer(_with(cfg, updates), suggestion.updates(), force=args.force)
        updates.update(allowed)
        notes += kept
    if args.json:
        report["notes"] = notes
    else:
        _print_report(out, cfg, raw, stats, suggestion, notes)
    code = EXIT_OK
    if args.write:
        if not updates:
            err.print("nothing to write: give --point VALUE (or --thresholds)")
        else:
            code = write_config(path, cfg, updates, out, err, yes=args.yes)
            report["written"] = code == EXIT_OK
            if code == EXIT_OK and args.point is not None and "calibration" in updates:
                set_points(state, cfg.id, [])
                save_state(state_file, state)
    elif updates and not args.json:
        err.print("apply with --write (add --thresholds for the suggested thresholds)")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return code


def _unwritable(file: Path) -> str | None:
    if file.is_dir():
        return "is a directory"
    folder = file.parent if str(file.parent) else Path(".")
    if not folder.is_dir():
        return f"no such directory {folder}"
    if not os.access(folder, os.W_OK) or (file.exists() and not os.access(file, os.W_OK)):
        return "permission denied"
    return None


def _with(cfg: SensorConfig, updates: dict[str, Any]) -> SensorConfig:
    if "calibration" in updates:
        return cfg.model_copy(update={"calibration": updates["calibration"]})
    if "mount_height_m" in updates and isinstance(cfg.input, Hcsr04Input):
        inp = cfg.input.model_copy(update={"mount_height_m": updates["mount_height_m"]})
        return cfg.model_copy(update={"input": inp})
    return cfg


def _points(
    cfg: SensorConfig, raw: RawStats, value: float, state: dict[str, Any], ts: str
) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    if raw.std > STEADY_RAW_STD:
        notes.append(f"the raw reading was not steady (σ {raw.std:.4f}): is the reference stable?")
    if isinstance(cfg.input, Hcsr04Input):
        height = mount_height(raw.median, value)
        notes.append(
            f"echo distance {raw.median:.3f} m (median) + level {value:g} m: "
            f"mount_height_m = {height:g} "
            f"(now {cfg.input.mount_height_m:g})"
        )
        return {"mount_height_m": height}, notes
    point = Point(raw=raw.median, value=value, std=raw.std, ts=ts)
    pending = [p for p in pending_points(state, cfg.id) if p.value != value]
    if pending and same_level(pending[-1], point):
        set_points(state, cfg.id, [point])
        notes.append(
            f"point 1 replaced: this run is at the level of the waiting point (raw "
            f"{pending[-1].raw:.4f} ↔ {pending[-1].value:g}), so it takes its place as raw "
            f"{point.raw:.4f} ↔ {value:g} {cfg.unit}; now bring the sensor to a clearly "
            "different level and run again with --point"
        )
        return {}, notes
    if not pending:
        set_points(state, cfg.id, [point])
        notes.append(
            f"point 1 recorded: raw {point.raw:.4f} ↔ {value:g} {cfg.unit}; now bring the "
            "sensor to a clearly different level and run again with --point"
        )
        return {}, notes
    calibration = two_point(pending[-1], point, cfg)
    set_points(state, cfg.id, [pending[-1], point])
    notes.append(
        f"two-point calibration: raw {list(calibration.raw)} ↔ {list(calibration.value)} {cfg.unit}"
    )
    return {"calibration": calibration}, notes


def _record(
    file: Path, cfg: SensorConfig, samples: Samples, config_file: Path, stats: ValueStats
) -> None:
    good = [(t, v) for t, v, _ in samples if v is not None]
    if not good:
        raise CalibrationError("no valid sample to record")
    t0 = good[0][0]
    write_trace(
        file,
        [(t - t0, v) for t, v in good],
        comments=[
            f"siaga-edge calibrate {cfg.id} ({cfg.kind.value}, {cfg.input.type}), "
            f"unit {cfg.unit or '-'}",
            f"config {config_file}, recorded {iso_ms(time.time())}",
            f"mean {stats.mean:.6g} std {stats.std:.6g} min {stats.min:.6g} max {stats.max:.6g}",
        ],
        decimals=6,
    )


def _print_report(
    out: Console,
    cfg: SensorConfig,
    raw: RawStats,
    stats: ValueStats,
    suggestion: Suggestion | None,
    notes: list[str],
) -> None:
    unit = cfg.unit
    table = Table(title=f"{cfg.id}: {raw.n} samples in {raw.seconds:g} s", title_justify="left")
    table.add_column("")
    table.add_column(f"value ({unit or '-'})", justify="right")
    table.add_column("raw", justify="right")
    for name, v, r in (
        ("mean", stats.mean, raw.mean),
        ("std (σ)", stats.std, raw.std),
        ("min", stats.min, raw.min),
        ("max", stats.max, raw.max),
        ("noise (peak-to-peak)", stats.noise, raw.max - raw.min),
    ):
        table.add_row(name, f"{v:.5g}", f"{r:.5g}")
    if raw.missing:
        table.add_row("failed reads", str(raw.missing), "", style="bold red")
    out.print(table)
    if suggestion is None:
        for note in notes:
            out.print(f"[cyan]→[/] {escape(note)}")
        return
    suggested = suggestion.updates()
    if suggested:
        out.print(
            "[bold]suggested:[/] "
            + ", ".join(f"{k} = {v:g}" for k, v in suggested.items())
            + (f" {unit}" if unit else "")
        )
    for reason in suggestion.reasons:
        out.print(f"  • {escape(reason)}")
    for ok, text in suggestion.checks:
        out.print(("  [green]✓[/] " if ok else "  [bold red]✗[/] ") + escape(text))
    for text in suggestion.cautions:
        out.print("  [yellow]![/] " + escape(text))
    for note in notes:
        out.print(f"[cyan]→[/] {escape(note)}")


def _new_warnings(old_text: str, edited: SiagaConfig, path: Path) -> list[LintWarning]:
    """check-config warnings the edit brings in: valid is not enough to write it."""
    before = {str(w) for w in lint(check_config_text(old_text, path))}
    return [w for w in lint(edited) if str(w) not in before]


def write_config(
    path: Path,
    cfg: SensorConfig,
    updates: dict[str, Any],
    out: Console,
    err: Console,
    *,
    yes: bool,
) -> int:
    old = path.read_text(encoding="utf-8")
    new = edit_config(old, cfg.id, updates)
    changes = diff(old, new, path)
    if not changes:
        err.print("the config already says this; nothing to write")
        return EXIT_OK
    for line in changes.splitlines():
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        err.print(f"[{style}]{escape(line)}[/]")
    try:
        edited = check_config_text(new, path)
    except ConfigError as exc:
        err.print(f"[bold red]not written:[/] the result would be invalid\n{escape(str(exc))}")
        return EXIT_USAGE
    introduced = _new_warnings(old, edited, path)
    if introduced:
        err.print(
            "[bold red]not written:[/] check-config would warn about the result:\n"
            + "\n".join(escape(str(w)) for w in introduced)
            + "\n(a baseline sampled while the sensor was not at rest gives thresholds it "
            "cannot reach: calibrate again at rest, or set them by hand)"
        )
        return EXIT_USAGE
    if not yes and not Confirm.ask(f"write {path}?", console=err, default=False):
        err.print("not written")
        return EXIT_OK
    try:
        write_atomically(path, new)
    except OSError as exc:
        err.print(f"siaga-edge calibrate: cannot write {path}: {exc}", markup=False)
        return EXIT_FAILURE
    err.print(f"[green]written[/] {path}; apply it with: systemctl reload siaga-edge")
    return EXIT_OK


__all__ = ["run", "sample", "to_value"]
