"""DescribeCluster, DescribeLogDirs, OffsetForLeaderEpoch and
DescribeTopicPartitions against a real broker, over real sockets.

Expected values are what Apache Kafka 4.4 answered to the same requests
(compared by hand with compat_tests/reference_kafka.py); where Kafka's order
is a hash order (DescribeLogDirs topics and partitions) kwire's is sorted.

librdkafka (confluent-kafka 2.16) implements describe_cluster and
describe_topics with Metadata requests, not with DescribeCluster or
DescribeTopicPartitions; its tests here check the same facts seen through
that client. kafka-python's admin client sends DescribeCluster,
DescribeLogDirs and DescribeTopicPartitions.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient

from kwire.testing import BrokerProcess
from kwire_protocol import messages
from kwire_protocol.messages import ApiKey
from tests.broker.wire import WireClient, create_topic, metadata_request, produce_request

NODE_ID = 1  # node.id default
NOT_REQUESTED = -(2**31)
# CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE
CLUSTER_OPERATIONS = 8096
CLUSTER_OPERATION_NAMES = ["CREATE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"]
# READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS
TOPIC_OPERATIONS = 3576
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

NONE, UNKNOWN_SERVER_ERROR, UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, INVALID_REQUEST = 0, -1, 3, 17, 42
FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH = 74, 75
MISMATCHED_ENDPOINT_TYPE, UNSUPPORTED_ENDPOINT_TYPE = 114, 115


@pytest.fixture
def wire(broker: BrokerProcess) -> Iterator[WireClient]:
    assert broker.port is not None
    with WireClient.connect(broker.port) as client:
        yield client


@pytest.fixture
def kafka_admin(broker: BrokerProcess) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, request_timeout_ms=10000)
    try:
        yield admin
    finally:
        admin.close()


def cluster_id(wire: WireClient) -> str:
    return wire.call(ApiKey.METADATA, 12, metadata_request([])).cluster_id


def topic_ids(wire: WireClient, names: list[str]) -> dict[str, Any]:
    response = wire.call(ApiKey.METADATA, 12, metadata_request(names))
    return {t.name: t.topic_id for t in response.topics}


def produce(wire: WireClient, topic: str, values: list[bytes], partition: int = 0) -> int:
    """Produce one batch; returns its size in bytes (what the log grows by)."""
    request = produce_request(topic, values, partition=partition)
    response = wire.call(ApiKey.PRODUCE, 9, request)
    assert response.responses[0].partition_responses[0].error_code == NONE
    return len(request.topic_data[0].partition_data[0].records)


# -- DescribeCluster ------------------------------------------------------------

@pytest.mark.parametrize("version", [0, 1, 2])
def test_describe_cluster_lists_this_broker(broker: BrokerProcess, wire: WireClient, version: int) -> None:
    request = messages.DescribeClusterRequest(include_cluster_authorized_operations=True, include_fenced_brokers=True)
    response = wire.call(ApiKey.DESCRIBE_CLUSTER, version, request)
    assert response.error_code == NONE
    assert response.error_message is None
    assert response.cluster_id == cluster_id(wire)
    assert response.controller_id == NODE_ID
    assert [(b.broker_id, b.host, b.port, b.rack, b.is_fenced) for b in response.brokers] == [(NODE_ID, "127.0.0.1", broker.port, None, False)]
    assert response.cluster_authorized_operations == CLUSTER_OPERATIONS
    assert response.endpoint_type == 1


def test_describe_cluster_operations_only_when_asked(wire: WireClient) -> None:
    response = wire.call(ApiKey.DESCRIBE_CLUSTER, 2, messages.DescribeClusterRequest(include_cluster_authorized_operations=False))
    assert response.cluster_authorized_operations == NOT_REQUESTED


@pytest.mark.parametrize(("endpoint_type", "error", "message"), [
    (2, MISMATCHED_ENDPOINT_TYPE, "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"),
    (0, UNSUPPORTED_ENDPOINT_TYPE, "Unsupported endpoint type 0"),
    (5, UNSUPPORTED_ENDPOINT_TYPE, "Unsupported endpoint type 5"),
])
def test_describe_cluster_endpoint_types_other_than_broker(wire: WireClient, endpoint_type: int, error: int, message: str) -> None:
    request = messages.DescribeClusterRequest(include_cluster_authorized_operations=True, endpoint_type=endpoint_type)
    response = wire.call(ApiKey.DESCRIBE_CLUSTER, 1, request)
    assert (response.error_code, response.error_message) == (error, message)
    assert (response.cluster_id, response.controller_id, response.brokers) == ("", -1, [])
    assert (response.endpoint_type, response.cluster_authorized_operations) == (1, NOT_REQUESTED)


def test_kafka_python_describe_cluster(broker: BrokerProcess, wire: WireClient, kafka_admin: KafkaAdminClient) -> None:
    assert kafka_admin.describe_cluster() == {
        "cluster_id": cluster_id(wire),
        "controller_id": NODE_ID,
        "brokers": [{"broker_id": NODE_ID, "host": "127.0.0.1", "port": broker.port, "rack": None, "is_fenced": False}],
        "authorized_operations": CLUSTER_OPERATION_NAMES,
    }


def test_confluent_kafka_describe_cluster(broker: BrokerProcess, wire: WireClient) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    cluster = admin.describe_cluster(include_authorized_operations=True, request_timeout=10).result(timeout=20)
    assert cluster.cluster_id == cluster_id(wire)
    assert (cluster.controller.id, cluster.controller.host, cluster.controller.port) == (NODE_ID, "127.0.0.1", broker.port)
    assert [(n.id, n.host, n.port, n.rack) for n in cluster.nodes] == [(NODE_ID, "127.0.0.1", broker.port, None)]
    assert [op.name for op in cluster.authorized_operations] == CLUSTER_OPERATION_NAMES


def test_confluent_kafka_describe_topics(broker: BrokerProcess, wire: WireClient, topic_name: str) -> None:
    assert broker.port is not None
    create_topic(broker.port, topic_name, partitions=2)
    missing = f"{topic_name}-missing"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    futures = admin.describe_topics(TopicCollection([topic_name, missing]), include_authorized_operations=True, request_timeout=10)
    described = futures[topic_name].result(timeout=20)
    assert described.name == topic_name
    assert str(described.topic_id) == _base64_uuid(topic_ids(wire, [topic_name])[topic_name])
    assert described.is_internal is False
    assert [(p.id, p.leader.id, [r.id for r in p.replicas], [r.id for r in p.isr]) for p in described.partitions] == [
        (0, NODE_ID, [NODE_ID], [NODE_ID]), (1, NODE_ID, [NODE_ID], [NODE_ID]),
    ]
    assert [op.name for op in described.authorized_operations] == [
        "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
    ]
    with pytest.raises(Exception) as failure:
        futures[missing].result(timeout=20)
    assert failure.value.args[0].code() == UNKNOWN_TOPIC_OR_PARTITION


def _base64_uuid(value: Any) -> str:
    # librdkafka prints a Uuid in standard base64 without padding (Kafka's
    # own Uuid.toString is the URL-safe alphabet).
    return base64.b64encode(value.bytes).decode().rstrip("=")


# -- DescribeLogDirs ---------------------------------------------------------------

def _log_dir_topics(result: Any) -> dict[str, list[tuple[int, int, int, bool]]]:
    return {t.name: [(p.partition_index, p.partition_size, p.offset_lag, p.is_future_key) for p in t.partitions] for t in result.topics}


def test_describe_log_dirs_sizes_and_filter(broker: BrokerProcess, wire: WireClient, topic_name: str) -> None:
    assert broker.port is not None
    create_topic(broker.port, topic_name, partitions=3)
    size = produce(wire, topic_name, [b"a", b"b"]) + produce(wire, topic_name, [b"c"])
    other = f"{topic_name}-other"
    create_topic(broker.port, other, partitions=1)
    request_topic = messages.DescribeLogDirsRequest.cls.DescribableLogDirTopic
    request = messages.DescribeLogDirsRequest(topics=[
        request_topic(topic=topic_name, partitions=[2, 0, 7]),  # 7 does not exist: left out
        request_topic(topic=f"{topic_name}-missing", partitions=[0]),  # no log: no entry at all
    ])
    for version in (1, 2, 3, 4, 5):
        response = wire.call(ApiKey.DESCRIBE_LOG_DIRS, version, request)
        assert response.error_code == NONE
        [result] = response.results
        assert (result.error_code, result.log_dir) == (NONE, str(broker.data_dir.absolute()))
        assert _log_dir_topics(result) == {topic_name: [(0, size, 0, False), (2, 0, 0, False)]}
        if version >= 4:
            stats = os.statvfs(broker.data_dir)
            assert result.total_bytes == stats.f_blocks * stats.f_frsize
            # Other processes write to the same file system meanwhile.
            assert abs(result.usable_bytes - stats.f_bavail * stats.f_frsize) < 256 << 20
            assert 0 < result.usable_bytes <= result.total_bytes
        else:
            assert (result.total_bytes, result.usable_bytes) == (-1, -1)  # not in these versions
        assert result.is_cordoned is False

    everything = wire.call(ApiKey.DESCRIBE_LOG_DIRS, 4, messages.DescribeLogDirsRequest(topics=None))
    topics = _log_dir_topics(everything.results[0])
    assert topics[topic_name] == [(0, size, 0, False), (1, 0, 0, False), (2, 0, 0, False)]
    assert topics[other] == [(0, 0, 0, False)]

    nothing = wire.call(ApiKey.DESCRIBE_LOG_DIRS, 4, messages.DescribeLogDirsRequest(topics=[]))
    assert nothing.results[0].topics == []


def test_kafka_python_describe_log_dirs(broker: BrokerProcess, wire: WireClient, kafka_admin: KafkaAdminClient, topic_name: str) -> None:
    assert broker.port is not None
    create_topic(broker.port, topic_name, partitions=2)
    size = produce(wire, topic_name, [b"x" * 100], partition=1)
    [answer] = kafka_admin.describe_log_dirs({topic_name: [0, 1]})
    assert answer["broker"] == NODE_ID
    [log_dir] = answer["log_dirs"]
    assert (log_dir["error_code"], log_dir["log_dir"], log_dir["is_cordoned"]) == (NONE, str(broker.data_dir.absolute()), False)
    assert log_dir["topics"] == [{"name": topic_name, "partitions": [
        {"partition_index": 0, "partition_size": 0, "offset_lag": 0, "is_future_key": False},
        {"partition_index": 1, "partition_size": size, "offset_lag": 0, "is_future_key": False},
    ]}]
    assert log_dir["total_bytes"] > 0 and 0 < log_dir["usable_bytes"] <= log_dir["total_bytes"]


# -- OffsetForLeaderEpoch ------------------------------------------------------------

def offset_for_leader_epoch(wire: WireClient, version: int, topic: str, partitions: list[tuple[int, int, int]], replica_id: int = -2) -> list[tuple[int, int, int, int]]:
    """(partition, current leader epoch, leader epoch) each -> (error, partition, leader epoch, end offset)."""
    request_topic = messages.OffsetForLeaderEpochRequest.cls.OffsetForLeaderTopic
    request = messages.OffsetForLeaderEpochRequest(replica_id=replica_id, topics=[request_topic(topic=topic, partitions=[
        request_topic.OffsetForLeaderPartition(partition=p, current_leader_epoch=current, leader_epoch=epoch) for p, current, epoch in partitions
    ])])
    response = wire.call(ApiKey.OFFSET_FOR_LEADER_EPOCH, version, request)
    assert response.throttle_time_ms == 0
    [result] = response.topics
    assert result.topic == topic
    return [(p.error_code, p.partition, p.leader_epoch, p.end_offset) for p in result.partitions]


@pytest.mark.parametrize("version", [2, 3, 4])
def test_offset_for_leader_epoch(broker: BrokerProcess, wire: WireClient, topic_name: str, version: int) -> None:
    assert broker.port is not None
    create_topic(broker.port, topic_name, partitions=2)
    produce(wire, topic_name, [b"a", b"b"])
    produce(wire, topic_name, [b"c"])
    assert offset_for_leader_epoch(wire, version, topic_name, [
        (0, -1, 0),   # the current epoch ends at the log end offset
        (0, -1, 1),   # above every known epoch: undefined, no error
        (0, -1, -1),  # undefined epoch asked: undefined
        (1, -1, 0),   # the epoch is known from leadership, before any data
        (0, 0, 0),    # current leader epoch matches
        (0, 1, 0),    # the client knows a newer epoch than the broker
        (0, -5, 0),   # any other negative counts as older
        (9, -1, 0),   # no such partition
    ]) == [
        (NONE, 0, 0, 3),
        (NONE, 0, -1, -1),
        (NONE, 0, -1, -1),
        (NONE, 1, 0, 0),
        (NONE, 0, 0, 3),
        (UNKNOWN_LEADER_EPOCH, 0, -1, -1),
        (FENCED_LEADER_EPOCH, 0, -1, -1),
        (UNKNOWN_TOPIC_OR_PARTITION, 9, -1, -1),
    ]


@pytest.mark.parametrize("replica_id", [NODE_ID, -1, -2])
def test_offset_for_leader_epoch_same_answer_for_every_replica_id(broker: BrokerProcess, wire: WireClient, topic_name: str, replica_id: int) -> None:
    assert broker.port is not None
    create_topic(broker.port, topic_name)
    produce(wire, topic_name, [b"a"])
    assert offset_for_leader_epoch(wire, 3, topic_name, [(0, 0, 0)], replica_id=replica_id) == [(NONE, 0, 0, 1)]


@pytest.mark.parametrize("topic", ["no-such-topic-here", "not a valid name!"])
def test_offset_for_leader_epoch_unknown_topic(wire: WireClient, topic: str) -> None:
    assert offset_for_leader_epoch(wire, 4, topic, [(0, -1, 0)]) == [(UNKNOWN_TOPIC_OR_PARTITION, 0, -1, -1)]


def test_offset_for_leader_epoch_survives_restart(broker_factory: Callable[..., BrokerProcess], topic_name: str) -> None:
    node = broker_factory()
    assert node.port is not None
    create_topic(node.port, topic_name)
    with WireClient.connect(node.port) as wire:
        produce(wire, topic_name, [b"a", b"b", b"c", b"d"])
    node.stop()
    node.kill()  # after stop(): closes the stopped process's output pipe (restart() leaves it open)
    node.start()
    with WireClient.connect(node.port) as wire:
        assert offset_for_leader_epoch(wire, 4, topic_name, [(0, 0, 0)]) == [(NONE, 0, 0, 4)]
    assert (Path(node.data_dir) / f"{topic_name}-0" / "leader-epoch-checkpoint").read_text() == "0\n1\n0 0\n"


# -- DescribeTopicPartitions -----------------------------------------------------------

def describe_topic_partitions(wire: WireClient, names: list[str], limit: int = 2000, cursor: tuple[str, int] | None = None) -> Any:
    request_type = messages.DescribeTopicPartitionsRequest
    request = request_type(
        topics=[request_type.cls.TopicRequest(name=name) for name in names],
        response_partition_limit=limit,
        cursor=None if cursor is None else request_type.cls.Cursor(topic_name=cursor[0], partition_index=cursor[1]),
    )
    return wire.call(ApiKey.DESCRIBE_TOPIC_PARTITIONS, 0, request)


def page(response: Any) -> tuple[list[tuple[str, int, list[int]]], tuple[str, int] | None]:
    """(topic, error, partition indexes) per topic, and the next cursor."""
    topics = [(t.name, t.error_code, [p.partition_index for p in t.partitions]) for t in response.topics]
    cursor = None if response.next_cursor is None else (response.next_cursor.topic_name, response.next_cursor.partition_index)
    return topics, cursor


@pytest.fixture
def three_topics(broker: BrokerProcess, topic_name: str) -> list[str]:
    """Topics <name>-a (3 partitions), <name>-b (2) and <name>-c (1)."""
    assert broker.port is not None
    names = [f"{topic_name}-{suffix}" for suffix in "abc"]
    for name, partitions in zip(names, (3, 2, 1)):
        create_topic(broker.port, name, partitions=partitions)
    return names


def test_describe_topic_partitions_fields(wire: WireClient, three_topics: list[str]) -> None:
    a, b, c = three_topics
    ids = topic_ids(wire, three_topics)
    response = describe_topic_partitions(wire, [c, a])
    assert response.throttle_time_ms == 0
    assert response.next_cursor is None
    assert [(t.error_code, t.name, t.topic_id, t.is_internal, t.topic_authorized_operations) for t in response.topics] == [
        (NONE, a, ids[a], False, TOPIC_OPERATIONS), (NONE, c, ids[c], False, TOPIC_OPERATIONS),
    ]
    partitions = [
        (p.error_code, p.partition_index, p.leader_id, p.leader_epoch, p.replica_nodes, p.isr_nodes,
         p.eligible_leader_replicas, p.last_known_elr, p.offline_replicas)
        for p in response.topics[0].partitions
    ]
    assert partitions == [(NONE, i, NODE_ID, 0, [NODE_ID], [NODE_ID], [], [], []) for i in range(3)]


def test_describe_topic_partitions_unknown_and_invalid_topics(wire: WireClient, three_topics: list[str]) -> None:
    a = three_topics[0]
    missing = f"{a}-missing"
    response = describe_topic_partitions(wire, [missing, a, "bad name!", missing])
    assert [(t.name, t.error_code, str(t.topic_id) if t.error_code else "id", t.is_internal, len(t.partitions), t.topic_authorized_operations)
            for t in response.topics] == [
        ("bad name!", INVALID_TOPIC_EXCEPTION, ZERO_UUID, False, 0, TOPIC_OPERATIONS),
        (a, NONE, "id", False, 3, TOPIC_OPERATIONS),
        (missing, UNKNOWN_TOPIC_OR_PARTITION, ZERO_UUID, False, 0, TOPIC_OPERATIONS),
    ]


def test_describe_topic_partitions_pages(wire: WireClient, three_topics: list[str]) -> None:
    a, b, c = three_topics
    # A topic that does not fit ends the page with a cursor inside it.
    assert page(describe_topic_partitions(wire, three_topics, limit=2)) == ([(a, NONE, [0, 1])], (a, 2))
    # The limit used up exactly at a topic's end: the cursor is the next topic's start.
    assert page(describe_topic_partitions(wire, three_topics, limit=3)) == ([(a, NONE, [0, 1, 2])], (b, 0))
    assert page(describe_topic_partitions(wire, three_topics, limit=3, cursor=(a, 2))) == ([(a, NONE, [2]), (b, NONE, [0, 1])], (c, 0))
    # Limits below 1 count as 1.
    assert page(describe_topic_partitions(wire, three_topics, limit=0)) == ([(a, NONE, [0])], (a, 1))
    assert page(describe_topic_partitions(wire, three_topics, limit=-7, cursor=(c, 0))) == ([(c, NONE, [0])], None)
    # A cursor past a topic's partitions gives it an empty list and goes on.
    assert page(describe_topic_partitions(wire, [a, b], limit=10, cursor=(a, 9))) == ([(a, NONE, []), (b, NONE, [0, 1])], None)
    # Unknown topics take no room; a cursor may name a topic that does not exist.
    before_a, after_a = a[:-1] + "0-missing", a + "-missing"
    assert page(describe_topic_partitions(wire, [c, a, before_a], limit=3)) == (
        [(before_a, UNKNOWN_TOPIC_OR_PARTITION, []), (a, NONE, [0, 1, 2])], (c, 0))
    assert page(describe_topic_partitions(wire, [a, b, after_a], limit=3)) == ([(a, NONE, [0, 1, 2])], (after_a, 0))


def test_describe_topic_partitions_follow_cursor_to_the_end(wire: WireClient, three_topics: list[str]) -> None:
    seen: list[tuple[str, int]] = []
    cursor: tuple[str, int] | None = None
    for _ in range(10):  # 6 partitions, 2 per page: 3 pages
        topics, cursor = page(describe_topic_partitions(wire, three_topics, limit=2, cursor=cursor))
        seen += [(name, index) for name, _, indexes in topics for index in indexes]
        if cursor is None:
            break
    assert cursor is None
    assert seen == [(three_topics[0], 0), (three_topics[0], 1), (three_topics[0], 2),
                    (three_topics[1], 0), (three_topics[1], 1), (three_topics[2], 0)]


@pytest.mark.parametrize(("names", "cursor", "error"), [
    (["{a}", "{c}"], ("{b}", 0), INVALID_REQUEST),  # the cursor's topic must be listed
    (["{a}", "{b}"], ("{b}", -1), INVALID_REQUEST),  # a negative partition
    (["{a}", "", "{a}"], None, UNKNOWN_SERVER_ERROR),  # Kafka fails on the empty name without a cursor
])
def test_describe_topic_partitions_refused(wire: WireClient, three_topics: list[str], names: list[str], cursor: tuple[str, int] | None, error: int) -> None:
    a, b, c = three_topics

    def fill(text: str) -> str:
        return text.format(a=a, b=b, c=c)

    names = [fill(n) for n in names]
    response = describe_topic_partitions(wire, names, cursor=None if cursor is None else (fill(cursor[0]), cursor[1]))
    assert response.next_cursor is None
    assert [(t.name, t.error_code, str(t.topic_id), t.is_internal, t.partitions, t.topic_authorized_operations) for t in response.topics] == [
        (name, error, ZERO_UUID, False, [], NOT_REQUESTED) for name in names
    ]


def test_describe_topic_partitions_all_topics(broker_factory: Callable[..., BrokerProcess]) -> None:
    node = broker_factory()
    assert node.port is not None
    for name, partitions in (("b", 2), ("a", 1), ("c", 3)):
        create_topic(node.port, name, partitions=partitions)
    with WireClient.connect(node.port) as wire:
        assert page(describe_topic_partitions(wire, [])) == ([("a", NONE, [0]), ("b", NONE, [0, 1]), ("c", NONE, [0, 1, 2])], None)
        assert page(describe_topic_partitions(wire, [], limit=3)) == ([("a", NONE, [0]), ("b", NONE, [0, 1])], ("c", 0))
        # With every topic asked for, a cursor naming a missing topic just starts after it.
        assert page(describe_topic_partitions(wire, [], cursor=("a0", 0))) == ([("b", NONE, [0, 1]), ("c", NONE, [0, 1, 2])], None)
        assert page(describe_topic_partitions(wire, [], limit=4, cursor=("c", 1))) == ([("c", NONE, [1, 2])], None)


def test_kafka_python_describe_topic_partitions(wire: WireClient, kafka_admin: KafkaAdminClient, three_topics: list[str]) -> None:
    a, b, c = three_topics
    ids = topic_ids(wire, three_topics)
    first = kafka_admin.describe_topic_partitions([c, b, a], response_partition_limit=4)
    assert first["next_cursor"] == {"topic_name": b, "partition_index": 1}
    assert [(t["name"], t["topic_id"], [p["partition_index"] for p in t["partitions"]]) for t in first["topics"]] == [
        (a, ids[a], [0, 1, 2]), (b, ids[b], [0]),
    ]
    assert first["topics"][0]["partitions"][0] == {
        "error_code": NONE, "partition_index": 0, "leader_id": NODE_ID, "leader_epoch": 0, "replica_nodes": [NODE_ID],
        "isr_nodes": [NODE_ID], "eligible_leader_replicas": None, "last_known_elr": None, "offline_replicas": [],
    }
    second = kafka_admin.describe_topic_partitions([c, b, a], response_partition_limit=4, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    assert [(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in second["topics"]] == [(b, [1]), (c, [0])]


def test_broker_rack_in_describe_cluster_and_metadata(broker_factory: Callable[..., BrokerProcess]) -> None:
    node = broker_factory({"broker.rack": "rack-1"})
    with WireClient.connect(node.port or 0) as wire:
        described = wire.call(ApiKey.DESCRIBE_CLUSTER, 2, messages.DescribeClusterRequest())
        assert [(b.broker_id, b.rack) for b in described.brokers] == [(NODE_ID, "rack-1")]
        metadata = wire.call(ApiKey.METADATA, 12, metadata_request([]))
        assert [(b.node_id, b.rack) for b in metadata.brokers] == [(NODE_ID, "rack-1")]
