"""The station's fault matrix (``make test-faults``): a real station process, real
mosquitto, SQLite or a real PostgreSQL, devices streaming while something breaks.

Oracle each time (``stationkit.assert_oracle``): every event in the archive exactly once,
the alarms equal to a replay of the archive, nothing shown as handled without the
device's receipt.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from broker import Mosquitto
from pg import Postgres
from stationkit import (
    PASSWORD,
    Device,
    StationProcess,
    add_user,
    assert_oracle,
    config_data,
    event,
    running,
    until,
    write_config,
)

from edge.station.archive import Archive
from edge.station.config import StationConfig

pytestmark = pytest.mark.faults

SITES = (("lapas", "pi-a"), ("rutan", "pi-b"))


def stream_state(seq: int) -> str:
    return "alarm" if seq % 25 == 0 else "normal"


class Stream:
    """Two sites publishing ``n`` events each, paced, on their own threads."""

    def __init__(self, port: int, n: int, pause_s: float = 0.004) -> None:
        self.devices = [Device(port, site, device) for site, device in SITES]
        self.n = n
        self.threads = [
            threading.Thread(target=self._run, args=(d, pause_s), daemon=True) for d in self.devices
        ]
        for t in self.threads:
            t.start()

    def _run(self, device: Device, pause_s: float) -> None:
        for seq in range(1, self.n + 1):
            device.send(
                event(
                    seq,
                    stream_state(seq),
                    site=device.site,
                    device=device.device,
                    sensor=f"smoke-{seq % 3}",
                )
            )
            time.sleep(pause_s)

    def join(self, timeout: float = 120.0) -> None:
        for t in self.threads:
            t.join(timeout)
            assert not t.is_alive(), "the stream did not finish"

    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def all_in(self, config: StationConfig) -> bool:
        return not self.running() and archived(config.database.url) >= len(self.devices) * self.n

    @property
    def expected(self) -> dict[tuple[str, str], int]:
        return {(d.site, d.device): self.n for d in self.devices}

    def close(self) -> None:
        for d in self.devices:
            d.close()


class Operator(threading.Thread):
    """Acknowledges every open alarm it sees, whenever the station answers."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.urls = urls
        self.stop_flag = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stop_flag.wait(0.2):
            for url in list(self.urls):
                try:
                    with httpx.Client(base_url=url, auth=("sari", PASSWORD), timeout=2) as c:
                        for a in c.get("/api/alarms", params={"open": "true"}).json()["alarms"]:
                            if a["ack"] == "none" and a["sensor"] != "_site":
                                c.post(f"/api/alarms/{a['alarm_id']}/ack", json={})
                except (httpx.HTTPError, ValueError, KeyError):
                    continue

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(10)


def archived(url: str) -> int:
    archive = Archive(url).open()
    try:
        return archive.count_events()
    finally:
        archive.close()


@pytest.fixture
def station_file(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[Path, StationConfig]]:
    data = config_data([broker.url], f"sqlite:///{tmp_path}/station.sqlite3")
    config = StationConfig(**data)
    add_user(config)
    yield write_config(tmp_path / "station.toml", data), config


def assert_alive(broker: Mosquitto) -> None:
    """A probe saw this test's broker gone mid-run under heavy load (cause unknown):
    if it happens again, say so with its exit status and log, not as a timeout."""
    proc = broker.proc
    assert proc is not None and proc.poll() is None, (
        f"mosquitto exited with {None if proc is None else proc.returncode}: "
        f"{broker.log.read_text(errors='replace')[-2000:]}"
    )


