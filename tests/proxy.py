"""A real TCP relay on 127.0.0.1 that breaks the link on demand, for fault injection.

The daemon connects to the proxy, the proxy to mosquitto; bytes are relayed untouched.

- ``reset()`` aborts every relayed connection (TCP RST to both ends), as a NAT or
  middlebox reboot does.
- ``blackhole()`` stops relaying without closing anything, in both directions and for new
  connections too: a cable pulled somewhere past the first hop. Nothing tells either end;
  only MQTT keepalive can notice. ``restore()`` resumes relaying what is still open.
- ``swallow_pubacks()`` drops the broker's PUBACK packets on their way to the client and
  relays everything else: a broker (or a middlebox) that takes a message and never says so.
  Only for plain MQTT: the relay frames packets by their fixed header.

Two threads per connection, one per direction; every blocking call has a timeout so
``close()`` always returns.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

CHUNK = 65536
POLL_S = 0.1


class Proxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(POLL_S)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._swallow = threading.Event()
        self.swallowed = 0
        self.accepted = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # ------------------------------------------------------------------ faults

    def reset(self) -> int:
        """Abort every open connection with a TCP RST to both ends; how many there were."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _abort(sock)
        return len(pairs)

    def blackhole(self) -> None:
        """Relay nothing from now on, and close nothing: silence in both directions."""
        self._flowing.clear()

    def restore(self) -> None:
        self._flowing.set()

    def swallow_pubacks(self, on: bool = True) -> None:
        if on:
            self._swallow.set()
        else:
            self._swallow.clear()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        self.reset()
        self._listener.close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ relay

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(
                target=self._serve, args=(client,), name="proxy-conn", daemon=True
            ).start()

    def _serve(self, client: socket.socket) -> None:
        if not self._flowing.is_set():
            # A black hole swallows a new connection's handshake too: hold it unanswered.
            # It never really existed, so once the hole closes it is aborted, not relayed
            # (its CONNECT would otherwise reach the broker long after the client gave up).
            while not self._flowing.wait(POLL_S) and not self._closed.is_set():
                pass
            _abort(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _abort(client)  # the broker is down: the client sees a reset, as with no proxy
            return
        for sock in (client, upstream):
            sock.settimeout(POLL_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._pairs.append((client, upstream))
        threading.Thread(
            target=self._pump, args=(client, upstream, True), name="proxy-up", daemon=True
        ).start()
        self._pump(upstream, client, False)

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        pending = b""  # broker -> client bytes not yet a whole MQTT packet
        try:
            while not self._closed.is_set():
                if not self._flowing.is_set():
                    time.sleep(POLL_S)  # leave the bytes in the kernel: nobody is told
                    continue
                try:
                    data = src.recv(CHUNK)
                except TimeoutError:
                    continue
                if not data:
                    break
                while not self._flowing.wait(POLL_S):  # a black hole began mid-read: hold
                    if self._closed.is_set():
                        return
                if up:
                    self._send_all(dst, data)
                    self.bytes_up += len(data)
                    continue
                packets, pending = _frames(pending + data)
                for packet in packets:
                    if self._swallow.is_set() and packet[0] >> 4 == PUBACK:
                        self.swallowed += 1
                        continue
                    self._send_all(dst, packet)
                    self.bytes_down += len(packet)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _send_all(self, dst: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed.is_set():
            try:
                view = view[dst.send(view) :]
            except TimeoutError:
                continue

    def _drop(self, a: socket.socket, b: socket.socket) -> None:
        with self._lock:
            self._pairs = [p for p in self._pairs if a not in p]
        for sock in (a, b):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


PUBACK = 4


def _frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Whole MQTT packets at the front of ``data``, and the incomplete rest."""
    packets = []
    pos = 0
    while True:
        length, shift, i = 0, 0, pos + 1
        while i < len(data) and i - pos <= 4:
            length |= (data[i] & 0x7F) << shift
            shift += 7
            if not data[i] & 0x80:
                break
            i += 1
        else:
            return packets, data[pos:]  # the length itself is not all here yet
        end = i + 1 + length
        if end > len(data):
            return packets, data[pos:]
        packets.append(data[pos:end])
        pos = end


def _abort(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a RST, not a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
