"""The config: the example loads, the environment overrides, and mistakes are named."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from edge.config import load_config

EXAMPLE = Path(__file__).parents[1] / "edge" / "data" / "config.example.toml"
SPEC_EXAMPLE = Path(__file__).parents[2] / "shared" / "spec" / "config.example.toml"


def run_check(
    path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "check-config", "-c", str(path), *extra],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _names(node: object, prefix: str = "") -> set[str]:
    """Every key path of a TOML document (``sensors[2].input.mount_height_m``)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            out |= {f"{prefix}{key}"} | _names(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out |= _names(value, f"{prefix[:-1]}[{i}].")
    return out


def test_the_shipped_example_keeps_every_name_of_the_spec_example() -> None:
    """The spec's names are fixed; the shipped example may add fields (hazard, a margin
    below fault.min), never drop or rename one."""
    if not SPEC_EXAMPLE.exists():
        pytest.skip("shared/spec is not beside this checkout")
    spec = tomllib.loads(SPEC_EXAMPLE.read_text())
    shipped = tomllib.loads(EXAMPLE.read_text())
    assert _names(spec) <= _names(shipped)


def test_the_examples_commented_alternatives_are_valid_when_uncommented(tmp_path: Path) -> None:
    """The NC contact, the supervised loop and the active-low siren shown as comments."""
    lines = EXAMPLE.read_text().splitlines()
    nc = next(i for i, line in enumerate(lines) if "normally_closed = true" in line)
    del lines[nc - 3]  # the normally-open input it replaces
    lines[nc - 1] = lines[nc - 1].removeprefix("# ")
    text = "\n".join(lines).replace("# siren_active_low", "siren_active_low")
    loop = [line for line in text.splitlines() if line.startswith("# ")]
    start = loop.index("# [[sensors]]")
    block = [line[2:] for line in loop[start : start + 8]]
    path = tmp_path / "config.toml"
    path.write_text(text + "\n\n" + "\n".join(block) + "\n")
    config = load_config(path)
    smoke = config.sensor("smoke-dapur").input
    assert getattr(smoke, "normally_closed", False) is True
    assert config.sensor("smoke-lorong").input.type == "eol"
    assert config.outputs.siren_active_low is True


def test_the_example_calls_the_fence_switch_an_intrusion() -> None:
    assert load_config(EXAMPLE).sensor("getar-pagar").hazard == "intrusion"


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert [s.id for s in config.sensors] == [
        "smoke-dapur",
        "smoke-gudang",
        "air-selokan",
        "getar-fondasi",
        "getar-pagar",
        "getar-atap",
        "smoke-dapur-2",
        "titik-dapur",
    ]
    assert [z.id for z in config.zones] == ["gempa-blok-a", "dapur"]
    assert config.site.language == "id"


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_MQTT__URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("SIAGA_HEARTBEAT__INTERVAL_S", "5")
    config = load_config(EXAMPLE)
    assert config.mqtt.url == "mqtts://broker.example:8883"
    assert config.heartbeat.interval_s == 5


def test_the_config_path_comes_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIAGA_EDGE_CONFIG", str(EXAMPLE))
    assert load_config(None).site.device == "pi-blok-a"


def test_check_config_prints_the_effective_config_and_exits_0() -> None:
    result = run_check(EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert '"device": "pi-blok-a"' in result.stdout


def test_the_printed_config_shows_only_the_broker_urls_in_use_without_user_info() -> None:
    config = load_config(EXAMPLE)
    urls = ["mqtts://edge@a.example:8883", "mqtts://b.example:8883"]
    both = config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"urls": urls})})
    shown = both.redacted()["mqtt"]
    assert "url" not in shown
    assert shown["urls"] == ["mqtts://***@a.example:8883", "mqtts://b.example:8883"]
    assert config.redacted()["mqtt"]["url"] == config.mqtt.url


def test_the_config_option_may_also_come_before_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "-c", str(EXAMPLE), "check-config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BASE = EXAMPLE.read_text()

