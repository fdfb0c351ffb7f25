"""CreateTopics, DeleteTopics, CreatePartitions and DeleteRecords against a real broker.

Through kafka-python's KafkaAdminClient and confluent-kafka's AdminClient;
what those clients cannot send (a repeated name, timeout_ms 0, v6 entries
naming both a name and an id) through raw frames. Error codes and messages
are what Apache Kafka 4.4 answers (checked against a reference broker with
the same requests).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin import NewPartitions as CNewPartitions
from confluent_kafka.admin import NewTopic as CNewTopic
from kafka import TopicPartition as KTopicPartition
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import OffsetOutOfRangeError

from kwire.testing import BrokerProcess
from kwire_protocol import messages
from kwire_protocol.messages import ApiKey
from tests.broker.wire import WireClient

TIMEOUT = 15.0
NONE, OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, REQUEST_TIMED_OUT = 0, 1, 3, 7
INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR = 17, 36, 37, 38
INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG, INVALID_REQUEST, POLICY_VIOLATION = 39, 40, 42, 44
TOPIC_DELETION_DISABLED, UNKNOWN_TOPIC_ID = 73, 100
ZERO_UUID = uuid.UUID(int=0)


# -- clients ----------------------------------------------------------------------


def kafka_error(future: Any) -> KafkaError:
    with pytest.raises(KafkaException) as info:
        future.result(TIMEOUT)
    return info.value.args[0]


def produce(bootstrap: str, topic: str, values: list[bytes], partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for value in values:
        producer.produce(topic, value, partition=partition)
    assert producer.flush(TIMEOUT) == 0


def consume(bootstrap: str, topic: str, partition: int, offset: int, count: int) -> list[tuple[int, bytes]]:
    """Read `count` records from `offset` (bounded in time)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + TIMEOUT
        while len(out) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            out.append((message.offset(), message.value()))
        return out
    finally:
        consumer.close()


def fetch_error(bootstrap: str, topic: str, partition: int, offset: int) -> KafkaError | None:
    """The error a consumer with auto.offset.reset=error gets fetching from `offset`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None:
                return message.error()
        return None
    finally:
        consumer.close()


def watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    """(earliest, latest) as ListOffsets answers them."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT)
    finally:
        consumer.close()


def topic_metadata(cadmin: AdminClient, topic: str) -> Any:
    """The topic in a Metadata answer for all topics, or None when the broker does not know it.

    (Asking for the one topic would auto-create it.)"""
    return cadmin.list_topics(timeout=TIMEOUT).topics.get(topic)


def topic_id_of(admin: KafkaAdminClient, topic: str) -> uuid.UUID:
    (described,) = admin.describe_topics([topic])
    return uuid.UUID(described["topic_id"])


def create(cadmin: AdminClient, topic: str, partitions: int = 1, **configs: str) -> None:
    cadmin.create_topics([CNewTopic(topic, partitions, 1, config=configs)])[topic].result(TIMEOUT)


@pytest.fixture
def wire(broker: BrokerProcess) -> Iterator[WireClient]:
    assert broker.port is not None
    with WireClient.connect(broker.port, timeout=TIMEOUT) as client:
        yield client


def raw_create_topics(wire: WireClient, topics: list[tuple[str, int, int]], timeout_ms: int = 15000) -> list[tuple[str, int, str | None]]:
    T = messages.CreateTopicsRequest.cls.CreatableTopic
    body = messages.CreateTopicsRequest(
        topics=[T(name=n, num_partitions=p, replication_factor=r, assignments=[], configs=[]) for n, p, r in topics],
        timeout_ms=timeout_ms, validate_only=False)
    return [(t.name, t.error_code, t.error_message) for t in wire.call(ApiKey.CREATE_TOPICS, 7, body).topics]


def raw_delete_topics(wire: WireClient, topics: list[tuple[str | None, uuid.UUID]], timeout_ms: int = 15000) -> list[tuple[str | None, uuid.UUID, int, str | None]]:
    S = messages.DeleteTopicsRequest.cls.DeleteTopicState
    body = messages.DeleteTopicsRequest(topics=[S(name=n, topic_id=i) for n, i in topics], timeout_ms=timeout_ms)
    return [(r.name, r.topic_id, r.error_code, r.error_message) for r in wire.call(ApiKey.DELETE_TOPICS, 6, body).responses]


