"""Trace files: a recorded signal as ``t_s,value`` CSV, for replay, scenarios and calibration.

The format is deliberately tiny (cli.md, "Trace files") so a technician can read one in
a text editor and make one in a spreadsheet: a ``t_s,value`` header, one sample a line,
``#`` comment lines, blank lines allowed. A malformed file is refused with the file, the
line number and the reason, because a half-read trace would replay a different event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

HEADER = ("t_s", "value")

Samples = list[tuple[float, float]]


class TraceError(ValueError):
    """A trace that cannot be used: names the file, the line (when there is one) and why."""

    def __init__(self, name: str, line: int | None, reason: str) -> None:
        self.name = name
        self.line = line
        self.reason = reason
        where = f"{name}, line {line}" if line is not None else name
        super().__init__(f"{where}: {reason}")


def parse_trace(lines: Iterable[str], name: str) -> Samples:
    """Samples ``(t_s, value)`` from the lines of a trace file; ``name`` labels errors."""
    samples: Samples = []
    header_seen = False
    last_line = 0
    for number, raw in enumerate(lines, start=1):
        last_line = number
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = [f.strip() for f in text.split(",")]
        if not header_seen:
            if tuple(fields) != HEADER:
                raise TraceError(name, number, f"expected the header 't_s,value', got {text!r}")
            header_seen = True
            continue
        samples.append(_sample(fields, name, number, samples[-1][0] if samples else None))
    if not header_seen:
        raise TraceError(name, None, "no header 't_s,value' (is this a trace file?)")
    if not samples:
        raise TraceError(name, last_line, "no samples after the header")
    return samples


def _sample(
    fields: list[str], name: str, number: int, previous_t: float | None
) -> tuple[float, float]:
    if len(fields) != 2:
        raise TraceError(name, number, f"expected 2 fields 't_s,value', got {len(fields)}")
    numbers: list[float] = []
    for label, field in zip(HEADER, fields, strict=True):
        try:
            x = float(field)
        except ValueError:
            raise TraceError(name, number, f"{label} {field!r} is not a number") from None
        if not math.isfinite(x):
            raise TraceError(name, number, f"{label} {field!r} is not a finite number")
        numbers.append(x)
    t, value = numbers
    if t < 0:
        raise TraceError(name, number, f"t_s {t:g} is negative; t_s counts from the start")
    if previous_t is not None and t <= previous_t:
        raise TraceError(
            name, number, f"t_s must increase: {t:g} does not come after {previous_t:g}"
        )
    return t, value


def load_trace(path: Path) -> Samples:
    """Read and parse a trace file; any problem, reading included, is a TraceError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TraceError(str(path), None, "no such file") from None
    except UnicodeDecodeError as exc:
        raise TraceError(str(path), None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise TraceError(str(path), None, exc.strerror or str(exc)) from None
    return parse_trace(text.splitlines(), str(path))


def format_trace(
    samples: Sequence[tuple[float, float]], *, comments: Iterable[str] = (), decimals: int = 4
) -> str:
    """The text of a trace file; checked by parsing it back, so it always loads again.

    Rounding to ``decimals`` could merge two close timestamps: that is refused here,
    where the caller can still choose more decimals, not at replay time.
    """
    out = [f"# {line}".rstrip() for text in comments for line in text.splitlines() or [""]]
    out.append(",".join(HEADER))
    out += [f"{t:.{decimals}f},{v:.{decimals}f}" for t, v in samples]
    parse_trace(out, "<trace being written>")
    return "\n".join(out) + "\n"


def write_trace(
    path: Path,
    samples: Sequence[tuple[float, float]],
    *,
    comments: Iterable[str] = (),
    decimals: int = 4,
) -> None:
    """Write samples as a trace file (``calibrate --record``), with ``#`` comment lines first."""
    path.write_text(format_trace(samples, comments=comments, decimals=decimals), encoding="utf-8")
