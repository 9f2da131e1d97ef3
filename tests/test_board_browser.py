"""The operators' board in a real headless Chromium against a real station (SQLite), a
real mosquitto and a device played by a real paho client that answers acks with
receipts (the daemon does not publish them yet on this branch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from broker import Mosquitto
from browserkit import Chromium, board_config, station
from stationkit import Device, event, until

from edge.station.archive import Archive


def marker(seq: int, words: str) -> dict[str, Any]:
    """A drill's start or end, as the daemon marks them (``_device``, reason drill)."""
    ev = event(seq, "normal", sensor="_device", drill=True, reason="drill")
    ev.update(requires_ack=False, severity="info", message=f"Latihan: {words}")
    return ev


def test_a_fresh_browser_gets_the_login_page_and_a_wrong_password_is_refused(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.driver.get(st.url + "/")
        assert "/login" in browser.driver.current_url
        browser.css("#name").send_keys("sari")
        browser.css("#password").send_keys("salah")
        browser.css("#login").click()
        error = browser.until(lambda: browser.css("#login-error"), what="the refusal")
        assert error.is_displayed() and "/login" in browser.driver.current_url
        browser.driver.get(st.url + "/history")
        assert "/login" in browser.driver.current_url


def test_a_device_alarm_appears_on_the_board_without_a_reload(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        browser.js("window.__sameDocument = 'yes'")
        device = Device(broker.port)
        sent = device.send(event(1))
        rows = browser.until(browser.rows, what="the alarm's row")
        assert rows[0]["id"] == sent["id"] and rows[0]["ack"] == "none"
        assert "Lapas Kelas IIA Banyuwangi" in rows[0]["text"] and "Dapur" in rows[0]["text"]
        assert browser.js("return window.__sameDocument") == "yes"
        assert browser.driver.title.startswith("(1)")
        assert browser.js("return document.getElementById('favicon').dataset.count") == "1"
        device.close()


def test_an_ack_in_the_browser_reaches_the_device_and_its_receipt_confirms_the_row(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        device = Device(broker.port)
        sent = device.send(event(1))
        browser.until(browser.rows, what="the row")
        browser.css("button.do-ack").click()
        until(lambda: device.acks, what="the ack at the device")
        assert device.acks[0]["event_id"] == sent["id"] and device.acks[0]["by"] == "sari"
        row = browser.until(
            lambda: [r for r in browser.rows() if r["ack"] == "confirmed"], what="confirmed"
        )[0]
        assert "sari" in row["text"]
        assert browser.driver.title.startswith("Board")  # nothing unacknowledged
        device.close()


def test_an_alarm_row_shows_its_site_gone_silent_and_back_without_a_reload(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    # probe-ops: the marker came only with the next change of the alarm itself (or a
    # reload): the row of a site whose Will had arrived looked like any other.
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        device = Device(broker.port)
        sent = device.send(event(1))
        browser.until(browser.rows, what="the alarm's row")
        device.status("offline")  # an older device's Will: no reason
        stands = "site offline — alarm stands"

        def fire_row() -> str:
            return next(r["text"] for r in browser.rows() if r["id"] == sent["id"])

        browser.until(lambda: stands in fire_row(), what="the marker on the alarm's row")
        device.status("online")
        browser.until(lambda: stands not in fire_row(), what="the marker gone")
        device.close()


def test_two_browsers_see_each_others_ack_live(
    broker: Mosquitto, tmp_path: Path, browser_factory: Callable[..., Chromium]
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        sari, budi = browser_factory(), browser_factory((1366, 768))
        sari.login(st.url or "", "sari")
        budi.login(st.url or "", "budi")
        device = Device(broker.port)
        device.send(event(1))
        device.send(event(2, sensor="smoke-2"))
        for b in (sari, budi):
            b.until(lambda b=b: len(b.rows()) == 2, what="both rows")
        budi.all("button.do-ack")[0].click()
        acked = sari.until(
            lambda: [r for r in sari.rows() if r["ack"] == "confirmed"], what="budi's ack at sari"
        )
        assert "budi" in acked[0]["text"]
        sari.all("button.do-ack")[0].click()
        budi.until(
            lambda: [r for r in budi.rows() if r["ack"] == "confirmed" and "sari" in r["text"]],
            what="sari's ack at budi",
        )
        device.close()


def test_a_closed_alarm_moves_to_history_and_survives_a_station_restart(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    config = board_config(tmp_path, broker.url)
    with station(config) as st:
        url = st.url or ""
        browser.login(url)
        device = Device(broker.port)
        sent = device.send(event(1))
        browser.until(browser.rows, what="the row")
        browser.driver.get(f"{url}/alarms/{sent['id']}")
        assert "Hubungi Damkar (113)" in browser.css("#steps").text
        browser.css("#note").send_keys("Damkar tiba, api padam")
        browser.css("#do-ack").click()
        browser.until(lambda: "sari" in browser.css("#ack-state").text, what="acked")
        browser.css("#note").send_keys("Damkar tiba, api padam")
        browser.css("#do-close").click()
        browser.until(lambda: browser.all("#closed-state"), what="closed")
        timeline = browser.css("#timeline").text
        assert "ack" in timeline and "close" in timeline and "sari" in timeline
        browser.driver.get(url + "/")
        browser.until(lambda: browser.body("connection") == "live", what="live")
        assert browser.rows() == []
        device.close()
    browser.until(lambda: browser.body("connection") == "lost", what="the page lost the station")
    assert browser.css("#banner-lost").is_displayed()
    port = int(url.rsplit(":", 1)[1])
    again = config.model_copy(
        update={"http": config.http.model_copy(update={"listen": f"127.0.0.1:{port}"})}
    )
    with station(again):
        browser.until(lambda: browser.body("connection") == "live", 20, what="back on its own")
        browser.driver.get(url + "/history")  # the session outlived the restart
        rows = browser.css("#results").text
        assert "Damkar tiba, api padam" in rows and "sari" in rows


def test_silence_is_broken_by_a_new_alarm(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        device = Device(broker.port)
        device.send(event(1))
        browser.until(lambda: browser.body("sound") == "playing", what="the tone")
        browser.css("#silence").click()
        browser.until(lambda: browser.body("sound") == "silenced", what="silenced")
        left = browser.css("#silence-left").text
        assert left.endswith(("10:00", "09:59", "09:58"))
        tones = int(browser.body("tones") or 0)
        device.send(event(2, sensor="smoke-2"))
        browser.until(lambda: browser.body("sound") == "playing", what="silence broken")
        browser.until(lambda: int(browser.body("tones") or 0) > tones, what="a tone again")
        assert not browser.css("#silence-left").is_displayed()
        device.close()


def test_a_drill_never_enters_the_real_queue(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        device = Device(broker.port)
        device.send(marker(1, "dimulai: evakuasi (60 s; smoke-1)"))
        drill = device.send(event(2, drill=True))
        rows = browser.until(lambda: browser.rows("drill"), what="the drill's row")
        assert rows[0]["id"] == drill["id"]
        assert browser.rows("real") == []
        assert browser.body("unacked") == "0" and browser.body("sound") == "off"
        device.close()


@pytest.mark.parametrize("size", [(1600, 900), (1366, 768)])
def test_the_drills_panel_wraps_and_never_clips_its_buttons(
    broker: Mosquitto,
    tmp_path: Path,
    size: tuple[int, int],
    browser_factory: Callable[..., Chromium],
) -> None:
    narrow = browser_factory(size)
    with station(board_config(tmp_path, broker.url)) as st:
        narrow.login(st.url or "")
        device = Device(broker.port)
        device.send(marker(1, "dimulai: evakuasi (60 s; smoke-1)"))
        device.send(event(2, drill=True))
        device.send(event(3, sensor="smoke-2", test=True))
        narrow.until(lambda: len(narrow.rows("drill")) == 2, what="both drill rows")
        panel = narrow.css("aside .drills").rect
        right = panel["x"] + panel["width"]
        for cell in narrow.all("aside .drills td.act > *"):
            box = cell.rect
            assert cell.is_displayed() and box["x"] + box["width"] <= right + 0.5, box
        narrow.driver.save_screenshot(str(tmp_path / f"board-{size[0]}x{size[1]}.png"))
        device.close()


def test_the_sound_starts_on_a_new_alarm(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        assert browser.body("audio") == "running"
        assert browser.body("sound") == "off" and browser.body("tones") is None
        device = Device(broker.port)
        device.send(event(1))
        browser.until(lambda: int(browser.body("tones") or 0) >= 1, what="a tone played")
        assert browser.body("tone") == "fire" and browser.body("sound") == "playing"
        device.close()


def test_a_dropped_stream_resumes_with_every_change_once(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser.login(st.url or "")
        device = Device(broker.port)
        device.send(event(1))
        browser.until(lambda: len(browser.rows()) == 1, what="the first row")
        browser.js("window.__board.source.close()")
        device.send(event(2, sensor="smoke-2"))
        device.send(event(3, sensor="smoke-3"))
        until(lambda: len(st.board.alarms(time.time(), open_only=True)) == 3, what="archived")
        time.sleep(0.3)  # the station has them; the page, its stream closed, has not
        assert len(browser.rows()) == 1
        browser.js("window.__board.reconnect()")
        browser.until(lambda: len(browser.rows()) == 3, what="the missed rows")
        assert browser.body("resumed") == "changes"  # from its Last-Event-ID, no snapshot
        ids = [r["id"] for r in browser.rows()]
        assert len(set(ids)) == 3
        device.close()


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)])
def test_the_board_fits_a_wall_and_a_desk_screen(
    broker: Mosquitto,
    tmp_path: Path,
    browser_factory: Callable[..., Chromium],
    size: tuple[int, int],
) -> None:
    with station(board_config(tmp_path, broker.url)) as st:
        browser = browser_factory(size)
        browser.login(st.url or "")
        device = Device(broker.port)
        for n in range(1, 6):
            device.send(event(n, sensor=f"smoke-{n}"))
        device.send(event(6, sensor="smoke-9", drill=True))
        browser.until(lambda: len(browser.rows()) == 5, what="five rows")
        browser.until(lambda: browser.rows("drill"), what="the drill row")
        width = browser.js("return document.documentElement.scrollWidth")
        inner = browser.js("return window.innerWidth")
        assert width <= inner, f"a horizontal scroll bar at {size}"
        assert browser.until(lambda: browser.css("#site-rows tr").is_displayed(), what="sites")
        device.close()


def test_the_drill_report_times_each_alarm_from_event_to_view_ack_and_close(
    broker: Mosquitto, tmp_path: Path, browser: Chromium
) -> None:
    config = board_config(tmp_path, broker.url)
    with station(config) as st:
        url = st.url or ""
        browser.login(url)
        device = Device(broker.port)
        start = device.send(marker(1, "dimulai: evakuasi (60 s; smoke-1)"))
        drill = device.send(event(2, drill=True))
        browser.until(lambda: browser.rows("drill"), what="the drill row")
        browser.css("#drill-rows button.do-ack").click()
        browser.until(lambda: browser.rows("drill")[0]["ack"] == "confirmed", what="confirmed")
        device.send(marker(3, "selesai: evakuasi"))
        browser.driver.get(f"{url}/alarms/{drill['id']}")
        browser.css("#note").send_keys("latihan selesai")
        browser.css("#do-close").click()
        browser.until(lambda: browser.all("#closed-state"), what="closed")
        browser.driver.get(f"{url}/drills/{start['id']}")
        row = browser.css(f"#drill-alarms tr[data-alarm-id='{drill['id']}']").text
        assert row.count("sari") == 4  # seen, acknowledged, confirmed for, closed by
        device.close()
    archive = Archive(config.database.url).open()
    try:
        actions = [r[2] for r in archive.audit_rows() if r[3] == drill["id"]]
    finally:
        archive.close()
    assert {"view", "ack"} <= set(actions) and actions[-1] == "close"