# (what is wrong, the edit, what the message must name)
MISTAKES = [
    (
        "upper-case site id",
        lambda t: replace(t, 'id = "lapas-banyuwangi"', 'id = "Lapas"'),
        "site.id",
    ),
    (
        "unknown key (typo)",
        lambda t: replace(t, "keepalive_s = 10", "keepalive = 10"),
        "mqtt.keepalive",
    ),
    (
        "not a GPIO pin",
        lambda t: replace(t, 'pin = "GPIO17"', 'pin = "GPIO99"'),
        "sensors[0](smoke-dapur).input.pin",
    ),
    (
        "pin used twice",
        lambda t: replace(t, 'pin = "GPIO5"', 'pin = "GPIO17"'),
        "sensors[4](getar-pagar).input.pin: pin GPIO17 is already used by "
        "sensors[0](smoke-dapur).input.pin",
    ),
    (
        "output on a sensor pin",
        lambda t: replace(t, 'siren_pin = "GPIO27"', 'siren_pin = "GPIO23"'),
        "outputs.siren_pin: pin GPIO23 is already used by sensors[2](air-selokan).input.trigger",
    ),
    (
        "warning above alarm",
        lambda t: replace(t, "warning = 300.0", "warning = 700.0"),
        "sensors[1](smoke-gudang).alarm",
    ),
    (
        "duplicate sensor id",
        lambda t: replace(t, 'id = "getar-pagar"', 'id = "getar-fondasi"'),
        "sensors[4](getar-fondasi).id",
    ),
    ("negative delay", lambda t: replace(t, "delay_on_s = 3.0", "delay_on_s = -1"), "delay_on_s"),
    (
        "lta shorter than sta",
        lambda t: replace(t, "lta_s = 2.0", "lta_s = 0.1"),
        "sensors[3](getar-fondasi).sta_lta.lta_s",
    ),
    (
        "unknown input type",
        lambda t: replace(t, 'type = "hcsr04"', 'type = "sonar"'),
        "sensors[2](air-selokan).input",
    ),
    ("ADC channel 9", lambda t: replace(t, "channel = 1", "channel = 9"), "input.channel"),
    (
        "two sensors on one ADC channel",
        lambda t: replace(t, "channel = 1", "channel = 0"),
        "sensors[3](getar-fondasi).input.channel: CE0 channel 0 is also read by smoke-gudang",
    ),
    (
        "key without certificate",
        lambda t: replace(
            t, 'topic_prefix = "siaga/v1"', 'topic_prefix = "siaga/v1"\nkey_file = "/k"'
        ),
        "mqtt.cert_file",
    ),
    (
        "calibration points equal",
        lambda t: replace(t, "raw = [0.10, 0.80]", "raw = [0.5, 0.5]"),
        "sensors[1](smoke-gudang).calibration.raw",
    ),
    (
        "password in the URL",
        lambda t: replace(t, 'url = "mqtt://127.0.0.1:1883"', 'url = "mqtt://u:secret@h:1883"'),
        "mqtt.url",
    ),
    ("not TOML", lambda t: t + "\n[[sensors]\n", "not valid TOML"),
    (
        "fault min above max",
        lambda t: replace(t, "min = -0.10, max = 2.5", "min = 3.0, max = 2.5"),
        "sensors[2](air-selokan).fault.max",
    ),
    (
        "a threshold that is not a number (never compares true: never alarms)",
        lambda t: replace(t, "alarm = 600.0", "alarm = nan"),
        "sensors[1](smoke-gudang).alarm: Input should be a finite number",
    ),
    (
        "an infinite threshold",
        lambda t: replace(t, "warning = 300.0", "warning = inf"),
        "sensors[1](smoke-gudang).warning: Input should be a finite number",
    ),
    (
        "pulse input without pulses",
        lambda t: replace(t, "pulses = { window_s = 2.0, warning = 5, alarm = 20 }", ""),
        "sensors[4](getar-pagar).pulses",
    ),
    (
        "a zone member that does not exist",
        lambda t: replace(t, '"getar-fondasi", "getar-atap"]', '"getar-fondasi", "getar-atp"]'),
        "zones[0](gempa-blok-a).members: no sensor 'getar-atp'",
    ),
    (
        "a zone of two hazards",
        lambda t: replace(t, '"getar-fondasi", "getar-atap"]', '"getar-fondasi", "smoke-gudang"]'),
        "zones[0](gempa-blok-a).members: members of one hazard only",
    ),
    (
        "a threshold the weights cannot reach",
        lambda t: replace(t, "threshold = 2 ", "threshold = 3 "),
        "zones[0](gempa-blok-a).threshold: the members' weights add up to 2, below the threshold 3",
    ),
    (
        "weights for a sensor outside the zone",
        lambda t: replace(t, "threshold = 2 ", "weights = { getar-pagar = 2 }\nthreshold = 2 "),
        "zones[0](gempa-blok-a).weights: 'getar-pagar' is not a member",
    ),
    (
        "a sensor in two zones of one hazard",
        lambda t: t + '\n[[zones]]\nid = "gempa-fondasi"\nmembers = ["getar-fondasi"]\n',
        "zones[2](gempa-fondasi).members: 'getar-fondasi' is already a member of "
        "zones[0](gempa-blok-a)",
    ),
    (
        "a setting of another rule",
        lambda t: replace(t, "max_length_s = 300.0", "confirm_s = 30.0"),
        "zones[0](gempa-blok-a).confirm_s: confirm_s applies to rule 'two_detector'",
    ),
    (
        "a zone named like a sensor",
        lambda t: replace(t, 'id = "dapur"', 'id = "smoke-dapur"'),
        "zones[1](smoke-dapur).id: 'smoke-dapur' is also a sensor's id",
    ),
    (
        "a zone whose hazard is not its members'",
        lambda t: replace(t, 'id = "dapur"', 'id = "dapur"\nhazard = "flood"'),
        "zones[1](dapur).hazard: 'flood', but its members are 'fire'",
    ),
    (
        "a call point that waits",
        lambda t: replace(t, "manual = true ", "delay_on_s = 2.0\nmanual = true "),
        "sensors[7](titik-dapur).delay_on_s: a manual call point alarms at once",
    ),
]