def test_a_station_sigkilled_10_times_during_a_two_site_stream_loses_nothing(
    broker: Mosquitto, tmp_path: Path, station_file: tuple[Path, StationConfig]
) -> None:
    file, config = station_file
    station = StationProcess(file, tmp_path / "run-0.log")
    urls = [station.wait_ready()]
    operator = Operator(urls)
    stream = Stream(broker.port, 2500, pause_s=0.01)
    mid_stream = 0
    for kill in range(1, 11):
        before = archived(config.database.url)
        # 20 more archived since the last start; on a slow machine the stream may be over
        # (and all of it in) before the tenth kill: then a kill is an idle one.
        try:
            until(
                lambda b=before: archived(config.database.url) > b + 20 or stream.all_in(config),
                timeout=60,
                what="more",
            )
        except AssertionError:
            assert_alive(broker)
            raise
        mid_stream += stream.running()
        assert_alive(broker)
        station.kill()
        station = StationProcess(file, tmp_path / f"run-{kill}.log")
        urls[:] = [station.wait_ready()]
    assert mid_stream >= 3, f"only {mid_stream} kills came while the stream ran"
    stream.join()
    until(lambda: archived(config.database.url) >= 2 * stream.n, timeout=60, what="all in")
    time.sleep(1.0)  # the last receipts
    operator.stop()
    assert station.terminate() == 0
    stream.close()
    assert_oracle(config.database.url, stream.expected)


