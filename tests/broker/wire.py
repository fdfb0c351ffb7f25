"""Raw-socket Kafka client for broker tests: frames in, decoded messages out.

    with WireClient.connect(broker.port) as wire:
        body = wire.call(ApiKey.METADATA, 12, messages.MetadataRequest(topics=[]))

Requests are encoded and responses decoded with kwire_protocol, so a test
sees exactly the bytes a client would: nothing here knows about kwire's
internals. `send` and `receive` are separate so tests can pipeline
(`send` many, then `receive` each in order) or send bytes that are not a
valid request (`send_raw`). Every socket operation has a timeout, so a
broker that never answers fails the test instead of hanging it.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from types import TracebackType
from typing import Any

from kwire.testing import read_exactly
from kwire_protocol import messages
from kwire_protocol.frames import decode_response, encode_request
from kwire_protocol.messages import APIS, Api, ApiKey
from kwire_protocol.primitives import INT32
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

DEFAULT_TIMEOUT = 10.0
CLIENT_ID = "kwire-wire-test"


def api_of(api_key: int) -> Api:
    return APIS[api_key]


def encode(api_key: int, version: int, correlation_id: int, body: Any, client_id: str | None = CLIENT_ID) -> bytes:
    """A whole request frame, size prefix included."""
    return encode_request(APIS[api_key], version, correlation_id, client_id, body)


class WireClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._next_correlation_id = 1

    @classmethod
    def connect(cls, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT) -> WireClient:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def next_correlation_id(self) -> int:
        value = self._next_correlation_id
        self._next_correlation_id += 1
        return value

    # -- sending --------------------------------------------------------------

    def send(self, api_key: int, version: int, body: Any, correlation_id: int | None = None, client_id: str | None = CLIENT_ID) -> int:
        """Send one request; returns its correlation id."""
        if correlation_id is None:
            correlation_id = self.next_correlation_id()
        self.sock.sendall(encode(api_key, version, correlation_id, body, client_id))
        return correlation_id

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    # -- receiving ------------------------------------------------------------

    def recv_exactly(self, count: int) -> bytes:
        return read_exactly(self.sock, count)

    def receive_frame(self) -> bytes:
        """The next response frame, without its size prefix."""
        size = INT32.unpack(self.recv_exactly(4))[0]
        return self.recv_exactly(size)

    def receive(self, api_key: int, version: int) -> tuple[int, Any]:
        """The next response decoded as `api_key` `version`: (correlation id, body)."""
        return decode_response(self.receive_frame(), APIS[api_key], version)

    def call(self, api_key: int, version: int, body: Any) -> Any:
        """Send one request and return the decoded body of its response."""
        correlation_id = self.send(api_key, version, body)
        received, response = self.receive(api_key, version)
        assert received == correlation_id, f"expected correlation id {correlation_id}, got {received}"
        return response

    def is_closed_by_peer(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """True when the broker closes the connection within `timeout` without
        sending anything more; False if bytes arrive or it stays open."""
        deadline = time.monotonic() + timeout
        previous = self.sock.gettimeout()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.sock.settimeout(remaining)
                try:
                    data = self.sock.recv(1)
                except socket.timeout:
                    return False
                except ConnectionResetError:
                    return True
                return not data
        finally:
            self.sock.settimeout(previous)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


# -- request bodies tests use often ------------------------------------------------

def metadata_request(topics: list[str] | None = None, allow_auto_topic_creation: bool = False) -> Any:
    """Metadata (v1+): `topics` None asks for every topic."""
    request_topic = messages.MetadataRequest.cls.MetadataRequestTopic
    return messages.MetadataRequest(
        topics=None if topics is None else [request_topic(name=name) for name in topics],
        allow_auto_topic_creation=allow_auto_topic_creation,
    )


def produce_request(topic: str, values: list[bytes], partition: int = 0, acks: int = 1, timeout_ms: int = 5000) -> Any:
    """Produce (v3-12, by topic name): one v2 batch of `values` for one partition."""
    topic_data = messages.ProduceRequest.cls.TopicProduceData
    batch = build_batch([NewRecord(value=value) for value in values])
    partition_data = topic_data.PartitionProduceData(index=partition, records=batch)
    return messages.ProduceRequest(acks=acks, timeout_ms=timeout_ms, topic_data=[topic_data(name=topic, partition_data=[partition_data])])


def fetch_request(topic: str, offset: int, partition: int = 0, max_wait_ms: int = 0, min_bytes: int = 1, max_bytes: int = 1 << 20) -> Any:
    """Fetch (v4-12, by topic name), sessionless, one partition."""
    fetch_topic = messages.FetchRequest.cls.FetchTopic
    fetch_partition = fetch_topic.FetchPartition(partition=partition, fetch_offset=offset, partition_max_bytes=max_bytes)
    return messages.FetchRequest(
        max_wait_ms=max_wait_ms, min_bytes=min_bytes, max_bytes=max_bytes, session_id=0, session_epoch=-1,
        topics=[fetch_topic(topic=topic, partitions=[fetch_partition])],
    )


def create_topic(port: int, name: str, partitions: int = 1, timeout_ms: int = 10000) -> None:
    """CreateTopics v7 for one topic; asserts it was created."""
    creatable = messages.CreateTopicsRequest.cls.CreatableTopic
    request = messages.CreateTopicsRequest(
        topics=[creatable(name=name, num_partitions=partitions, replication_factor=1)], timeout_ms=timeout_ms
    )
    with WireClient.connect(port) as wire:
        response = wire.call(ApiKey.CREATE_TOPICS, 7, request)
    assert [(t.name, t.error_code) for t in response.topics] == [(name, 0)], response


# -- frames that are not valid requests ---------------------------------------------


def header_v1(api_key: int, version: int, correlation_id: int = 7, client_id: bytes = b"test") -> bytes:
    """A request header v1 (api key, version, correlation id, client id), by hand."""
    return struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id


def framed(payload: bytes) -> bytes:
    return INT32.pack(len(payload)) + payload


# Each is sent on a fresh connection; test_connections.py checks kwire does
# with each what Kafka 4.4 did (recorded in fixtures/kafka_4_4_api_versions.json).
MALFORMED_FRAMES: dict[str, bytes] = {
    "negative size": INT32.pack(-1) + bytes(16),
    "size above socket.request.max.bytes": INT32.pack(104857600 + 1),
    "zero size": INT32.pack(0),
    "frame shorter than a header": framed(b"\0\x12\0"),
    "unknown api key": framed(header_v1(999, 0)),
    "garbage body": framed(header_v1(ApiKey.METADATA, 12) + b"\xff" * 9),
    "truncated body": framed(header_v1(ApiKey.PRODUCE, 9) + b"\0\x01"),
    "client id longer than the frame": framed(struct.pack(">hhih", ApiKey.METADATA, 1, 7, 30000) + b"ab"),
    "random bytes": framed(random.Random(3).randbytes(64)),
    "Metadata v99": framed(header_v1(ApiKey.METADATA, 99) + bytes(4)),
    "Metadata v-1": framed(header_v1(ApiKey.METADATA, -1) + bytes(4)),
    "Fetch v3": framed(header_v1(ApiKey.FETCH, 3) + bytes(4)),
    "Produce v2 (KAFKA-18659)": framed(header_v1(ApiKey.PRODUCE, 2) + struct.pack(">hii", 1, 1000, 0)),
    "ApiVersions v2 with trailing bytes": framed(header_v1(ApiKey.API_VERSIONS, 2) + bytes(3)),
    "Metadata v12 with trailing bytes": framed(encode(ApiKey.METADATA, 12, 7, messages.MetadataRequest(topics=[]))[4:] + bytes(3)),
}


def probe(port: int, data: bytes, timeout: float = 3.0) -> str:
    """Send `data` on a new connection: 'answered' if bytes come back, 'closed'
    if the peer closes first, 'open' if neither happens within `timeout`."""
    with WireClient.connect(port) as wire:
        wire.send_raw(data)
        wire.sock.settimeout(timeout)
        try:
            first = wire.sock.recv(1)
        except socket.timeout:
            return "open"
        except ConnectionResetError:
            return "closed"
        return "answered" if first else "closed"
