"""A recording TCP proxy for the Kafka protocol (127.0.0.1 only).

Sits between clients and a broker, forwards bytes both ways unchanged, and
keeps every request frame the clients send (size prefix removed), in the
order it arrived on each connection:

    proxy = RecordingProxy(upstream_port=broker_port).start()
    ... point clients at 127.0.0.1:proxy.port ...
    proxy.stop()
    for request in proxy.requests:            # CapturedRequest
        request.api_key, request.api_version, request.frame

The broker must advertise the proxy's port (ReferenceKafka(advertised_port=
proxy.port)), otherwise clients leave the proxy after their first Metadata
response. The proxy reads only the first 8 bytes of each request (api_key,
api_version, correlation_id); decoding is left to the caller.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

from compat_tests.tcp_relay import POLL_SECONDS, TcpRelay

_REQUEST_PREFIX = struct.Struct(">hhi")
_SIZE = struct.Struct(">i")
# Refuse to buffer frames larger than this (Kafka's default socket.request.max.bytes is 100 MiB).
MAX_FRAME = 100 * 1024 * 1024


@dataclass(frozen=True)
class CapturedRequest:
    connection: int
    api_key: int
    api_version: int
    correlation_id: int
    frame: bytes  # header + body, without the 4-byte size prefix
    received_at: float = field(compare=False)


class RecordingProxy(TcpRelay):
    def __init__(self, upstream_port: int | None = None, *, upstream_host: str = "127.0.0.1", port: int = 0) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
        # upstream may be set after construction (before start()), once the broker's port is known.
        super().__init__(listener, (upstream_host, upstream_port))
        self.requests: list[CapturedRequest] = []
        self._connections = 0

    def start(self) -> RecordingProxy:
        if self.upstream[1] is None:
            raise ValueError("set the upstream port before starting the proxy")
        self._spawn(self._accept_loop, "proxy-accept")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._close_all(timeout)

    def captured(self, api_key: int | None = None) -> list[CapturedRequest]:
        with self._lock:
            return [r for r in self.requests if api_key is None or r.api_key == api_key]

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        for sock in (client, upstream):
            sock.settimeout(POLL_SECONDS)
        with self._lock:
            self._connections += 1
            number = self._connections
        self._spawn(self._pump, f"proxy-{number}-requests", client, upstream, number)
        self._spawn(self._pump, f"proxy-{number}-responses", upstream, client, None)

    def _pump(self, source: socket.socket, sink: socket.socket, record_connection: int | None) -> None:
        """Copy source to sink until either closes; split and keep request frames if asked."""
        pending = bytearray()
        try:
            while not self._stopping.is_set():
                try:
                    chunk = source.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                sink.sendall(chunk)
                if record_connection is not None:
                    pending += chunk
                    self._take_frames(pending, record_connection)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _take_frames(self, pending: bytearray, connection: int) -> None:
        while len(pending) >= 4:
            (size,) = _SIZE.unpack_from(pending, 0)
            if size < _REQUEST_PREFIX.size or size > MAX_FRAME:
                raise OSError(f"implausible request frame size {size} on connection {connection}")
            if len(pending) < 4 + size:
                return
            frame = bytes(pending[4 : 4 + size])
            del pending[: 4 + size]
            api_key, api_version, correlation_id = _REQUEST_PREFIX.unpack_from(frame, 0)
            with self._lock:
                self.requests.append(
                    CapturedRequest(connection, api_key, api_version, correlation_id, frame, time.monotonic())
                )