def raw_create_partitions(wire: WireClient, topics: list[tuple[str, int]], timeout_ms: int = 15000) -> list[tuple[str, int, str | None]]:
    T = messages.CreatePartitionsRequest.cls.CreatePartitionsTopic
    body = messages.CreatePartitionsRequest(topics=[T(name=n, count=c, assignments=None) for n, c in topics], timeout_ms=timeout_ms, validate_only=False)
    return [(r.name, r.error_code, r.error_message) for r in wire.call(ApiKey.CREATE_PARTITIONS, 3, body).results]


# -- CreateTopics -----------------------------------------------------------------


def test_create_topics_checks_as_kafka(admin: KafkaAdminClient, cadmin: AdminClient, topic_name: str) -> None:
    def outcome(topic: NewTopic, validate_only: bool = False) -> tuple[int, str | None]:
        response = admin.create_topics([topic], validate_only=validate_only, raise_errors=False)
        (result,) = response["topics"]
        return result["error_code"], result["error_message"]

    assert outcome(NewTopic(topic_name, 2, 1), validate_only=True) == (NONE, None)
    assert topic_metadata(cadmin, topic_name) is None  # validate_only created nothing
    assert outcome(NewTopic(topic_name, -1, -1)) == (NONE, None)  # the broker's defaults: 1 partition, 1 replica
    assert len(topic_metadata(cadmin, topic_name).partitions) == 1
    assert outcome(NewTopic(topic_name, 1, 1)) == (TOPIC_ALREADY_EXISTS, f"Topic '{topic_name}' already exists.")

    other = topic_name + "-x"
    assert outcome(NewTopic(other, 1, 3)) == (
        INVALID_REPLICATION_FACTOR,
        "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because "
        "only 1 broker(s) are registered or some brokers have all their log directories cordoned.",
    )
    assert outcome(NewTopic(other, 1, 0)) == (INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0, or -1 to use the default value.")
    assert outcome(NewTopic(other, 0, 1)) == (INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value.")
    assert outcome(NewTopic("bad name", 1, 1)) == (
        INVALID_TOPIC_EXCEPTION, "Topic name is invalid: 'bad name' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'")
    assert outcome(NewTopic(".", 1, 1)) == (INVALID_TOPIC_EXCEPTION, "Topic name is invalid: '.' is not allowed")
    assert outcome(NewTopic(other, 1, 1, topic_configs={"retention.ms": "abc"})) == (
        INVALID_CONFIG, "Invalid value abc for configuration retention.ms: Not a number of type LONG")
    # Configs are checked even when the request only validates.
    assert outcome(NewTopic(other, 1, 1, topic_configs={"no.such.config": "1"}), validate_only=True) == (
        INVALID_CONFIG, "Unknown topic config name: no.such.config")
    # Explicit assignments.
    assert outcome(NewTopic(other, 2, -1, replica_assignments={0: [1], 1: [1]})) == (
        INVALID_REQUEST, "A manual partition assignment was specified, but numPartitions was not set to -1.")
    assert outcome(NewTopic(other, -1, -1, replica_assignments={0: [1], 2: [1]})) == (
        INVALID_REPLICA_ASSIGNMENT, "partitions should be a consecutive 0-based integer sequence")
    assert outcome(NewTopic(other, -1, -1, replica_assignments={0: [5]})) == (
        INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes broker 5, but no such broker is registered.")
    assert outcome(NewTopic(other, -1, -1, replica_assignments={0: [1, 1]})) == (
        INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes the broker 1 more than once.")
    assert topic_metadata(cadmin, other) is None
    assert outcome(NewTopic(other, -1, -1, replica_assignments={0: [1], 1: [1], 2: [1]})) == (NONE, None)
    assert len(topic_metadata(cadmin, other).partitions) == 3


def test_create_topics_confluent(cadmin: AdminClient, topic_name: str) -> None:
    assert cadmin.create_topics([CNewTopic(topic_name, 2, 1)], validate_only=True)[topic_name].result(TIMEOUT) is None
    assert topic_metadata(cadmin, topic_name) is None
    create(cadmin, topic_name, 4, **{"cleanup.policy": "compact"})
    assert len(topic_metadata(cadmin, topic_name).partitions) == 4
    assert kafka_error(cadmin.create_topics([CNewTopic(topic_name, 1, 1)])[topic_name]).code() == KafkaError.TOPIC_ALREADY_EXISTS
    error = kafka_error(cadmin.create_topics([CNewTopic(topic_name + "-b", 1, 1, config={"cleanup.policy": "bogus"})])[topic_name + "-b"])
    assert error.code() == KafkaError.INVALID_CONFIG
    assert kafka_error(cadmin.create_topics([CNewTopic(topic_name + "-b", 1, 2)])[topic_name + "-b"]).code() == KafkaError.INVALID_REPLICATION_FACTOR


def test_create_topics_raw_duplicates_and_timeout(wire: WireClient, cadmin: AdminClient, topic_name: str) -> None:
    # A repeated name gets one answer, INVALID_REQUEST; the other topic is created.
    assert raw_create_topics(wire, [(topic_name, 1, 1), (topic_name, 1, 1), (topic_name + "-2", 1, 1)]) == [
        (topic_name, INVALID_REQUEST, "Duplicate topic name."), (topic_name + "-2", NONE, None)]
    assert topic_metadata(cadmin, topic_name) is None
    # timeout_ms <= 0: the time is up before anything happens.
    assert raw_create_topics(wire, [(topic_name + "-3", 1, 1)], timeout_ms=0) == [(topic_name + "-3", REQUEST_TIMED_OUT, None)]
    assert topic_metadata(cadmin, topic_name + "-3") is None


# -- DeleteTopics -----------------------------------------------------------------


def test_delete_topics_kafka_python(broker: BrokerProcess, admin: KafkaAdminClient, cadmin: AdminClient, topic_name: str) -> None:
    by_name, by_id = topic_name + "-n", topic_name + "-i"
    create(cadmin, by_name, 2)
    create(cadmin, by_id)
    produce(broker.bootstrap_servers, by_name, [b"a", b"b"])
    assert (broker.data_dir / f"{by_name}-1").is_dir()
    topic_id = topic_id_of(admin, by_id)
    unknown_id = uuid.uuid4()
    result = admin.delete_topics([by_name, topic_name + "-none"], raise_errors=False)["topics"]
    assert [(r["name"], r["error_code"], r["error_message"]) for r in result] == [
        (by_name, NONE, None), (topic_name + "-none", UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.")]
    result = admin.delete_topics([topic_id, unknown_id], raise_errors=False)["topics"]
    assert [(r["name"], uuid.UUID(str(r["topic_id"])), r["error_code"], r["error_message"]) for r in result] == [
        (by_id, topic_id, NONE, None), (None, unknown_id, UNKNOWN_TOPIC_ID, "This server does not host this topic ID.")]
    assert topic_metadata(cadmin, by_name) is None and topic_metadata(cadmin, by_id) is None
    # The logs are gone from disk once the deletion is answered.
    assert not any(p.name.startswith(by_name) or p.name.startswith(by_id) for p in broker.data_dir.iterdir())


def test_delete_and_create_again_starts_empty(broker: BrokerProcess, admin: KafkaAdminClient, cadmin: AdminClient, topic_name: str) -> None:
    create(cadmin, topic_name)
    old_id = topic_id_of(admin, topic_name)
    produce(broker.bootstrap_servers, topic_name, [b"old-%d" % i for i in range(5)])
    assert watermarks(broker.bootstrap_servers, topic_name) == (0, 5)
    assert cadmin.delete_topics([topic_name])[topic_name].result(TIMEOUT) is None
    assert topic_metadata(cadmin, topic_name) is None
    assert kafka_error(cadmin.delete_topics([topic_name])[topic_name]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    create(cadmin, topic_name)
    assert topic_id_of(admin, topic_name) != old_id
    assert watermarks(broker.bootstrap_servers, topic_name) == (0, 0)
    produce(broker.bootstrap_servers, topic_name, [b"new"])
    assert consume(broker.bootstrap_servers, topic_name, 0, 0, 1) == [(0, b"new")]


def test_delete_topics_raw_v6(wire: WireClient, cadmin: AdminClient, topic_name: str) -> None:
    create(cadmin, topic_name)
    some_id = uuid.uuid4()
    assert raw_delete_topics(wire, [(topic_name, some_id), (None, ZERO_UUID), ("x-" + topic_name, ZERO_UUID), ("x-" + topic_name, ZERO_UUID)]) == [
        (topic_name, some_id, INVALID_REQUEST, "You may not specify both topic name and topic id."),
        (None, ZERO_UUID, INVALID_REQUEST, "Neither topic name nor id were specified."),
        ("x-" + topic_name, ZERO_UUID, INVALID_REQUEST, "Duplicate topic name."),
    ]
    assert raw_delete_topics(wire, [(topic_name, ZERO_UUID)], timeout_ms=0) == [(topic_name, ZERO_UUID, REQUEST_TIMED_OUT, None)]
    assert topic_metadata(cadmin, topic_name) is not None  # not deleted


def test_delete_topics_disabled(broker_factory: Any) -> None:
    broker = broker_factory({"delete.topic.enable": "false"})
    cadmin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    create(cadmin, "kept")
    assert kafka_error(cadmin.delete_topics(["kept"])["kept"]).code() == KafkaError.TOPIC_DELETION_DISABLED
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, request_timeout_ms=int(TIMEOUT * 1000))
    try:
        result = admin.delete_topics(["kept", "missing"], raise_errors=False)["topics"]
        assert [(r["name"], r["error_code"]) for r in result] == [("kept", TOPIC_DELETION_DISABLED), ("missing", TOPIC_DELETION_DISABLED)]
    finally:
        admin.close()
    assert topic_metadata(cadmin, "kept") is not None


# -- CreatePartitions -------------------------------------------------------------


def test_create_partitions_kafka_python(broker: BrokerProcess, admin: KafkaAdminClient, cadmin: AdminClient, topic_name: str) -> None:
    create(cadmin, topic_name, 2)

    def outcome(count: int, assignments: list[list[int]] | None = None, validate_only: bool = False, topic: str = topic_name) -> tuple[int, str | None]:
        response = admin.create_partitions({topic: NewPartitions(count, assignments)}, validate_only=validate_only, raise_errors=False)
        (result,) = response.results
        return result.error_code, result.error_message

    assert outcome(4, validate_only=True) == (NONE, None)
    assert len(topic_metadata(cadmin, topic_name).partitions) == 2
    assert outcome(2) == (INVALID_PARTITIONS, "Topic already has 2 partition(s).")
    assert outcome(1) == (INVALID_PARTITIONS, f"The topic {topic_name} currently has 2 partition(s); 1 would not be an increase.")
    assert outcome(3, topic=topic_name + "-none") == (UNKNOWN_TOPIC_OR_PARTITION, None)
    assert outcome(4, [[1]]) == (INVALID_REPLICA_ASSIGNMENT, "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.")
    assert outcome(3, [[7]]) == (INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes broker 7, but no such broker is registered.")
    assert outcome(3, [[1, 1]]) == (INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes the broker 1 more than once.")
    assert outcome(3, [[]]) == (INVALID_REPLICA_ASSIGNMENT, "The manual partition assignment includes an empty replica list.")
    assert len(topic_metadata(cadmin, topic_name).partitions) == 2
    assert outcome(3, [[1]]) == (NONE, None)
    assert outcome(5) == (NONE, None)
    assert sorted(topic_metadata(cadmin, topic_name).partitions) == [0, 1, 2, 3, 4]
    # The new partitions take records at once.
    produce(broker.bootstrap_servers, topic_name, [b"p4"], partition=4)
    assert consume(broker.bootstrap_servers, topic_name, 4, 0, 1) == [(0, b"p4")]


def test_create_partitions_confluent(broker: BrokerProcess, cadmin: AdminClient, topic_name: str) -> None:
    create(cadmin, topic_name)
    assert cadmin.create_partitions([CNewPartitions(topic_name, 3)], validate_only=True)[topic_name].result(TIMEOUT) is None
    assert len(topic_metadata(cadmin, topic_name).partitions) == 1
    assert cadmin.create_partitions([CNewPartitions(topic_name, 3)])[topic_name].result(TIMEOUT) is None
    assert len(topic_metadata(cadmin, topic_name).partitions) == 3
    error = kafka_error(cadmin.create_partitions([CNewPartitions(topic_name, 2)])[topic_name])
    assert (error.code(), error.str()) == (KafkaError.INVALID_PARTITIONS, f"The topic {topic_name} currently has 3 partition(s); 2 would not be an increase.")
    assert kafka_error(cadmin.create_partitions([CNewPartitions(topic_name + "-none", 2)])[topic_name + "-none"]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    produce(broker.bootstrap_servers, topic_name, [b"x", b"y"], partition=2)
    assert consume(broker.bootstrap_servers, topic_name, 2, 0, 2) == [(0, b"x"), (1, b"y")]


def test_create_partitions_raw_duplicates_and_timeout(wire: WireClient, cadmin: AdminClient, topic_name: str) -> None:
    create(cadmin, topic_name)
    assert raw_create_partitions(wire, [(topic_name, 2), (topic_name, 3)]) == [(topic_name, INVALID_REQUEST, "Duplicate topic name.")]
    assert raw_create_partitions(wire, [(topic_name, 2)], timeout_ms=0) == [(topic_name, REQUEST_TIMED_OUT, None)]
    assert len(topic_metadata(cadmin, topic_name).partitions) == 1


# -- DeleteRecords ----------------------------------------------------------------


def test_delete_records_kafka_python(broker: BrokerProcess, admin: KafkaAdminClient, cadmin: AdminClient, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create(cadmin, topic_name, 2)
    produce(bootstrap, topic_name, [b"v%d" % i for i in range(10)])
    tp = KTopicPartition(topic_name, 0)
    assert admin.delete_records({tp: 4})[tp]["low_watermark"] == 4
    assert watermarks(bootstrap, topic_name) == (4, 10)
    assert consume(bootstrap, topic_name, 0, 4, 6) == [(i, b"v%d" % i) for i in range(4, 10)]
    assert fetch_error(bootstrap, topic_name, 0, 2).code() == KafkaError._AUTO_OFFSET_RESET
    # Lower than the start: nothing changes, and that is no error.
    assert admin.delete_records({tp: 2})[tp]["low_watermark"] == 4
    with pytest.raises(OffsetOutOfRangeError):
        admin.delete_records({tp: 11})
    assert admin.delete_records({tp: -1})[tp]["low_watermark"] == 10  # -1: the high watermark
    assert watermarks(bootstrap, topic_name) == (10, 10)
    empty = KTopicPartition(topic_name, 1)
    assert admin.delete_records({empty: 0})[empty]["low_watermark"] == 0


def test_delete_records_confluent(broker: BrokerProcess, cadmin: AdminClient, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create(cadmin, topic_name)
    produce(bootstrap, topic_name, [b"r%d" % i for i in range(8)])
    futures = cadmin.delete_records([TopicPartition(topic_name, 0, 5)])
    (future,) = futures.values()
    assert future.result(TIMEOUT).low_watermark == 5
    assert watermarks(bootstrap, topic_name) == (5, 8)
    assert consume(bootstrap, topic_name, 0, 5, 3) == [(5, b"r5"), (6, b"r6"), (7, b"r7")]
    (future,) = cadmin.delete_records([TopicPartition(topic_name, 0, 9)]).values()
    assert kafka_error(future).code() == KafkaError.OFFSET_OUT_OF_RANGE
    compacted = topic_name + "-c"
    create(cadmin, compacted, **{"cleanup.policy": "compact"})
    (future,) = cadmin.delete_records([TopicPartition(compacted, 0, 0)]).values()
    assert kafka_error(future).code() == KafkaError.POLICY_VIOLATION


# -- restarts ---------------------------------------------------------------------


@pytest.mark.parametrize("crash", [False, True], ids=["clean-restart", "sigkill"])
def test_results_survive_restart(broker_factory: Any, tmp_path: Any, crash: bool) -> None:
    data_dir = tmp_path / "data"
    broker = broker_factory(data_dir=data_dir)
    bootstrap = broker.bootstrap_servers
    cadmin = AdminClient({"bootstrap.servers": bootstrap})
    create(cadmin, "grown", 2)
    create(cadmin, "trimmed")
    create(cadmin, "gone")
    assert cadmin.create_partitions([CNewPartitions("grown", 4)])["grown"].result(TIMEOUT) is None
    produce(bootstrap, "trimmed", [b"t%d" % i for i in range(6)])
    produce(bootstrap, "grown", [b"g"], partition=3)
    (future,) = cadmin.delete_records([TopicPartition("trimmed", 0, 3)]).values()
    assert future.result(TIMEOUT).low_watermark == 3
    assert cadmin.delete_topics(["gone"])["gone"].result(TIMEOUT) is None
    if crash:
        broker.kill()
    else:
        broker.stop()
    broker = broker_factory(data_dir=data_dir)
    bootstrap = broker.bootstrap_servers
    cadmin = AdminClient({"bootstrap.servers": bootstrap})
    assert sorted(topic_metadata(cadmin, "grown").partitions) == [0, 1, 2, 3]
    assert consume(bootstrap, "grown", 3, 0, 1) == [(0, b"g")]
    assert watermarks(bootstrap, "trimmed") == (3, 6)
    assert consume(bootstrap, "trimmed", 0, 3, 3) == [(3, b"t3"), (4, b"t4"), (5, b"t5")]
    assert topic_metadata(cadmin, "gone") is None
    assert not (data_dir / "gone-0").exists()
