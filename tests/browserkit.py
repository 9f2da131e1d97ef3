"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by
Selenium through the system's chromedriver: Selenium Manager never runs (no download),
every process it started is killed by PID at the end. And a station for the board
tests: mosquitto, the station on SQLite in this process, operator accounts, a device
played by a real paho client that answers acks with receipts (``stationkit.Device``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from stationkit import PASSWORD, add_user, config_data, running

from edge.station.config import StationConfig
from edge.station.service import StationService

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
)


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Chromium:
    """One browser: its own profile folder, window size, chromedriver."""

    def __init__(self, size: tuple[int, int] = (1920, 1080)) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="siaga-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={size[0]},{size[1]}")
        self.service = Service(CHROMEDRIVER)
        self.driver: WebDriver = webdriver.Chrome(service=self.service, options=options)
        self.driver.set_page_load_timeout(20)
        self.pid = self.service.process.pid

    def quit(self) -> None:
        pids = _children(self.pid)
        with contextlib.suppress(Exception):  # the browser may be gone already
            self.driver.quit()
        for pid in [self.pid, *pids]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.profile, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def css(self, selector: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def until(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # a row re-rendered under us: look again
                last = exc
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or predicate} ({last!r})")

    def login(self, url: str, name: str = "sari", password: str = PASSWORD) -> None:
        self.driver.get(url + "/login")
        self.css("#name").send_keys(name)
        self.css("#password").send_keys(password)
        self.css("#login").click()
        self.until(lambda: self.driver.current_url.rstrip("/") == url, what="the board after login")
        self.until(
            lambda: self.js("return document.body.dataset.connection") == "live", what="live"
        )

    def rows(self, panel: str = "real") -> list[dict[str, str]]:
        """The rows of a panel as the page shows them: id, ack, age, text."""
        return list(
            self.js(
                "return [...document.querySelectorAll(arguments[0] + ' tr')].map(tr => ({"
                "id: tr.dataset.alarmId, ack: tr.dataset.ack, age: tr.dataset.age, "
                "text: tr.innerText}))",
                f"#{panel}-rows",
            )
        )

    def body(self, key: str) -> str | None:
        value = self.js("return document.body.dataset[arguments[0]]", key)
        return None if value is None else str(value)


@contextmanager
def browsers() -> Iterator[Callable[..., Chromium]]:
    """A factory of browsers, every one quit and killed at the end."""
    made: list[Chromium] = []

    def make(size: tuple[int, int] = (1920, 1080)) -> Chromium:
        made.append(Chromium(size))
        return made[-1]

    try:
        yield make
    finally:
        for browser in made:
            browser.quit()


def board_config(tmp_path: Path, broker_url: str, **sections: dict[str, Any]) -> StationConfig:
    data = config_data([broker_url], f"sqlite:///{tmp_path}/station.sqlite3", **sections)
    data.setdefault(
        "procedures",
        [
            {
                "hazard": "fire",
                "steps": ["Hubungi Damkar (113)", "Hubungi Kalapas", "Kirim unit patroli"],
            },
        ],
    )
    data.setdefault("sites", [{"id": "lapas", "name": "Lapas Kelas IIA Banyuwangi"}])
    config = StationConfig(**data)
    add_user(config)
    add_user(config, "budi", "operator")
    add_user(config, "tamu", "viewer")
    return config


@contextmanager
def station(config: StationConfig) -> Iterator[StationService]:
    with running(config) as service:
        yield service
