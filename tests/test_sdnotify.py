"""edge.sdnotify against a real datagram socket standing in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from edge import sdnotify


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound AF_UNIX datagram socket at a path, exported as $NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2.0)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """The same in the abstract namespace: $NOTIFY_SOCKET=@name."""
    name = f"siaga-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2.0)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        yield sock


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_ready_sends_ready_1(notify_socket: socket.socket) -> None:
    assert sdnotify.ready() is True
    assert received(notify_socket) == "READY=1"


def test_ready_with_status_is_one_datagram(notify_socket: socket.socket) -> None:
    sdnotify.ready("5 sensors, broker connected")
    assert received(notify_socket) == "READY=1\nSTATUS=5 sensors, broker connected"


def test_watchdog_sends_watchdog_1(notify_socket: socket.socket) -> None:
    sdnotify.watchdog()
    assert received(notify_socket) == "WATCHDOG=1"


def test_status_text_arrives_verbatim(notify_socket: socket.socket) -> None:
    sdnotify.status("outbox 12 events, oldest 3.5 s — broker offline")
    assert received(notify_socket) == "STATUS=outbox 12 events, oldest 3.5 s — broker offline"


def test_status_newlines_cannot_inject_assignments(notify_socket: socket.socket) -> None:
    sdnotify.status("line one\nREADY=1")
    assert received(notify_socket) == "STATUS=line one READY=1"


def test_stopping_sends_stopping_1(notify_socket: socket.socket) -> None:
    sdnotify.stopping()
    assert received(notify_socket) == "STOPPING=1"


def test_reloading_sends_reloading_1_with_monotonic_usec(notify_socket: socket.socket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    sdnotify.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = received(notify_socket).split("\n")
    assert first == "RELOADING=1"
    name, value = second.split("=")
    assert name == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_notify_sends_arbitrary_message_verbatim(notify_socket: socket.socket) -> None:
    sdnotify.notify("STATUS=x\nERRNO=5")
    assert received(notify_socket) == "STATUS=x\nERRNO=5"


def test_abstract_socket_receives_messages(abstract_socket: socket.socket) -> None:
    assert sdnotify.watchdog() is True
    assert received(abstract_socket) == "WATCHDOG=1"


def test_unset_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    assert sdnotify.watchdog() is False
    assert sdnotify.status("x") is False
    assert sdnotify.stopping() is False
    assert sdnotify.reloading() is False


def test_empty_socket_variable_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert sdnotify.watchdog() is False


def test_send_to_a_missing_socket_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    with pytest.raises(sdnotify.NotifyError, match=r"gone\.sock") as caught:
        sdnotify.watchdog()
    assert isinstance(caught.value, OSError)
    assert caught.value.errno is not None


def test_send_to_a_closed_socket_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "closed.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))  # the file remains, nobody listens
    with pytest.raises(sdnotify.NotifyError):
        sdnotify.ready()


def test_unsupported_socket_address_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/notify.sock")
    with pytest.raises(sdnotify.NotifyError, match=r"relative/notify\.sock"):
        sdnotify.ready()


def test_watchdog_interval_is_watchdog_usec_in_seconds() -> None:
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0


def test_watchdog_interval_keeps_sub_second_precision() -> None:
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "1500"}) == 0.0015


def test_watchdog_interval_is_none_without_watchdog_usec() -> None:
    assert sdnotify.watchdog_interval({}) is None


def test_watchdog_interval_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 20.0


def test_watchdog_interval_applies_when_watchdog_pid_is_ours() -> None:
    env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert sdnotify.watchdog_interval(env) == 30.0


def test_watchdog_interval_is_none_when_watchdog_pid_is_another_process() -> None:
    env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert sdnotify.watchdog_interval(env) is None


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_watchdog_interval_rejects_malformed_watchdog_usec(value: str) -> None:
    with pytest.raises(ValueError, match="WATCHDOG_USEC"):
        sdnotify.watchdog_interval({"WATCHDOG_USEC": value})


# ---------------------------------------------------------------- Notifier (the daemon's use)


def test_notifier_sends_like_the_functions(notify_socket: socket.socket) -> None:
    notifier = sdnotify.Notifier()
    assert notifier.ready() is True
    assert notifier.watchdog() is True
    assert [received(notify_socket), received(notify_socket)] == ["READY=1", "WATCHDOG=1"]


def test_notifier_logs_and_counts_a_failed_send_instead_of_raising(tmp_path: Path) -> None:
    notifier = sdnotify.Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    with capture_logs() as logs:
        assert notifier.watchdog() is False
    assert notifier.errors == 1
    assert logs[0]["event"] == "sd_notify_failed"
    assert logs[0]["call"] == "watchdog"
    assert "gone.sock" in logs[0]["error"]


def test_notifier_is_silent_without_a_socket() -> None:
    notifier = sdnotify.Notifier({})
    with capture_logs() as logs:
        assert notifier.stopping() is False
    assert notifier.errors == 0
    assert logs == []


def test_notifier_reads_a_malformed_watchdog_interval_as_none_and_logs_it() -> None:
    notifier = sdnotify.Notifier({"WATCHDOG_USEC": "soon"})
    with capture_logs() as logs:
        assert notifier.watchdog_interval() is None
    assert logs[0]["call"] == "watchdog_interval"
