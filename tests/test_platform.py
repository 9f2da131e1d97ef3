"""The Pi under the daemon: which mount holds the store, the firmware's power flags, the
hardware watchdog and the clock, read from a fake sysfs tree in ``tmp_path`` and turned
into ``_device`` findings and heartbeat facts over exact times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factories import smoke_config
from hypothesis import given
from hypothesis import strategies as st

from edge.detect.types import Reason, State
from edge.platform.monitor import CLOCK_POLL_S, PlatformMonitor, Probe, read_text
from edge.platform.mounts import durability, mount_of, parse_mountinfo
from edge.platform.power import CLEAR_AFTER_S, PowerWatch, Throttled
from edge.platform.watchdog import read_watchdogs

SD_ROOT = "27 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw\n"
TMP = "30 27 0:27 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw,size=409600k\n"
DATA = "31 27 179:3 / /data rw,noatime shared:6 - ext4 /dev/mmcblk0p3 rw\n"
ZRAM = "32 27 254:0 / /var/log rw shared:7 - ext4 /dev/zram1 rw\n"
# Raspberry Pi OS "overlay file system": the root is an overlay whose upper layer is tmpfs.
OVERLAY_ROOT = (
    "20 1 0:20 / /media/root-rw rw,relatime - tmpfs tmpfs-root rw\n"
    "21 1 179:2 / /media/root-ro ro,relatime - ext4 /dev/mmcblk0p2 ro\n"
    "27 1 0:21 / / rw,relatime - overlay overlayroot rw,lowerdir=/media/root-ro,"
    "upperdir=/media/root-rw/overlay,workdir=/media/root-rw/overlay-workdir\n"
)


# ---------------------------------------------------------------------- mounts


def test_mountinfo_lines_give_mount_point_type_and_source() -> None:
    (root,) = parse_mountinfo(SD_ROOT)
    assert (root.mount_point, root.fstype, root.source) == ("/", "ext4", "/dev/mmcblk0p2")


def test_an_escaped_space_in_a_mount_point_is_unescaped() -> None:
    (mount,) = parse_mountinfo("40 27 179:3 / /mnt/my\\040data rw - ext4 /dev/sda1 rw\n")
    assert mount.mount_point == "/mnt/my data"


def test_a_line_the_parser_does_not_know_is_skipped() -> None:
    assert parse_mountinfo("garbage\n" + SD_ROOT)[0].fstype == "ext4"


def test_the_longest_mount_point_holding_the_path_wins() -> None:
    mounts = parse_mountinfo(SD_ROOT + DATA)
    assert mount_of("/data/siaga/outbox.sqlite3", mounts).source == "/dev/mmcblk0p3"  # type: ignore[union-attr]
    assert mount_of("/database/x", mounts).mount_point == "/"  # type: ignore[union-attr]


def test_a_store_on_the_sd_card_is_durable() -> None:
    assert durability("/var/lib/siaga-edge/outbox.sqlite3", parse_mountinfo(SD_ROOT)).durable


def test_a_store_on_tmpfs_is_not_durable() -> None:
    found = durability("/tmp/outbox.sqlite3", parse_mountinfo(SD_ROOT + TMP))
    assert found.volatile is not None and "tmpfs at /tmp" in found.volatile


def test_a_store_on_zram_is_not_durable_whatever_its_file_system() -> None:
    found = durability("/var/log/outbox.sqlite3", parse_mountinfo(SD_ROOT + ZRAM))
    assert found.volatile is not None and "/dev/zram1" in found.volatile


def test_the_overlay_root_of_raspberry_pi_os_is_not_durable() -> None:
    found = durability("/var/lib/siaga-edge/outbox.sqlite3", parse_mountinfo(OVERLAY_ROOT))
    assert found.volatile is not None and "overlay at /" in found.volatile


def test_a_data_partition_under_an_overlay_root_is_durable() -> None:
    mounts = parse_mountinfo(OVERLAY_ROOT + DATA)
    assert durability("/data/siaga-edge/outbox.sqlite3", mounts).durable


def test_an_overlay_with_its_upper_layer_on_disk_is_durable() -> None:
    text = SD_ROOT + (
        "50 27 0:50 / /srv rw - overlay overlay rw,lowerdir=/a,upperdir=/var/up,workdir=/var/w\n"
    )
    assert durability("/srv/outbox.sqlite3", parse_mountinfo(text)).durable


def test_a_squashfs_image_is_not_durable() -> None:
    text = "27 1 7:0 / / ro - squashfs /dev/loop0 ro\n"
    assert not durability("/var/lib/x.sqlite3", parse_mountinfo(text)).durable


# ---------------------------------------------------------------------- power flags


def test_the_firmware_hex_decodes_into_now_and_since_boot() -> None:
    flags = Throttled.parse("50005\n")
    assert flags is not None
    assert flags.now() == ["under-voltage", "throttled"]
    assert flags.since_boot() == ["under-voltage", "throttled"]
    assert flags.hex == "0x50005" and flags.under_voltage and flags.throttling


def test_text_that_is_not_hex_is_no_reading() -> None:
    assert Throttled.parse("n/a") is None


@given(st.integers(min_value=0, max_value=0xFFFFF))
def test_under_voltage_now_is_exactly_bit_0(raw: int) -> None:
    assert Throttled(raw).under_voltage is bool(raw & 1)
    assert Throttled.parse(f"{raw:x}") == Throttled(raw)


def test_under_voltage_is_a_power_fault_at_the_first_reading_of_it() -> None:
    watch = PowerWatch()
    assert watch.observe(0.0, Throttled(0)) == []
    (found,) = watch.observe(2.0, Throttled(0x10001))
    assert (found.state, found.reason) == (State.FAULT, Reason.POWER)


def test_under_voltage_is_over_only_after_it_stayed_away() -> None:
    watch = PowerWatch()
    watch.observe(0.0, Throttled(1))
    assert watch.observe(1.0, Throttled(0x10000)) == []
    assert watch.observe(1.5, Throttled(1)) == []  # a flicker: still the same fault
    assert watch.observe(2.0, Throttled(0x10000)) == []
    (back,) = watch.observe(2.0 + CLEAR_AFTER_S, Throttled(0x10000))
    assert (back.state, back.reason) == (State.NORMAL, Reason.POWER)


def test_what_happened_since_boot_is_told_once() -> None:
    watch = PowerWatch()
    (past,) = watch.observe(0.0, Throttled(0x50000))
    assert past.state is State.WARNING and "under-voltage" in past.detail
    assert watch.observe(2.0, Throttled(0x50000)) == []


def test_no_flags_to_read_is_nothing_to_report() -> None:
    assert PowerWatch().observe(0.0, None) == []


# ---------------------------------------------------------------------- watchdog


def watchdog_tree(tmp_path: Path, state: str | None, timeout: str = "15") -> Path:
    root = tmp_path / "sys" / "class" / "watchdog"
    dev = root / "watchdog0"
    dev.mkdir(parents=True)
    if state is not None:
        (dev / "state").write_text(f"{state}\n")
    (dev / "timeout").write_text(f"{timeout}\n")
    (dev / "identity").write_text("Broadcom BCM2835 Watchdog timer\n")
    return root


def test_an_active_watchdog_is_armed_with_its_timeout(tmp_path: Path) -> None:
    found = read_watchdogs(watchdog_tree(tmp_path, "active"), read_text)
    assert (found.armed, found.timeout_s, found.problem()) == (True, 15.0, None)


def test_an_inactive_watchdog_is_a_problem_naming_the_setting(tmp_path: Path) -> None:
    found = read_watchdogs(watchdog_tree(tmp_path, "inactive"), read_text)
    assert found.armed is False and "RuntimeWatchdogSec=15s" in (found.problem() or "")


def test_a_watchdog_class_without_devices_means_none_is_armed(tmp_path: Path) -> None:
    (tmp_path / "watchdog").mkdir()
    assert read_watchdogs(tmp_path / "watchdog", read_text).armed is False


def test_no_watchdog_class_at_all_says_nothing(tmp_path: Path) -> None:
    assert read_watchdogs(tmp_path / "absent", read_text).armed is None


# ---------------------------------------------------------------------- the monitor


def pi_tree(tmp_path: Path, throttled: str = "0", watchdog: str = "active") -> dict[str, Any]:
    firmware = tmp_path / "sys" / "firmware" / "get_throttled"
    firmware.parent.mkdir(parents=True)
    firmware.write_text(f"{throttled}\n")
    thermal = tmp_path / "sys" / "thermal" / "temp"
    thermal.parent.mkdir(parents=True)
    thermal.write_text("48312\n")
    return {
        "throttled_path": str(firmware),
        "thermal_path": str(thermal),
        "watchdog_path": str(watchdog_tree(tmp_path, watchdog)),
        "hwmon_path": str(tmp_path / "sys" / "hwmon"),
    }


def monitor(
    tmp_path: Path,
    *,
    mountinfo: str | None = None,
    synced: bool | None = True,
    judge: bool = True,
    allow_volatile: bool = False,
    **pi: Any,
) -> PlatformMonitor:
    store = tmp_path / "outbox.sqlite3"
    cfg = smoke_config(
        "mqtt://127.0.0.1:1",
        store,
        storage={"path": str(store), "allow_volatile": allow_volatile},
        platform=pi_tree(tmp_path, **pi),
    )
    text = mountinfo if mountinfo is not None else SD_ROOT
    probe = Probe(mountinfo=lambda: text, clock_synced=lambda: synced, judge_host=judge)
    return PlatformMonitor(cfg, probe, now=0.0)


def test_a_healthy_pi_has_nothing_to_report_and_says_so_in_facts(tmp_path: Path) -> None:
    mon = monitor(tmp_path)
    assert mon.poll(0.0) == []
    facts = mon.facts()
    assert (facts.storage_durable, facts.storage_fs, facts.watchdog_armed) == (True, "ext4", True)
    assert (facts.clock_synced, facts.under_voltage, facts.throttled) == (True, False, False)
    assert (facts.throttled_flags, facts.cpu_temp_c) == ("0x0", 48.3)


def test_a_store_on_tmpfs_is_a_storage_fault_not_durable(tmp_path: Path) -> None:
    mon = monitor(tmp_path, mountinfo=f"30 1 0:27 / {tmp_path} rw - tmpfs tmpfs rw\n")
    (found,) = mon.poll(0.0)
    assert (found.state, found.reason) == (State.FAULT, Reason.STORAGE)
    assert found.detail.startswith("not durable: ")
    assert mon.facts().storage_durable is False


def test_allow_volatile_accepts_a_store_on_tmpfs(tmp_path: Path) -> None:
    mon = monitor(
        tmp_path, mountinfo=f"30 1 0:27 / {tmp_path} rw - tmpfs tmpfs rw\n", allow_volatile=True
    )
    assert mon.poll(0.0) == [] and mon.facts().storage_durable is False


def test_no_armed_watchdog_is_one_warning_at_start(tmp_path: Path) -> None:
    mon = monitor(tmp_path, watchdog="inactive")
    (found,) = mon.poll(0.0)
    assert (found.state, found.reason) == (State.WARNING, Reason.WATCHDOG)
    assert mon.poll(60.0) == []


def test_an_unsynchronised_clock_is_a_warning_then_normal_once_synchronised(
    tmp_path: Path,
) -> None:
    synced = [False]
    mon = monitor(tmp_path)
    mon.probe = Probe(mountinfo=lambda: SD_ROOT, clock_synced=lambda: synced[0], judge_host=True)
    (warned,) = mon.poll(0.0)
    assert (warned.state, warned.reason) == (State.WARNING, Reason.CLOCK)
    synced[0] = True
    (back,) = [f for f in mon.poll(CLOCK_POLL_S) if f.reason is Reason.CLOCK]
    assert back.state is State.NORMAL and mon.facts().clock_synced is True


def test_the_host_not_judged_reports_watchdog_and_clock_in_facts_only(tmp_path: Path) -> None:
    mon = monitor(tmp_path, watchdog="inactive", synced=False, judge=False)
    assert mon.poll(0.0) == []
    assert (mon.facts().watchdog_armed, mon.facts().clock_synced) == (False, False)


def test_under_voltage_appearing_is_a_fault_within_5_s(tmp_path: Path) -> None:
    mon = monitor(tmp_path)
    mon.poll(0.0)
    Path(mon.config.platform.throttled_path).write_text("50005\n")
    t, found = 0.0, []
    while not found and t <= 5.0:
        t = mon.wake_at()
        found = mon.poll(t)
    assert t <= 5.0 and [(f.state, f.reason) for f in found] == [(State.FAULT, Reason.POWER)]
    assert mon.facts().under_voltage is True


def test_the_hwmon_alarm_stands_in_when_the_firmware_file_is_absent(tmp_path: Path) -> None:
    mon = monitor(tmp_path)
    Path(mon.config.platform.throttled_path).unlink()
    hwmon = Path(mon.config.platform.hwmon_path) / "hwmon1"
    hwmon.mkdir(parents=True)
    (hwmon / "name").write_text("rpi_volt\n")
    (hwmon / "in0_lcrit_alarm").write_text("1\n")
    (found,) = mon.poll(0.0)
    assert (found.state, found.reason) == (State.FAULT, Reason.POWER)


def test_the_system_probe_judges_the_host_only_under_systemd() -> None:
    assert Probe.system({"INVOCATION_ID": "abc"}).judge_host
    assert not Probe.system({}).judge_host
