"""A TCP proxy that loses Produce responses, for the idempotence scenarios (127.0.0.1 only).

    with LossyProxy("127.0.0.1:9092", lose_produce_responses=1) as proxy:
        ... point a producer at proxy.bootstrap ...
        proxy.lost, proxy.produce_requests

Every request is forwarded unchanged. The broker's answer to each of the
first `lose_produce_responses` Produce requests is read in full (so the
broker has appended the batch) and then dropped: the proxy closes that
connection instead of returning it, as a network failure after the write
would. The client sees a disconnect and sends the batch again; an
idempotent producer's retry carries the same producer id, epoch and
sequence, which the broker must recognise as a duplicate.

So that clients keep talking through the proxy after their first Metadata
answer, the broker addresses in Metadata and FindCoordinator responses are
rewritten to the proxy's (decoded and re-encoded with kwire_protocol's
schema codecs); this needs no help from the broker, so it works in front
of kwire and of the reference Kafka alike. A single broker is assumed
(every broker address becomes the proxy's). Other responses pass as bytes.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from compat_tests.tcp_relay import TcpRelay, close
from kwire_protocol.frames import decode_response, encode_response
from kwire_protocol.messages import api

PRODUCE, METADATA, FIND_COORDINATOR = 0, 3, 10
_REQUEST_PREFIX = struct.Struct(">hhi")
_SIZE = struct.Struct(">i")
MAX_FRAME = 100 * 1024 * 1024  # Kafka's default socket.request.max.bytes


class LossyProxy(TcpRelay):
    def __init__(self, upstream: str, *, lose_produce_responses: int = 1) -> None:
        host, port = upstream.rsplit(":", 1)
        super().__init__(socket.create_server(("127.0.0.1", 0)), (host, int(port)))
        self.lost = 0
        self.produce_requests = 0
        self._to_lose = lose_produce_responses
        self.bootstrap = f"127.0.0.1:{self.port}"

    def __enter__(self) -> LossyProxy:
        self._spawn(self._accept_loop, "lossy-proxy")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close_all(timeout=5)

    def _relay(self, client: socket.socket, broker: socket.socket) -> None:
        for sock in (client, broker):
            sock.settimeout(None)
        in_flight: dict[int, tuple[int, int]] = {}  # correlation id -> (api key, version)
        self._spawn(self._requests, "lossy-proxy", client, broker, in_flight)
        self._spawn(self._responses, "lossy-proxy", broker, client, in_flight)

    def _requests(self, client: socket.socket, broker: socket.socket, in_flight: dict[int, tuple[int, int]]) -> None:
        try:
            for frame in _frames(client):
                api_key, version, correlation_id = _REQUEST_PREFIX.unpack_from(frame, 0)
                with self._lock:
                    in_flight[correlation_id] = (api_key, version)  # before the broker can answer
                    self.produce_requests += api_key == PRODUCE
                broker.sendall(_SIZE.pack(len(frame)) + frame)
        except OSError:
            pass
        finally:
            close(client, broker)

    def _responses(self, broker: socket.socket, client: socket.socket, in_flight: dict[int, tuple[int, int]]) -> None:
        try:
            for frame in _frames(broker):
                (correlation_id,) = _SIZE.unpack_from(frame, 0)
                with self._lock:
                    api_key, version = in_flight.pop(correlation_id, (-1, -1))
                    lose = api_key == PRODUCE and self.lost < self._to_lose
                    self.lost += lose
                if lose:
                    return  # the broker has answered; the client never hears it
                if api_key in (METADATA, FIND_COORDINATOR):
                    frame = self._readdressed(frame, api_key, version)
                client.sendall(_SIZE.pack(len(frame)) + frame)
        except OSError:
            pass
        finally:
            close(client, broker)

    def _readdressed(self, frame: bytes, api_key: int, version: int) -> bytes:
        the_api = api(api_key)
        correlation_id, body = decode_response(frame, the_api, version)
        if api_key == METADATA:
            nodes = body.brokers
        else:  # FindCoordinator: one coordinator up to v3, a list from v4
            nodes = body.coordinators if version >= 4 else [body]
        for node in nodes:
            if node.port >= 0:  # -1: no coordinator found, left as the broker said
                node.host, node.port = "127.0.0.1", self.port
        encoded = b"".join(bytes(c) for c in encode_response(the_api, version, correlation_id, body))
        return encoded[4:]


def _frames(sock: socket.socket) -> Any:
    """Each size-prefixed frame read from `sock` (without its prefix), until it closes."""
    pending = bytearray()
    while True:
        while len(pending) >= 4:
            (size,) = _SIZE.unpack_from(pending, 0)
            if not 4 <= size <= MAX_FRAME:
                raise OSError(f"implausible frame size {size}")
            if len(pending) < 4 + size:
                break
            frame = bytes(pending[4:4 + size])
            del pending[:4 + size]
            yield frame
        chunk = sock.recv(65536)
        if not chunk:
            return
        pending += chunk

