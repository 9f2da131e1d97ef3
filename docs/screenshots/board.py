"""Make the README's board screenshots: real captures of the board and a drill report in
headless Chromium, against a real station (SQLite), mosquitto and a device played by a
paho client that answers acks (tests/stationkit.py).

Story: a fire at the kitchen (acknowledged, confirmed), a flood rising (unacknowledged,
aged), an earthquake just now, a second site gone silent; a drill at a third device with
two alarms, one acknowledged, one closed. Writes docs/screenshots/board.png (1920x1080)
and drill-report.png.

    PYTHONPATH=. .venv/bin/python docs/screenshots/board.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(OUT.parents[1] / "tests"))

import httpx  # noqa: E402
from browserkit import Chromium, board_config  # noqa: E402
from stationkit import PASSWORD, Device, event, running, until  # noqa: E402

from edge.localbroker import Mosquitto  # noqa: E402


def hazard(
    ev: dict, kind: str, hz: str, message: str, value: float, unit: str, stage: str | None = None
) -> dict:
    ev.update(kind=kind, hazard=hz, message=message, value=value, unit=unit, stage=stage)
    return ev


def main() -> int:
    broker = Mosquitto().start()
    tmp = Path(tempfile.mkdtemp(prefix="siaga-shots-"))
    sites = [
        {
            "id": "lapas",
            "name": "Lapas Kelas IIA Banyuwangi",
            "places": {"smoke-1": "Dapur, Blok A"},
        },
        {"id": "rutan", "name": "Rutan Genteng"},
        {"id": "polsek", "name": "Polsek Rogojampi"},
    ]
    config = board_config(
        tmp, broker.url, station={"language": "id", "name": "Polresta Banyuwangi"}
    )
    config = config.model_copy(update={"sites": [type(config.sites[0])(**s) for s in sites]})
    try:
        with running(config) as st:
            url = st.url or ""
            api = httpx.Client(base_url=url, auth=("sari", PASSWORD), timeout=10)
            lapas = Device(broker.port, "lapas", "pi-blok-a")
            rutan = Device(broker.port, "rutan", "pi-1")
            polsek = Device(broker.port, "polsek", "pi-2")
            rutan.heartbeat(0, interval_s=1)
            polsek.heartbeat(0, interval_s=600)
            lapas.heartbeat(0, interval_s=600)
            now = time.time()
            fire = lapas.send(
                hazard(
                    event(1, site="lapas", device="pi-blok-a", ts=now - 240),
                    "smoke",
                    "fire",
                    "KEBAKARAN: asap terdeteksi di Dapur, Blok A",
                    1.0,
                    "",
                )
            )
            flood = lapas.send(
                hazard(
                    event(2, site="lapas", device="pi-blok-a", sensor="air-selokan"),
                    "water_level",
                    "flood",
                    "BANJIR: air mencapai 1.35 m di Selokan utara, Blok C",
                    1.35,
                    "m",
                    "Siaga 2",
                )
            )
            time.sleep(0.5)
            quake = hazard(
                event(3, site="lapas", device="pi-blok-a", sensor="getar-fondasi"),
                "vibration",
                "earthquake",
                "GEMPA: getaran kuat di Fondasi, Blok A",
                0.42,
                "g",
            )
            start = event(
                1,
                "normal",
                site="polsek",
                device="pi-2",
                sensor="_device",
                drill=True,
                reason="drill",
            )
            start.update(
                requires_ack=False,
                severity="info",
                message="Latihan: dimulai: evakuasi kebakaran (300 s; smoke-1)",
            )
            polsek.send(start)
            d1 = polsek.send(
                hazard(
                    event(2, site="polsek", device="pi-2", drill=True),
                    "smoke",
                    "fire",
                    "LATIHAN — KEBAKARAN: asap terdeteksi di Ruang tahanan",
                    1.0,
                    "",
                )
            )
            d2 = polsek.send(
                hazard(
                    event(3, site="polsek", device="pi-2", sensor="air-1", drill=True),
                    "water_level",
                    "flood",
                    "LATIHAN — BANJIR: air mencapai 0.80 m di Halaman",
                    0.8,
                    "m",
                    "Siaga 3",
                )
            )
            until(lambda: len(api.get("/api/alarms").json()["alarms"]) >= 4, what="alarms")
            shot = Chromium((1920, 1080))
            other = Chromium((1366, 768))
            try:
                shot.login(url, "sari")
                other.login(url, "budi")
                time.sleep(1.0)
                api.post(f"/api/alarms/{fire['id']}/ack", json={"note": "Damkar 113 dihubungi"})
                budi = httpx.Client(base_url=url, auth=("budi", PASSWORD), timeout=10)
                time.sleep(2.5)
                budi.post(f"/api/alarms/{d1['id']}/ack", json={"note": ""})
                time.sleep(1.5)
                budi.post(f"/api/alarms/{d2['id']}/ack", json={"note": ""})
                budi.post(f"/api/alarms/{d2['id']}/close", json={"note": "latihan: air surut"})
                lapas.send(quake)
                until(
                    lambda: [
                        a for a in api.get("/api/alarms").json()["alarms"] if a["sensor"] == "_site"
                    ],
                    60,
                    what="rutan silent",
                )
                shot.until(lambda: len(shot.rows()) >= 4, what="rows")
                time.sleep(1.5)
                shot.driver.save_screenshot(str(OUT / "board.png"))
                del flood
                end = event(
                    4,
                    "normal",
                    site="polsek",
                    device="pi-2",
                    sensor="_device",
                    drill=True,
                    reason="drill",
                )
                end.update(
                    requires_ack=False,
                    severity="info",
                    message="Latihan: selesai: evakuasi kebakaran",
                )
                polsek.send(end)
                time.sleep(1.0)
                shot.driver.set_window_size(1400, 800)
                shot.driver.get(f"{url}/drills/{start['id']}")
                shot.until(lambda: shot.all("#drill-alarms tr"), what="report")
                shot.driver.save_screenshot(str(OUT / "drill-report.png"))
            finally:
                shot.quit()
                other.quit()
            for d in (lapas, rutan, polsek):
                d.close()
    finally:
        broker.close()
    print(f"wrote {OUT / 'board.png'} and {OUT / 'drill-report.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
