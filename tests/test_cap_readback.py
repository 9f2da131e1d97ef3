"""Partners' CAP feeds read back for the banner: active alerts shown, the rest dropped, and
a feed that is down or malformed an error status, never an exception."""

from __future__ import annotations

import socket
from datetime import datetime

import httpx
import pytest
from cap_factories import DATA, WIB, cap_schema
from cap_http import static_server

from edge.cap import rules
from edge.cap.config import FeedSource
from edge.cap.decode import CapFormatError
from edge.cap.readback import banners, read_document
from edge.cap.readback_http import FeedReader

NOW = datetime(2025, 3, 11, 10, 0, tzinfo=WIB)


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize(
    "name", ["bmkg-gempa.xml", "cuaca-jatim.xml", "cuaca-lama.xml", "bpbd-banjir.atom"]
)
def test_the_sample_alerts_are_themselves_valid_cap(name: str) -> None:
    document = read_document(_read(name))
    from edge.cap.encode import to_xml

    for alert in document.alerts:
        cap_schema().validate(to_xml(alert))
        assert rules.check_alert(to_xml(alert)) == []


def test_a_bare_cap_alert_is_one_active_banner_in_indonesian() -> None:
    document = read_document(_read("bmkg-gempa.xml"))
    (banner,) = banners("BMKG", document.alerts, NOW)
    assert (banner.source, banner.event, banner.severity, banner.language) == (
        "BMKG",
        "Gempabumi",
        "Moderate",
        "id-ID",
    )
    assert banner.headline.startswith("Gempa Mag:5.6")
    assert banner.area == "78 km BaratDaya BANYUWANGI-JATIM"


def test_the_banner_speaks_english_when_the_station_does() -> None:
    document = read_document(_read("bmkg-gempa.xml"))
    (banner,) = banners("BMKG", document.alerts, NOW, language="en")
    assert banner.event == "Earthquake"


def test_an_alert_is_dropped_once_it_has_expired() -> None:
    document = read_document(_read("bmkg-gempa.xml"))
    assert banners("BMKG", document.alerts, datetime(2025, 3, 11, 15, 7, 30, tzinfo=WIB)) == ()


def test_an_atom_feed_shows_what_is_in_force_worst_first() -> None:
    document = read_document(_read("bpbd-banjir.atom"))
    assert len(document.alerts) == 6 and document.links == ()
    shown = banners("BPBD", document.alerts, NOW)
    # 031 updates 030; 029 cancels 028; the exercise and the expired 027 are not shown
    assert [b.identifier for b in shown] == ["bpbd-bwi-2025-031"]
    assert shown[0].headline == "Status SIAGA banjir Kali Lo: tinggi muka air 2,1 m"


def test_exercises_are_shown_only_when_asked_for() -> None:
    document = read_document(_read("bpbd-banjir.atom"))
    shown = banners("BPBD", document.alerts, NOW, statuses=frozenset({"Actual", "Exercise"}))
    assert [b.identifier for b in shown] == ["bpbd-bwi-latihan-02", "bpbd-bwi-2025-031"]


def test_an_rss_feed_lists_the_linked_alerts_to_fetch() -> None:
    document = read_document(_read("bmkg-cuaca.rss"))
    assert document.alerts == ()
    assert document.links == ("cuaca-jatim.xml", "cuaca-lama.xml", "cuaca-bali-hilang.xml")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("truncated.rss", "not well-formed"),
        ("error-page.html", "neither a CAP alert nor"),
        ("billion-laughs.xml", "not well-formed"),
        ("alert-without-sent.xml", "<sent> is missing"),
    ],
)
def test_a_malformed_document_is_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(CapFormatError, match=why):
        read_document(_read(name))


def _reader(url: str, **fields: object) -> FeedReader:
    return FeedReader(
        FeedSource.model_validate({"name": "BMKG", "url": url, **fields}), httpx.Client()
    )


def test_polling_an_rss_feed_fetches_its_linked_alerts_and_reports_the_missing_one() -> None:
    with static_server(DATA) as base:
        status = _reader(f"{base}/bmkg-cuaca.rss").poll(NOW)
    assert status.ok and status.alerts_read == 2
    assert [b.identifier for b in status.banners] == ["CJT20250311083000"]
    assert status.error is not None and "cuaca-bali-hilang.xml: HTTP 404" in status.error


def test_polling_reads_no_more_linked_alerts_than_configured() -> None:
    with static_server(DATA) as base:
        status = _reader(f"{base}/bmkg-cuaca.rss", max_alerts=1).poll(NOW)
    assert (status.ok, status.alerts_read, status.error) == (True, 1, None)


def test_polling_a_bare_alert_and_an_atom_feed() -> None:
    with static_server(DATA) as base:
        quake = _reader(f"{base}/bmkg-gempa.xml").poll(NOW)
        flood = _reader(f"{base}/bpbd-banjir.atom").poll(NOW)
    assert [b.event for b in quake.banners] == ["Gempabumi"]
    assert [b.identifier for b in flood.banners] == ["bpbd-bwi-2025-031"]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("truncated.rss", "not well-formed"),
        ("error-page.html", "neither a CAP alert"),
        ("billion-laughs.xml", "not well-formed"),
        ("no-such-feed.xml", "HTTP 404"),
    ],
)
def test_a_malformed_or_missing_feed_is_an_error_status_not_an_exception(
    path: str, why: str
) -> None:
    with static_server(DATA) as base:
        status = _reader(f"{base}/{path}").poll(NOW)
    assert (status.ok, status.banners) == (False, ())
    assert status.error is not None and why in status.error


def test_a_feed_that_is_down_is_an_error_status() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens there
    status = _reader(f"http://127.0.0.1:{port}/feed.atom", timeout_s=2).poll(NOW)
    assert not status.ok and status.error is not None and "ConnectError" in status.error


def test_a_feed_larger_than_allowed_is_refused() -> None:
    with static_server(DATA) as base:
        status = _reader(f"{base}/bpbd-banjir.atom", max_bytes=4096).poll(NOW)
    assert not status.ok and status.error is not None and "larger than" in status.error
