"""The board's HTTP side against a real station (uvicorn, SQLite, mosquitto): login
everywhere, the session cookie's flags, CSRF, logout, expiry, slowed guessing, TLS, CSV
and the report commands."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme
from broker import Mosquitto
from browserkit import board_config
from stationkit import PASSWORD, REPO, Device, event, running, until, write_config

PAGES = ["/", "/history", "/handover", "/drills", "/alarms/x", "/drills/x"]
APIS = [
    "/history.csv",
    "/api/alarms",
    "/api/sites",
    "/api/events",
    "/board/stream",
    "/api/whoami",
    "/api/report/shift",
    "/static/board.js",
]


def login(client: httpx.Client, name: str = "sari", password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        "/login", data={"name": name, "password": password, "token": token[1], "next": "/"}
    )


def csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert found is not None
    return found[1]


def test_nothing_but_login_and_healthz_answers_without_a_login(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with running(board_config(tmp_path, broker.url)) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith(
                "/login"
            ), path
        for path in APIS:
            assert client.get(path).status_code == 401, path
        assert client.post("/api/alarms/x/ack", json={}).status_code == 401
        assert client.get("/login").status_code == 200
        assert client.get("/healthz").status_code == 200


def test_the_session_cookie_is_httponly_samesite_and_every_change_needs_its_csrf_token(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with running(board_config(tmp_path, broker.url)) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        response = login(client)
        cookie = response.headers["set-cookie"]
        assert response.status_code == 303
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        device = Device(broker.port)
        device.send(event(1))
        alarm = until(lambda: client.get("/api/alarms").json()["alarms"])[0]["alarm_id"]
        path = f"/api/alarms/{alarm}/ack"
        assert client.post(path, json={}).status_code == 403
        token = csrf(client)
        foreign = {"X-CSRF-Token": token, "Origin": "http://evil.example"}
        assert client.post(path, json={}, headers=foreign).status_code == 403
        assert client.post(path, json={}, headers={"X-CSRF-Token": token}).status_code == 200
        device.close()


def test_a_basic_auth_script_needs_no_csrf_token_but_a_cross_site_browser_is_refused(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with running(board_config(tmp_path, broker.url)) as st:
        script = httpx.Client(base_url=st.url or "", auth=("sari", PASSWORD), timeout=10)
        device = Device(broker.port)
        device.send(event(1))
        alarm = until(lambda: script.get("/api/alarms").json()["alarms"])[0]["alarm_id"]
        cross = {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}
        assert script.post(f"/api/alarms/{alarm}/ack", json={}, headers=cross).status_code == 403
        assert script.post(f"/api/alarms/{alarm}/ack", json={}).status_code == 200
        device.close()


def test_an_ack_of_an_alarm_the_device_asks_none_for_is_refused_with_409(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with running(board_config(tmp_path, broker.url)) as st:
        script = httpx.Client(base_url=st.url or "", auth=("sari", PASSWORD), timeout=10)
        device = Device(broker.port)
        device.send({**event(1), "requires_ack": False})
        alarm = until(lambda: script.get("/api/alarms").json()["alarms"])[0]
        assert alarm["ack_needed"] is False
        refused = script.post(f"/api/alarms/{alarm['alarm_id']}/ack", json={})
        assert refused.status_code == 409
        assert "asks no acknowledgement" in refused.text
        assert script.get("/api/alarms").json()["alarms"][0]["ack"] == "none"
        device.close()


def test_history_and_handover_word_hazards_and_states_in_bahasa_indonesia_by_default(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with running(board_config(tmp_path, broker.url, station={"language": "id"})) as st:
        script = httpx.Client(base_url=st.url or "", auth=("sari", PASSWORD), timeout=10)
        device = Device(broker.port)
        device.send(event(1, "fault"))
        until(lambda: script.get("/api/alarms").json()["alarms"])
        for page in ("/history", "/handover"):
            text = script.get(page).text
            assert "KEBAKARAN" in text and "gangguan" in text, page
            assert ">fire<" not in text and ">fault" not in text, page
        device.close()


def test_logout_ends_the_session_for_good_and_a_session_expires(
    broker: Mosquitto, tmp_path: Path
) -> None:
    now = [time.time()]
    config = board_config(tmp_path, broker.url, http={"session_hours": 1})
    with running(config, clock=lambda: now[0]) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        login(client)
        stolen = dict(client.cookies)
        response = client.post("/logout", headers={"X-CSRF-Token": csrf(client)})
        assert response.status_code == 200
        replay = httpx.Client(base_url=st.url or "", cookies=stolen, timeout=10)
        assert replay.get("/api/whoami").status_code == 401
        fresh = httpx.Client(base_url=st.url or "", timeout=10)
        login(fresh)
        assert fresh.get("/api/whoami").json() == {"name": "sari", "role": "operator"}
        now[0] += 3601
        assert fresh.get("/api/whoami").status_code == 401
        assert fresh.get("/").headers["location"].startswith("/login")


def test_repeated_wrong_passwords_are_slowed_down_even_for_the_right_one(
    broker: Mosquitto, tmp_path: Path
) -> None:
    with running(board_config(tmp_path, broker.url)) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        for _ in range(3):
            assert login(client, password="salah").status_code == 401
        refused = login(client)
        assert refused.status_code == 429 and "siaga_session" not in refused.headers.get(
            "set-cookie", ""
        )


def test_wrong_basic_passwords_are_slowed_down_like_the_form_and_share_its_count(
    broker: Mosquitto, tmp_path: Path
) -> None:
    # probe-ops: Basic took every guess (argon2 each) and the right password at once,
    # so the form's throttle was one header away.
    with running(board_config(tmp_path, broker.url)) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        for _ in range(3):
            assert client.get("/api/alarms", auth=("sari", "salah")).status_code == 401
        refused = client.get("/api/alarms", auth=("sari", PASSWORD))
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert login(httpx.Client(base_url=st.url or "", timeout=10)).status_code == 429


@pytest.mark.parametrize(
    "path",
    ["/static/%00", "/alarms/%00", "/api/events?site=%00", "/history?site=a%00", "/cap/%00.xml"],
)
def test_a_nul_in_a_path_or_query_is_a_400_never_a_500(
    broker: Mosquitto, tmp_path: Path, path: str
) -> None:
    # probe-ops: /static/%00 (the file system) and the searches on PostgreSQL answered 500
    with running(board_config(tmp_path, broker.url)) as st:
        answer = httpx.get(f"{st.url}{path}", auth=("sari", PASSWORD), timeout=10)
        assert answer.status_code == 400 and "NUL" in answer.json()["error"]


def test_an_indonesian_timeline_words_the_acks_closes_and_receipts_in_indonesian(
    broker: Mosquitto, tmp_path: Path
) -> None:
    # probe-ops: "view", "ack", "close", "receipt: recorded" and the device's "already
    # acknowledged" stood in English on a board set to language = "id"
    config = board_config(tmp_path, broker.url, station={"language": "id"})
    with running(config) as st:
        api = httpx.Client(base_url=st.url or "", auth=("sari", PASSWORD), timeout=10)
        device = Device(broker.port, site="lapas")
        sent = device.send(event(1))
        until(lambda: api.get("/api/alarms").json()["alarms"], what="the alarm")
        assert api.post(f"/api/alarms/{sent['id']}/ack", json={}).status_code == 200
        until(lambda: api.get("/api/alarms").json()["alarms"][0]["ack"] == "confirmed")
        device.publish(
            f"{device.base}/acked",
            json.dumps(
                {
                    "event_id": sent["id"],
                    "by": "sari",
                    "ts": sent["ts"],
                    "accepted": True,
                    "reason": "already acknowledged",
                }
            ).encode(),
        )
        api.post(f"/api/alarms/{sent['id']}/close", json={"note": "api padam"})
        page = api.get(f"/alarms/{sent['id']}").text
        timeline = page[page.index('id="timeline"') :]
        until(lambda: "sudah ditanggapi" in api.get(f"/alarms/{sent['id']}").text)
        for english in ("receipt:", ">ack<", ">close<"):
            assert english not in timeline
        assert "tanda terima: tercatat" in timeline and ">ditutup<" in timeline
        handover = api.get("/handover").text
        assert ">ditutup <a" in handover
        device.close()


def test_a_viewer_may_read_but_not_acknowledge(broker: Mosquitto, tmp_path: Path) -> None:
    with running(board_config(tmp_path, broker.url)) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        login(client, "tamu")
        assert client.get("/").status_code == 200
        headers = {"X-CSRF-Token": csrf(client)}
        assert client.post("/api/alarms/x/ack", json={}, headers=headers).status_code == 403


def test_the_station_serves_https_itself_and_its_cookies_are_then_secure(
    broker: Mosquitto, tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    ca.cert_pem.write_to_path(ca_file)
    http = {"cert_file": str(cert_file), "key_file": str(key_file)}
    with running(board_config(tmp_path, broker.url, http=http)) as st:
        assert (st.url or "").startswith("https://")
        context = ssl.create_default_context(cafile=str(ca_file))
        client = httpx.Client(base_url=st.url or "", verify=context, timeout=10)
        response = login(client)
        assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_history_exports_csv_and_the_reports_come_out_as_json(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = board_config(tmp_path, broker.url)
    with running(config) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        login(client)
        device = Device(broker.port)
        device.send(event(1))
        device.send(event(2, sensor="smoke-2", drill=True))
        until(lambda: len(client.get("/api/alarms").json()["alarms"]) == 2)
        real = client.get("/history.csv", params={"what": "events", "drill": "no"}).text
        lines = real.strip().splitlines()
        assert lines[0].startswith("received_at,ts,site") and len(lines) == 2
        assert "smoke-1" in lines[1]
        device.close()
    out = write_config(tmp_path / "station.toml", config.model_dump(mode="json", exclude_none=True))
    shift = subprocess.run(
        [sys.executable, "-m", "edge", "station", "report", "shift", "--json", "-c", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    report = json.loads(shift.stdout)
    assert [a["sensor"] for a in report["open"]] == ["smoke-1"]
    assert [p["name"] for p in report["on_shift"]] == ["sari"]
    missing = subprocess.run(
        [sys.executable, "-m", "edge", "station", "report", "drill", "nope", "-c", str(out)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert missing.returncode == 1 and "no drill" in missing.stderr


@pytest.mark.parametrize("lang,word", [("id", "Antrean alarm"), ("en", "Alarm queue")])
def test_the_board_speaks_bahasa_indonesia_by_default_and_english_on_request(
    broker: Mosquitto, tmp_path: Path, lang: str, word: str
) -> None:
    config = board_config(tmp_path, broker.url, station={"language": "id"})
    with running(config) as st:
        client = httpx.Client(base_url=st.url or "", timeout=10)
        login(client)
        if lang == "en":
            client.get("/lang/en")
        assert word in client.get("/").text
