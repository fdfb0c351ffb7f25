"""Fault injection (kwire/faults.py) as real clients see it, and the error answers it builds.

Clients run against an in-process `kwire.testing.Broker` (its log records
reach caplog, so each injected fault is counted exactly); the admin
endpoint and `kwire faults` CLI run against a `BrokerProcess`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import confluent_kafka
import kafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kwire.faults import error_response
from kwire.testing import Broker, BrokerProcess
from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import APIS, ApiKey

_names = itertools.count()
NOT_LEADER = ErrorCode.NOT_LEADER_OR_FOLLOWER


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    with Broker() as b:
        yield b


@pytest.fixture
def topic(broker: Broker, request: pytest.FixtureRequest) -> str:
    name = f"faults-{request.node.name[:60].replace('[', '-').replace(']', '')}-{next(_names)}"
    broker.create_topic(name)
    return name


@pytest.fixture(autouse=True)
def _no_rules_left(broker: Broker) -> Iterator[None]:
    yield
    broker.clear_faults()


def injected(caplog: pytest.LogCaptureFixture, api: str) -> int:
    return sum(1 for r in caplog.records if r.name == "kwire.faults" and f" injected into {api} v" in r.getMessage())


# -- error answers from the schema ---------------------------------------------------


def test_error_answer_encodes_for_every_api_and_version() -> None:
    for api in APIS.values():
        for version in range(api.min_version, api.max_version + 1):
            body = error_response(api, version, api.request.cls(), NOT_LEADER)
            decoded = api.response.decode(api.response.encode(body, version), version)
            assert decoded == body, (api.name, version)


def test_error_answer_mirrors_the_request_entry_by_entry() -> None:
    P = messages.ProduceRequest.cls
    produce = P(acks=1, timeout_ms=100, topic_data=[
        P.TopicProduceData(name="a", partition_data=[P.TopicProduceData.PartitionProduceData(index=0), P.TopicProduceData.PartitionProduceData(index=2)]),
        P.TopicProduceData(name="b", partition_data=[P.TopicProduceData.PartitionProduceData(index=1)]),
    ])
    answer = error_response(APIS[ApiKey.PRODUCE], 9, produce, NOT_LEADER)
    assert [(t.name, [(p.index, p.error_code) for p in t.partition_responses]) for t in answer.responses] == [("a", [(0, 6), (2, 6)]), ("b", [(1, 6)])]

    O = messages.OffsetFetchRequest.cls
    fetch = O(groups=[O.OffsetFetchRequestGroup(group_id="g", topics=[O.OffsetFetchRequestGroup.OffsetFetchRequestTopics(name="t", partition_indexes=[3, 4])])])
    answer = error_response(APIS[ApiKey.OFFSET_FETCH], 8, fetch, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    assert [(g.group_id, g.error_code, [(t.name, [(p.partition_index, p.error_code) for p in t.partitions]) for t in g.topics]) for g in answer.groups] == [
        ("g", 14, [("t", [(3, 14), (4, 14)])])
    ]

    coordinators = error_response(APIS[ApiKey.FIND_COORDINATOR], 4, messages.FindCoordinatorRequest(coordinator_keys=["x", "y"]), ErrorCode.COORDINATOR_NOT_AVAILABLE)
    assert [(c.key, c.error_code, c.node_id) for c in coordinators.coordinators] == [("x", 15, 0), ("y", 15, 0)]
    single = error_response(APIS[ApiKey.FIND_COORDINATOR], 3, messages.FindCoordinatorRequest(key="x"), ErrorCode.COORDINATOR_NOT_AVAILABLE)
    assert (single.error_code, single.error_message) == (15, "The coordinator is not available. (injected by kwire)")

    groups = error_response(APIS[ApiKey.DESCRIBE_GROUPS], 5, messages.DescribeGroupsRequest(groups=["g1", "g2"]), ErrorCode.NOT_COORDINATOR)
    assert [(g.group_id, g.error_code) for g in groups.groups] == [("g1", 16), ("g2", 16)]

    F = messages.FetchRequest.cls
    fetch_body = F(topics=[F.FetchTopic(topic="t", partitions=[F.FetchTopic.FetchPartition(partition=5)])], forgotten_topics_data=[F.ForgottenTopic(topic="old", partitions=[1])])
    answer = error_response(APIS[ApiKey.FETCH], 12, fetch_body, NOT_LEADER)
    assert (answer.error_code, [(t.topic, [(p.partition_index, p.error_code) for p in t.partitions]) for t in answer.responses]) == (6, [("t", [(5, 6)])])


# -- clients retry through injected errors -------------------------------------------


def test_confluent_producer_retries_through_three_not_leader_and_the_record_arrives_once(broker: Broker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")
    broker.add_fault("Produce", "NOT_LEADER_OR_FOLLOWER", count=3, topic=topic)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap_servers, "retry.backoff.ms": 20, "linger.ms": 0})
    reports: list[tuple[object, int]] = []
    producer.produce(topic, value=b"once", on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert reports == [(None, 0)]
    assert injected(caplog, "Produce") == 3
    assert broker.faults() == []
    assert [(r.offset, r.value) for r in broker.read_all(topic)] == [(0, b"once")]


def test_kafka_python_producer_retries_through_three_not_leader_and_the_record_arrives_once(broker: Broker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap_servers, retries=10, retry_backoff_ms=20)
    producer.partitions_for(topic)  # connected and metadata known: the faults hit Produce itself
    broker.add_fault("Produce", "NOT_LEADER_OR_FOLLOWER", count=3)
    metadata = producer.send(topic, b"once").get(30)
    producer.close(5)
    assert (metadata.partition, metadata.offset) == (0, 0)
    assert injected(caplog, "Produce") == 3
    assert [(r.offset, r.value) for r in broker.read_all(topic)] == [(0, b"once")]


def test_aiokafka_producer_retries_through_three_not_leader_and_the_record_arrives_once(broker: Broker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")

    async def run() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, retry_backoff_ms=20)
        await producer.start()
        try:
            await producer.partitions_for(topic)
            broker.add_fault("Produce", "NOT_LEADER_OR_FOLLOWER", count=3)
            return (await asyncio.wait_for(producer.send_and_wait(topic, b"once"), 30)).offset
        finally:
            await producer.stop()

    assert asyncio.run(run()) == 0
    assert injected(caplog, "Produce") == 3
    assert [(r.offset, r.value) for r in broker.read_all(topic)] == [(0, b"once")]


def test_a_fault_for_one_topic_leaves_other_topics_alone(broker: Broker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")
    broker.add_fault("Produce", "NOT_LEADER_OR_FOLLOWER", count=1, topic="some-other-topic")
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap_servers})
    producer.produce(topic, value=b"v")
    assert producer.flush(30) == 0
    assert injected(caplog, "Produce") == 0
    assert [f["topic"] for f in broker.faults()] == ["some-other-topic"]


def test_a_dropped_connection_is_retried_and_the_record_arrives_once(broker: Broker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap_servers, retries=10, retry_backoff_ms=20)
    producer.partitions_for(topic)
    broker.add_fault("Produce", drop=True, count=1)
    assert producer.send(topic, b"v").get(30).offset == 0
    producer.close(5)
    assert injected(caplog, "Produce") == 1
    assert [r.value for r in broker.read_all(topic)] == [b"v"]


# -- consumers and groups ----------------------------------------------------------


def test_kafka_python_consumer_sees_injected_fetch_latency(broker: Broker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")
    broker.produce(topic, b"a", b"b")
    consumer = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None, auto_offset_reset="earliest", fetch_max_wait_ms=100)
    consumer.assign([kafka.TopicPartition(topic, 0)])
    consumer.seek(kafka.TopicPartition(topic, 0), 0)
    broker.add_fault("Fetch", latency_ms=1500, count=1, topic=topic)
    started = time.monotonic()
    got: list[bytes] = []
    while len(got) < 2 and time.monotonic() - started < 20:
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(r.value for r in records)
    elapsed = time.monotonic() - started
    consumer.close()
    assert got == [b"a", b"b"]
    assert injected(caplog, "Fetch") == 1
    assert elapsed >= 1.5


def _consume_kafka_python(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                   enable_auto_commit=False, consumer_timeout_ms=20000, retry_backoff_ms=20)
    values = [m.value for _, m in zip(range(count), consumer)]
    consumer.commit()
    consumer.close()
    return values


async def _consume_aiokafka(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, retry_backoff_ms=20)
    await consumer.start()
    try:
        values = [(await asyncio.wait_for(consumer.getone(), 20)).value for _ in range(count)]
        await consumer.commit()
    finally:
        await consumer.stop()
    return values


def _consume_confluent(bootstrap: str, topic: str, group: str, count: int) -> list[bytes]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                                         "enable.auto.commit": False, "retry.backoff.ms": 20})
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 20
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            values.append(message.value())
    consumer.commit(asynchronous=False)
    consumer.close()
    return values


CONSUMERS = {
    "kafka-python": _consume_kafka_python,
    "aiokafka": lambda *args: asyncio.run(_consume_aiokafka(*args)),
    "confluent": _consume_confluent,
}


@pytest.mark.parametrize("client", list(CONSUMERS))
def test_injected_coordinator_not_available_delays_the_join_but_it_completes(broker: Broker, topic: str, client: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "kwire.faults")
    broker.produce(topic, b"x", b"y")
    group = f"{topic}-group"
    broker.add_fault("JoinGroup", "COORDINATOR_NOT_AVAILABLE", count=2)
    assert CONSUMERS[client](broker.bootstrap_servers, topic, group, 2) == [b"x", b"y"]
    assert injected(caplog, "JoinGroup") == 2
    assert broker.committed_offsets(group) == {(topic, 0): 2}


# -- restarts -------------------------------------------------------------------------


def test_restart_keeps_port_and_data_and_a_client_carries_on() -> None:
    with Broker() as b:
        port = b.port
        producer = kafka.KafkaProducer(bootstrap_servers=b.bootstrap_servers, retries=20, retry_backoff_ms=50, reconnect_backoff_ms=20)
        assert producer.send("r", b"before").get(30).offset == 0
        b.restart()
        assert b.port == port
        assert producer.send("r", b"after").get(30).offset == 1
        producer.close(5)
        assert [r.value for r in b.read_all("r")] == [b"before", b"after"]


def test_async_context_manager_starts_and_stops_off_the_callers_loop() -> None:
    async def run() -> tuple[int, str]:
        async with Broker() as b:
            producer = AIOKafkaProducer(bootstrap_servers=b.bootstrap_servers)
            await producer.start()
            try:
                offset = (await producer.send_and_wait("a", b"v")).offset
            finally:
                await producer.stop()
            return offset, str(b.data_dir)

    offset, data_dir = asyncio.run(run())
    assert offset == 0
    assert not __import__("os").path.exists(data_dir)


# -- the admin endpoint and `kwire faults` ---------------------------------------------


def kwire_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kwire", *args], capture_output=True, text=True, timeout=60)


def test_cli_faults_and_restart_through_the_admin_endpoint() -> None:
    with BrokerProcess() as process:
        admin = process.admin_address
        assert admin is not None
        added = kwire_cli("faults", "add", "--admin", admin, "--api", "Produce", "--error", "NOT_LEADER_OR_FOLLOWER", "--count", "3")
        assert added.returncode == 0, added.stderr
        rule = json.loads(added.stdout)
        assert (rule["id"], rule["api"], rule["error"], rule["count"]) == (1, "Produce", "NOT_LEADER_OR_FOLLOWER", 3)
        assert [json.loads(line)["id"] for line in kwire_cli("faults", "list", "--admin", admin).stdout.splitlines()] == [1]

        producer = confluent_kafka.Producer({"bootstrap.servers": process.bootstrap_servers, "retry.backoff.ms": 20})
        producer.produce("cli", value=b"v")
        assert producer.flush(30) == 0
        assert kwire_cli("faults", "list", "--admin", admin).stdout == ""
        assert sum("fault #1 injected into Produce" in line for line in process.output) == 3

        latency = kwire_cli("faults", "add", "--admin", admin, "--api", "fetch", "--latency-ms", "5", "--count", "forever")
        assert json.loads(latency.stdout)["count"] is None
        assert kwire_cli("faults", "remove", "--admin", admin, "2").returncode == 0
        missing = kwire_cli("faults", "remove", "--admin", admin, "2")
        assert (missing.returncode, missing.stderr) == (1, "kwire: error: no fault #2\n")
        unknown = kwire_cli("faults", "add", "--admin", admin, "--api", "Nope", "--error", "NONE")
        assert (unknown.returncode, unknown.stderr) == (2, "kwire: error: unknown API 'Nope' (use Kafka's names, e.g. Produce, Fetch, JoinGroup)\n")
        nothing = kwire_cli("faults", "add", "--admin", admin, "--api", "Produce")
        assert (nothing.returncode, nothing.stderr) == (2, "kwire: error: a fault needs an error, a latency or drop\n")

        request = urllib.request.Request(f"http://{admin}/faults", data=b"[1]", method="POST")
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(request, timeout=10)
        assert bad.value.code == 400
        bad.value.close()

        port = process.port
        restarted = kwire_cli("restart", "--admin", admin)
        assert (restarted.returncode, restarted.stdout) == (0, "restarted\n")
        with urllib.request.urlopen(f"http://{admin}/health", timeout=10) as response:
            assert json.loads(response.read()) == {"status": "ok", "bootstrap_servers": f"127.0.0.1:{port}", "restarts": 1}
        assert [r.value for r in process.read_all("cli")] == [b"v"]

        unreachable = kwire_cli("faults", "list", "--admin", "127.0.0.1:1")
        assert unreachable.returncode == 2 and unreachable.stderr.startswith("kwire: error: cannot reach the admin endpoint at 127.0.0.1:1")
