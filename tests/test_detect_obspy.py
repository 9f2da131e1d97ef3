"""The streaming STA/LTA agrees with ObsPy on a real earthquake record.

``obspy.read()`` with no arguments is ObsPy's bundled example (no download): BW.RJOB,
2009-08-24, 100 Hz, 30 s, three components. Each component is high-passed by our filter,
then (a) run through the sensor state machine sample by sample, and (b) given to ObsPy's
C ``recursive_sta_lta`` and ``trigger_onset``. The warnings must start where ObsPy's
triggers start and end where they end, within 0.3 s (in fact to the sample).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import SensorConfig, validate_config
from edge.detect.build import machine_for
from edge.detect.highpass import HighPass
from edge.detect.stalta import StaLtaTrigger
from edge.detect.types import State

obspy = pytest.importorskip("obspy")
np = pytest.importorskip("numpy")
from obspy.signal.trigger import recursive_sta_lta, trigger_onset  # noqa: E402

HZ = 100.0
TOLERANCE_S = 0.3


def accelerometer(on: float, off: float) -> SensorConfig:
    """The trigger alone matters: a peak alarm no shaking in the record reaches (a sensor
    with no alarm at all is refused), no delays, so every warning is one ObsPy trigger."""
    sensor = {
        "id": "getar-fondasi",
        "kind": "vibration",
        "input": {"type": "mcp3008", "channel": 0},
        "sample_hz": HZ,
        "sta_lta": {"sta_s": 0.2, "lta_s": 2.0, "on": on, "off": off, "highpass_hz": 1.0},
        # The record is in counts: a calibration wide enough for them, and a peak alarm
        # far above the shaking in it.
        "calibration": {"raw": [0.0, 1.0], "value": [-1e7, 1e7]},
        "alarm": 1e7,
    }
    data = {"site": {"id": "s", "device": "d"}, "sensors": [sensor]}
    return validate_config(data, Path("test.toml")).sensors[0]


@pytest.fixture(scope="module")
def record() -> dict[str, list[float]]:
    return {tr.stats.channel: [float(x) for x in tr.data] for tr in obspy.read()}


@pytest.mark.parametrize(
    ("channel", "on", "off"),
    [
        ("EHZ", 4.0, 1.5),
        ("EHN", 4.0, 1.5),
        ("EHE", 4.0, 1.5),
        ("EHZ", 2.0, 1.0),
        ("EHN", 2.5, 1.2),
        ("EHE", 3.0, 1.5),
    ],
)
def test_trigger_onsets_agree_with_obspy_on_the_bundled_earthquake(
    record: dict[str, list[float]], channel: str, on: float, off: float
) -> None:
    data = record[channel]
    filtered = HighPass(1.0, HZ).run(data)
    cft = recursive_sta_lta(np.array(filtered), 20, 200)
    picks = [(int(a), int(b)) for a, b in trigger_onset(cft, on, off)]
    assert picks, "the record must trigger at these settings for the test to mean anything"

    machine = machine_for(accelerometer(on, off))
    events = machine.start(0.0) + machine.sample_many([(n / HZ, x) for n, x in enumerate(data)])
    onsets = [tr.t for tr in events if tr.state is State.WARNING]
    releases = [tr.t for tr in events if tr.state is State.NORMAL][1:]  # [0] ends warm-up

    assert len(onsets) == len(picks)
    for ours, (start, _) in zip(onsets, picks, strict=True):
        assert abs(ours - start / HZ) <= TOLERANCE_S
        assert ours == pytest.approx(start / HZ)
    # ObsPy's off index is the last sample at or above `off` (or the record's end).
    for ours, (_, stop) in zip(releases, picks, strict=False):
        assert ours == pytest.approx((stop + 1) / HZ)


def test_the_ratio_is_obspys_characteristic_function_sample_for_sample(
    record: dict[str, list[float]],
) -> None:
    filtered = HighPass(1.0, HZ).run(record["EHZ"])
    trigger = StaLtaTrigger(20, 200, on=4.0, off=1.5)
    ours = []
    for x in filtered:
        trigger.step(x)
        ours.append(trigger.ratio)
    np.testing.assert_allclose(ours, recursive_sta_lta(np.array(filtered), 20, 200), rtol=1e-12)