def test_postgresql_restarted_mid_stream_loses_nothing(
    broker: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    data = config_data([broker.url], postgres.new_database())
    config = StationConfig(**data)
    add_user(config)
    station = StationProcess(write_config(tmp_path / "station.toml", data), tmp_path / "s.log")
    url = station.wait_ready()
    stream = Stream(broker.port, 300)
    until(lambda: archived(config.database.url) > 50, timeout=30, what="part archived")
    postgres.stop()
    until(
        lambda: any(line.get("event") == "database_down" for line in station.lines()),
        timeout=30,
        what="the station noticing",
    )
    assert httpx.get(f"{url}/healthz").json()["database"] == "down"
    postgres.start()
    stream.join()
    until(lambda: archived(config.database.url) >= 2 * stream.n, timeout=60, what="all in")
    assert httpx.get(f"{url}/healthz").json()["database"] == "ok"
    assert station.terminate() == 0
    stream.close()
    assert_oracle(config.database.url, stream.expected)


def test_the_broker_restarted_mid_stream_loses_nothing(
    broker: Mosquitto, tmp_path: Path, station_file: tuple[Path, StationConfig]
) -> None:
    file, config = station_file
    station = StationProcess(file, tmp_path / "s.log")
    station.wait_ready()
    stream = Stream(broker.port, 300)
    until(lambda: archived(config.database.url) > 50, timeout=30, what="part archived")
    broker.stop()  # SIGTERM: mosquitto saves the sessions and their queues
    time.sleep(0.5)
    broker.start()
    stream.join()
    until(lambda: archived(config.database.url) >= 2 * stream.n, timeout=60, what="all in")
    assert station.terminate() == 0
    stream.close()
    assert_oracle(config.database.url, stream.expected)


def test_forged_retained_oversized_and_malformed_messages_change_nothing(
    broker: Mosquitto, tmp_path: Path
) -> None:
    data = config_data([broker.url], f"sqlite:///{tmp_path}/station.sqlite3")
    config = StationConfig(**data)
    add_user(config)
    with running(config) as station:
        device = Device(broker.port)
        forger = Device(broker.port, "lapas", "pi-a", client_id="forger")
        alarm = device.send(event(1))
        until(lambda: station.board.counts()["open"] == 1)
        base = device.base
        garbage: list[tuple[str, bytes, bool]] = [
            (f"{base}/ack", json.dumps({"event_id": alarm["id"], "by": "x"}).encode(), True),
            (
                f"{base}/acked",
                json.dumps(
                    {
                        "event_id": alarm["id"],
                        "by": "x",
                        "ts": "t",
                        "accepted": True,
                        "reason": None,
                    }
                ).encode(),
                True,
            ),
            (f"{base}/acked", b'{"event_id": 1, "accepted": "yes"}', False),
            (f"{base}/acked", b"x" * 10_000, False),
            (
                f"{PREFIX_OTHER}/acked",
                json.dumps(
                    {
                        "event_id": alarm["id"],
                        "by": "x",
                        "ts": "t",
                        "accepted": True,
                        "reason": None,
                    }
                ).encode(),
                False,
            ),
            (f"{base}/events", b"{" * 100, False),
            (f"{base}/events", json.dumps({**event(2), "site": "elsewhere"}).encode(), False),
            (f"{base}/events", json.dumps(event(3)).encode() + b" " * 70_000, False),
            (f"{base}/events", json.dumps(event(4)).encode(), True),
            (f"{base}/heartbeat", b"[1, 2]", False),
            (f"{base}/status", b'{"state": "exploded"}', True),
        ]
        for topic, payload, retain in garbage:
            forger.publish(topic, payload, retain=retain)
        device.send(event(2, "normal"))
        until(lambda: station.reader.count_events() == 2, what="the real event after them")
        (real,) = [a for a in station.board.alarms(time.time()) if a["sensor"] != "_site"]
        assert (real["ack"], real["handled"]) == ("none", False)
        assert station.health.view()["database"] == "ok"
        device.close()
        forger.close()
    assert_oracle(config.database.url, {("lapas", "pi-a"): 2})


PREFIX_OTHER = "siaga/v1/rutan/pi-b"


def test_a_site_whose_store_restarted_its_numbering_is_archived_whole(
    broker: Mosquitto, tmp_path: Path
) -> None:
    data = config_data([broker.url], f"sqlite:///{tmp_path}/station.sqlite3")
    config = StationConfig(**data)
    add_user(config)
    with running(config) as station:
        device = Device(broker.port)
        for seq in range(1, 21):
            device.send(event(seq, "normal"))
        device.store.clear()
        device.send(event(1, "fault", sensor="_device", event_id="new-1", reason="storage"))
        for seq in range(2, 11):
            device.send(event(seq, "normal", event_id=f"new-{seq}"))
        until(lambda: station.reader.count_events() == 30, what="both numberings archived")
        time.sleep(3.0)  # beyond the gap grace: nothing may be asked of the old numbering
        assert device.resends == []
        device.close()
    archive = Archive(config.database.url).open()
    rows = archive.table("events")
    archive.close()
    epochs = sorted({(r[4], r[3]) for r in rows})
    assert epochs == [(0, s) for s in range(1, 21)] + [(1, s) for s in range(1, 11)]


def test_two_stations_on_one_postgresql_share_the_stream_and_agree_after_one_is_killed(
    broker: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    url = postgres.new_database()
    files = []
    for name in ("a", "b"):
        data = config_data(
            [broker.url], url, mqtt={"client_id": f"station-{name}", "share_group": "polresta"}
        )
        files.append(write_config(tmp_path / f"station-{name}.toml", data))
    add_user(StationConfig(**config_data([broker.url], url)))
    a = StationProcess(files[0], tmp_path / "a.log")
    b = StationProcess(files[1], tmp_path / "b-0.log")
    urls = [a.wait_ready(), b.wait_ready()]
    operator = Operator(urls[:1])  # acks through station a; receipts reach either
    stream = Stream(broker.port, 800, pause_s=0.005)
    until(lambda: archived(url) > 300, timeout=30, what="part archived")
    b.kill()
    until(lambda: archived(url) > 600, timeout=30, what="a carrying on")
    b = StationProcess(files[1], tmp_path / "b-1.log")
    urls[1] = b.wait_ready()
    stream.join()
    until(lambda: archived(url) >= 2 * stream.n, timeout=60, what="every event archived")
    time.sleep(1.5)  # the last receipts and notifications
    operator.stop()

    def board(station_url: str) -> list[tuple[Any, ...]]:
        with httpx.Client(base_url=station_url, auth=("sari", PASSWORD), timeout=5) as c:
            alarms = c.get("/api/alarms", params={"open": "true"}).json()["alarms"]
        return sorted(
            (x["alarm_id"], x["ack"], x["active"], x["events"])
            for x in alarms
            if x["sensor"] != "_site"
        )

    until(lambda: board(urls[0]) == board(urls[1]), timeout=10, what="both boards agreeing")
    assert len(board(urls[0])) == len(SITES) * 3  # one open episode per sensor
    assert a.terminate() == 0 and b.terminate() == 0
    stream.close()
    assert_oracle(url, stream.expected, arrival_ordered=False)