@pytest.mark.parametrize(("what", "edit", "names"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_bad_config_exits_2_naming_the_field(
    tmp_path: Path, what: str, edit: object, names: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(edit(BASE))  # type: ignore[operator]
    result = run_check(path)
    assert result.returncode == 2, (what, result.stdout, result.stderr)
    assert str(path) in result.stderr
    assert names in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_password_never_appears_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        replace(BASE, 'url = "mqtt://127.0.0.1:1883"', 'url = "mqtt://u:hunter2@h:1883"')
    )
    result = run_check(path)
    assert result.returncode == 2
    assert "hunter2" not in result.stderr + result.stdout


def test_a_world_readable_password_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("hunter2\n")
    secret.chmod(0o644)
    path = tmp_path / "config.toml"
    path.write_text(
        replace(
            BASE,
            'topic_prefix = "siaga/v1"',
            f'topic_prefix = "siaga/v1"\nusername = "pi"\npassword_file = "{secret}"',
        )
    )
    result = run_check(path)
    assert result.returncode == 2
    assert "mqtt.password_file" in result.stderr and "world-readable" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    secret.chmod(0o640)
    assert run_check(path).returncode == 0


def test_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = run_check(tmp_path / "nope.toml")
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_a_config_path_that_is_a_directory_exits_2(tmp_path: Path) -> None:
    result = run_check(tmp_path)
    assert (result.returncode, "Traceback" in result.stderr) == (2, False)
    assert f"{tmp_path}: is a directory, not a config file" in result.stderr


def test_an_environment_value_that_is_wrong_names_the_variable_not_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    result = run_check(path, env=os.environ | {"SIAGA_MQTT__KEEPALIVE_S": "abc"})
    assert result.returncode == 2
    assert "mqtt.keepalive_s: " in result.stderr
    assert "(set by the environment variable SIAGA_MQTT__KEEPALIVE_S)" in result.stderr


def test_an_environment_list_that_is_not_json_exits_2_naming_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    result = run_check(path, env=os.environ | {"SIAGA_MQTT__URLS": "mqtt://a:1883"})
    assert (result.returncode, "Traceback" in result.stderr) == (2, False)
    assert "SIAGA_MQTT__URLS: not valid JSON" in result.stderr


def with_password_file(path: str) -> str:
    return replace(
        BASE,
        'topic_prefix = "siaga/v1"',
        f'topic_prefix = "siaga/v1"\nusername = "pi"\npassword_file = "{path}"',
    )


def test_a_password_file_in_the_service_credentials_says_how_to_check_it_by_hand(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(with_password_file("${CREDENTIALS_DIRECTORY}/mqtt-password"))
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    result = run_check(path, env=env)
    assert result.returncode == 2
    assert "is set only inside the service" in result.stderr
    assert "sudo CREDENTIALS_DIRECTORY=/etc/siaga-edge siaga-edge check-config" in result.stderr
    (tmp_path / "mqtt-password").write_text("hunter2\n")
    (tmp_path / "mqtt-password").chmod(0o600)
    assert run_check(path, env=env | {"CREDENTIALS_DIRECTORY": str(tmp_path)}).returncode == 0


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("\n")
    secret.chmod(0o600)
    path = tmp_path / "config.toml"
    path.write_text(with_password_file(str(secret)))
    result = run_check(path)
    assert result.returncode == 2
    assert f"mqtt.password_file {secret} is empty" in result.stderr
