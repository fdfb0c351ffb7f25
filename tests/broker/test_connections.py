"""Connections, over raw sockets: ordering, malformed frames, idle close, many clients.

What Apache Kafka's SocketServer does and clients rely on:
- one request at a time per connection, so responses leave strictly in
  request order however many requests a client pipelines;
- a frame that cannot be read (bad size, size above socket.request.max.bytes,
  undecodable header or body) closes that connection, without an answer,
  and nothing else;
- a request of a version the broker does not serve closes the connection
  (ApiVersions excepted, KIP-511: see test_api_versions.py);
- connections idle for connections.max.idle.ms are closed;
- an acks=0 Produce gets no response; one that fails closes the connection,
  the only way to tell the producer (Kafka's KafkaApis.handleProduceRequest).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import resource
import select
import selectors
import socket
import struct
import time
from pathlib import Path

import pytest

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey
from kwire_protocol.primitives import INT32

from tests.broker.wire import (
    MALFORMED_FRAMES,
    WireClient,
    create_topic,
    encode,
    fetch_request,
    header_v1,
    metadata_request,
    probe,
    produce_request,
)

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "kafka_4_4_api_versions.json").read_text())

METADATA_V = 12
PRODUCE_V = 9
FETCH_V = 12
API_VERSIONS_V = 3


def api_versions_request() -> object:
    return messages.ApiVersionsRequest(client_software_name="kwire-tests", client_software_version="1.0")


def assert_still_serves(port: int) -> None:
    with WireClient.connect(port) as wire:
        assert wire.call(ApiKey.API_VERSIONS, API_VERSIONS_V, api_versions_request()).error_code == 0


# -- ordering ----------------------------------------------------------------------


def test_pipelined_responses_come_in_request_order(broker, topic_name: str) -> None:
    create_topic(broker.port, topic_name)
    rng = random.Random(511)
    plan: list[tuple[int, int, int, object]] = []  # (correlation id, api key, version, request)
    produced = 0
    correlation_ids = rng.sample(range(-(2**31), 2**31 - 1), 50)  # not sorted: order must come from the requests
    for i, correlation_id in enumerate(correlation_ids):
        kind = i % 4
        if kind == 0:
            plan.append((correlation_id, ApiKey.METADATA, METADATA_V, metadata_request([topic_name])))
        elif kind == 1:
            plan.append((correlation_id, ApiKey.API_VERSIONS, API_VERSIONS_V, api_versions_request()))
        elif kind == 2:
            plan.append((correlation_id, ApiKey.PRODUCE, PRODUCE_V, produce_request(topic_name, [f"v{produced}".encode()])))
            produced += 1
        else:
            # At the log end offset with min_bytes=1: a long poll that waits
            # max_wait_ms, while the requests behind it wait their turn.
            plan.append((correlation_id, ApiKey.FETCH, FETCH_V, fetch_request(topic_name, produced, max_wait_ms=100)))

    began = time.monotonic()
    with WireClient.connect(broker.port, timeout=30) as wire:
        wire.send_raw(b"".join(encode(key, version, cid, body) for cid, key, version, body in plan))
        produce_offsets = []
        for correlation_id, key, version, _ in plan:
            received, body = wire.receive(key, version)
            assert received == correlation_id
            if key == ApiKey.PRODUCE:
                (partition,) = body.responses[0].partition_responses
                assert partition.error_code == 0
                produce_offsets.append(partition.base_offset)
            elif key == ApiKey.FETCH:
                (partition,) = body.responses[0].partitions
                assert partition.error_code == 0
                assert partition.high_watermark == len(produce_offsets)
                assert not partition.records  # nothing past the log end: the poll timed out
            else:
                assert body.error_code == 0 if key == ApiKey.API_VERSIONS else body.topics[0].error_code == 0
    assert produce_offsets == list(range(produced))
    # 12 long polls of 100 ms each, one after the other
    assert time.monotonic() - began >= 12 * 0.1


def test_acks0_produce_has_no_response_and_the_next_answer_keeps_its_place(broker, topic_name: str) -> None:
    create_topic(broker.port, topic_name)
    with WireClient.connect(broker.port) as wire:
        wire.send(ApiKey.PRODUCE, PRODUCE_V, produce_request(topic_name, [b"fire", b"forget"], acks=0), correlation_id=100)
        wire.send(ApiKey.PRODUCE, PRODUCE_V, produce_request(topic_name, [b"acked"], acks=1), correlation_id=101)
        wire.send(ApiKey.METADATA, METADATA_V, metadata_request([topic_name]), correlation_id=102)
        received, body = wire.receive(ApiKey.PRODUCE, PRODUCE_V)
        assert received == 101
        assert body.responses[0].partition_responses[0].base_offset == 2  # after the acks=0 batch
        assert wire.receive(ApiKey.METADATA, METADATA_V)[0] == 102
        body = wire.call(ApiKey.FETCH, FETCH_V, fetch_request(topic_name, 0))
        assert body.responses[0].partitions[0].high_watermark == 3


def test_failed_acks0_produce_closes_the_connection(broker, topic_name: str) -> None:
    request = encode(ApiKey.PRODUCE, PRODUCE_V, 7, produce_request(topic_name + "-missing", [b"lost"], acks=0))
    assert probe(broker.port, request) == FIXTURE["produce_v9_acks0_unknown_topic"] == "closed"
    assert_still_serves(broker.port)


# -- malformed frames ----------------------------------------------------------------


@pytest.mark.parametrize("name", MALFORMED_FRAMES)
def test_malformed_frame_does_what_kafka_does_to_that_connection_only(broker, name: str) -> None:
    kafka_outcome = FIXTURE["malformed_frames"][name]
    with WireClient.connect(broker.port) as bystander:
        assert bystander.call(ApiKey.API_VERSIONS, API_VERSIONS_V, api_versions_request()).error_code == 0
        assert probe(broker.port, MALFORMED_FRAMES[name]) == kafka_outcome
        assert bystander.call(ApiKey.METADATA, METADATA_V, metadata_request([])).brokers
    assert_still_serves(broker.port)


def test_frame_of_exactly_the_maximum_size_is_awaited(broker_factory) -> None:
    server = broker_factory({"socket.request.max.bytes": "1000"})
    assert probe(server.port, INT32.pack(1000) + header_v1(ApiKey.METADATA, METADATA_V), timeout=0.5) == "open"
    assert probe(server.port, INT32.pack(1001)) == "closed"
    assert_still_serves(server.port)


# -- idle connections ----------------------------------------------------------------


def test_idle_connection_is_closed_after_connections_max_idle_ms(broker_factory) -> None:
    server = broker_factory({"connections.max.idle.ms": "600"})
    with WireClient.connect(server.port) as idle, WireClient.connect(server.port) as busy, WireClient.connect(server.port) as partial:
        began = time.monotonic()
        partial.send_raw(INT32.pack(100) + b"\0\x03")  # a frame that never completes is idle too
        # The busy connection talks every 200 ms for 1.5 s and stays open.
        deadline = began + 1.5
        while time.monotonic() < deadline:
            assert busy.call(ApiKey.API_VERSIONS, API_VERSIONS_V, api_versions_request()).error_code == 0
            time.sleep(0.2)
        assert idle.is_closed_by_peer(timeout=5)
        assert partial.is_closed_by_peer(timeout=5)
        assert busy.call(ApiKey.API_VERSIONS, API_VERSIONS_V, api_versions_request()).error_code == 0
    # not before the idle time is up
    with WireClient.connect(server.port) as idle:
        began = time.monotonic()
        assert idle.is_closed_by_peer(timeout=5)
        assert time.monotonic() - began >= 0.5


# -- many connections ----------------------------------------------------------------

CONNECTIONS = 500


def _open_files_soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


def test_500_concurrent_connections_are_all_answered(broker_factory, topic_name: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * CONNECTIONS + 100:
        pytest.skip(f"hard RLIMIT_NOFILE {hard} is too low for {CONNECTIONS} connections on both ends")
    # Start the broker with a soft limit below what it needs: it must raise
    # its own soft limit to the hard one, as Kafka's packaging and many
    # servers do.
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        server = broker_factory()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2 * CONNECTIONS + 100), hard))
    try:
        _hammer(server, topic_name, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _hammer(server, topic_name: str, hard: int) -> None:  # type: ignore[no-untyped-def]
    limit = _open_files_soft_limit(server.pid)
    assert limit == hard or limit >= 2 * CONNECTIONS
    create_topic(server.port, topic_name)
    clients: list[WireClient] = []
    try:
        for _ in range(CONNECTIONS):
            clients.append(WireClient.connect(server.port, timeout=30))
        # One client parks a long poll (longer than the whole test may take):
        # the others are all answered while it waits, and a produce ends it.
        clients[0].send(ApiKey.FETCH, FETCH_V, fetch_request(topic_name, 0, max_wait_ms=600_000), correlation_id=-1)
        for round_ in range(2):
            for i, client in enumerate(clients[1:], start=1):
                request = api_versions_request() if i % 2 else metadata_request([topic_name])
                key, version = (ApiKey.API_VERSIONS, API_VERSIONS_V) if i % 2 else (ApiKey.METADATA, METADATA_V)
                client.send(key, version, request, correlation_id=round_ * CONNECTIONS + i)
            answered = _receive_all(clients[1:], deadline=time.monotonic() + 60)
            assert answered == {round_ * CONNECTIONS + i for i in range(1, CONNECTIONS)}
        assert len(os.listdir(f"/proc/{server.pid}/fd")) > CONNECTIONS
        assert not select.select([clients[0].sock], [], [], 0)[0], "the long poll was answered before any record arrived"
        produced = clients[1].call(ApiKey.PRODUCE, PRODUCE_V, produce_request(topic_name, [b"wake"]))
        assert produced.responses[0].partition_responses[0].error_code == 0
        received, body = clients[0].receive(ApiKey.FETCH, FETCH_V)
        partition = body.responses[0].partitions[0]
        assert received == -1 and partition.error_code == 0 and partition.high_watermark == 1
    finally:
        for client in clients:
            client.close()
    assert_still_serves(server.port)


def _receive_all(clients: list[WireClient], deadline: float) -> set[int]:
    """Read one response from each client, all at once, with select; correlation ids seen."""
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytearray] = {}
    for client in clients:
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ)
        buffers[client.sock] = bytearray()
    seen: set[int] = set()
    try:
        while buffers and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                chunk = sock.recv(65536)
                assert chunk, "connection closed before its answer"
                buffer = buffers[sock]
                buffer += chunk
                if len(buffer) >= 4 and len(buffer) >= 4 + INT32.unpack_from(buffer)[0]:
                    assert len(buffer) == 4 + INT32.unpack_from(buffer)[0], "more than one response"
                    seen.add(INT32.unpack_from(buffer, 4)[0])
                    selector.unregister(sock)
                    del buffers[sock]
    finally:
        selector.close()
        for client in clients:
            client.sock.setblocking(True)
            client.sock.settimeout(30)
    assert not buffers, f"{len(buffers)} connections not answered in time"
    return seen


def test_a_failing_handler_is_answered_unknown_server_error_and_the_connection_stays(tmp_path, topic_name: str, monkeypatch) -> None:
    """A handler bug (here: a Produce handler that raises) must not look like
    a network fault to the client: Kafka answers UNKNOWN_SERVER_ERROR in
    every error field of the request and keeps the connection."""
    from kwire.handlers import REGISTRY
    from kwire.testing import Broker

    def broken(broker: object, request: object) -> object:
        raise RuntimeError("deliberate handler failure")

    with Broker(tmp_path / "data") as server:
        create_topic(server.port, topic_name, partitions=2)
        monkeypatch.setitem(REGISTRY, ApiKey.PRODUCE, dataclasses.replace(REGISTRY[ApiKey.PRODUCE], fn=broken))
        with WireClient.connect(server.port) as wire:
            request = produce_request(topic_name, [b"a"])
            request.topic_data[0].partition_data.append(produce_request(topic_name, [b"b"], partition=1).topic_data[0].partition_data[0])
            answer = wire.call(ApiKey.PRODUCE, PRODUCE_V, request)
            assert [(p.index, p.error_code) for p in answer.responses[0].partition_responses] == [(0, -1), (1, -1)]
            assert wire.call(ApiKey.API_VERSIONS, API_VERSIONS_V, api_versions_request()).error_code == 0
            # acks=0 expects no answer: closing is the only way to tell the producer.
            wire.send(ApiKey.PRODUCE, PRODUCE_V, produce_request(topic_name, [b"c"], acks=0))
            assert wire.is_closed_by_peer()
