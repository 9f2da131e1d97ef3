"""Trace CSV files: the format of cli.md, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.trace import TraceError, format_trace, load_trace, parse_trace, write_trace

DATA = Path(__file__).resolve().parent.parent / "edge" / "data"


def lines(text: str) -> list[str]:
    return text.strip("\n").splitlines()


def test_a_good_trace_parses_to_time_value_pairs() -> None:
    assert parse_trace(lines("t_s,value\n0,0.5\n0.01,0.52\n0.02,-0.1\n"), "t.csv") == [
        (0.0, 0.5),
        (0.01, 0.52),
        (0.02, -0.1),
    ]


def test_comments_blank_lines_and_spaces_are_ignored() -> None:
    text = "# recorded at Blok A\n\nt_s, value\n# quiet\n0.0, 1.0\n\n  1.5 ,2.0  \n"
    assert parse_trace(lines(text), "t.csv") == [(0.0, 1.0), (1.5, 2.0)]


def test_a_malformed_value_is_refused_naming_file_and_line() -> None:
    text = "# header comment\nt_s,value\n0.0,1.0\n0.1,abc\n"
    with pytest.raises(TraceError, match=r"^t\.csv, line 4: value 'abc' is not a number$"):
        parse_trace(lines(text), "t.csv")


def test_a_line_with_the_wrong_number_of_fields_names_its_line() -> None:
    with pytest.raises(TraceError, match=r"line 3: expected 2 fields"):
        parse_trace(lines("t_s,value\n0.0,1.0\n0.1,1.0,7\n"), "t.csv")


@pytest.mark.parametrize("t", ["0.1", "0.05"])
def test_t_s_that_does_not_increase_is_refused_naming_the_line(t: str) -> None:
    with pytest.raises(TraceError, match=r"line 4: t_s must increase") as info:
        parse_trace(lines(f"t_s,value\n0.0,1.0\n0.1,1.0\n{t},1.0\n"), "t.csv")
    assert info.value.line == 4


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(TraceError, match=r"line 2: value 'nan' is not a finite number"):
        parse_trace(lines("t_s,value\n0.0,nan\n"), "t.csv")


def test_a_file_without_the_header_is_refused() -> None:
    with pytest.raises(TraceError, match=r"line 1: expected the header 't_s,value'"):
        parse_trace(lines("0.0,1.0\n"), "t.csv")


def test_a_header_without_samples_is_refused() -> None:
    with pytest.raises(TraceError, match="no samples"):
        parse_trace(lines("t_s,value\n# nothing recorded\n"), "t.csv")


def test_a_trace_error_is_a_value_error() -> None:
    assert issubclass(TraceError, ValueError)


def test_a_missing_file_is_a_trace_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"gone\.csv: no such file"):
        load_trace(tmp_path / "gone.csv")


def test_written_traces_load_back_with_their_comments_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    samples = [(0.0, 0.125), (0.5, 0.25), (1.0, -0.5)]
    write_trace(path, samples, comments=["recorded by calibrate", "sensor air-selokan"])
    assert path.read_text().startswith("# recorded by calibrate\n# sensor air-selokan\nt_s,value\n")
    assert load_trace(path) == samples


def test_writing_refuses_timestamps_that_rounding_would_merge() -> None:
    with pytest.raises(TraceError, match="t_s must increase"):
        format_trace([(0.0, 1.0), (0.00001, 1.0)], decimals=4)


def test_the_bundled_quake_trace_is_30_s_at_100_hz_peaking_at_015_g() -> None:
    samples = load_trace(DATA / "quake.csv")
    assert len(samples) == 3000
    assert samples[1][0] - samples[0][0] == pytest.approx(0.01)
    assert max(abs(v) for _, v in samples) == pytest.approx(0.15, abs=1e-4)
