"""Committed offsets: durable in __consumer_offsets, and the wire details.

* Offsets and metadata strings committed through clients survive SIGKILL of
  the broker and a restart on the same data directory (the coordinator
  rebuilds them from __consumer_offsets before answering).
* Raw requests (tests/broker/wire.py) for what clients seldom show:
  OffsetFetch with topics=null at every version that has it, several
  groups at once (v8+), OffsetCommit generation checks, FindCoordinator
  batches (v4+) and transaction keys, OffsetDelete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import CoordinatorLoadInProgressError
from kafka.structs import OffsetAndMetadata, TopicPartition

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.groups import records as rec
from kwire.testing import BrokerProcess

from tests.broker.wire import WireClient


@pytest.fixture(scope="module")
def offsets_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("offsets")) as process:
        yield process


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit(offsets)
    finally:
        consumer.close()


def fetch(bootstrap: str, group: str) -> dict[tuple[str, int], tuple[int, str]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        found = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return {(tp.topic, tp.partition): (o.offset, o.metadata) for tp, o in found.items()}


def test_offsets_survive_sigkill_and_restart(broker_factory: Callable[..., BrokerProcess], tmp_path: Path, topic_name: str) -> None:
    data_dir = tmp_path / "data"
    broker = broker_factory(data_dir=data_dir)
    create_topic(broker.bootstrap_servers, topic_name, 3)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    for p in range(3):
        for i in range(10):
            producer.send(topic_name, value=b"v", partition=p)
    producer.flush()
    producer.close()
    group = f"{topic_name}-g"
    committed = {
        TopicPartition(topic_name, 0): OffsetAndMetadata(3, "first ünïcode", -1),
        TopicPartition(topic_name, 1): OffsetAndMetadata(10, "", -1),
        TopicPartition(topic_name, 2): OffsetAndMetadata(0, "x" * 1000, -1),
    }
    commit(broker.bootstrap_servers, group, committed)
    commit(broker.bootstrap_servers, group, {TopicPartition(topic_name, 0): OffsetAndMetadata(5, "second", -1)})
    # A group that is deleted stays deleted after the restart.
    commit(broker.bootstrap_servers, f"{group}-deleted", {TopicPartition(topic_name, 0): OffsetAndMetadata(1, "", -1)})
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    assert admin.delete_groups([f"{group}-deleted"]) == {f"{group}-deleted": "OK"}
    admin.close()
    expected = {(topic_name, 0): (5, "second"), (topic_name, 1): (10, ""), (topic_name, 2): (0, "x" * 1000)}
    assert fetch(broker.bootstrap_servers, group) == expected

    broker.kill()
    broker.start()
    # The coordinator answers COORDINATOR_LOAD_IN_PROGRESS (which kafka-python's
    # admin client does not retry by itself) until __consumer_offsets is read.
    deadline = time.monotonic() + 10
    while True:
        try:
            assert fetch(broker.bootstrap_servers, group) == expected
            break
        except CoordinatorLoadInProgressError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        assert {g["group_id"] for g in admin.list_groups()} == {group}
    finally:
        admin.close()
    # A consumer of the group resumes exactly at the committed offsets.
    consumer = KafkaConsumer(topic_name, bootstrap_servers=broker.bootstrap_servers, group_id=group, enable_auto_commit=False, consumer_timeout_ms=10_000)
    try:
        first = {}
        for message in consumer:
            first.setdefault(message.partition, message.offset)
            if len(first) == 2:  # partition 1 is at its end
                break
        assert first == {0: 5, 2: 0}
    finally:
        consumer.close()


def test_records_in_the_log_are_kafkas_formats(broker_factory: Callable[..., BrokerProcess], tmp_path: Path, topic_name: str) -> None:
    """The bytes in __consumer_offsets decode as Kafka 4.4 writes them:
    key type 1 + OffsetCommitKey, value version 4 + OffsetCommitValue."""
    data_dir = tmp_path / "data"
    broker = broker_factory(data_dir=data_dir)
    create_topic(broker.bootstrap_servers, topic_name, 1)
    group = f"{topic_name}-g"
    commit(broker.bootstrap_servers, group, {TopicPartition(topic_name, 0): OffsetAndMetadata(42, "meta", 7)})
    broker.stop()
    partition = rec.partition_for(group, 50)
    segment = data_dir / f"__consumer_offsets-{partition}" / "00000000000000000000.log"
    from kwire_protocol.records.batch import split_batches

    found = [(r.key, r.value) for b in split_batches(segment.read_bytes()) for r in b.records()]
    [(key, value)] = found
    assert key[:2] == b"\x00\x01" and value[:2] == b"\x00\x04"
    decoded = rec.decode(key, value)
    assert isinstance(decoded, rec.OffsetRecord)
    assert (decoded.group_id, decoded.topic, decoded.partition) == (group, topic_name, 0)
    assert decoded.value is not None and (decoded.value.offset, decoded.value.metadata, decoded.value.leader_epoch) == (42, "meta", 7)


def _coordinator_ready(wire: WireClient, group: str) -> None:
    body = wire.call(ApiKey.FIND_COORDINATOR, 4, messages.FindCoordinatorRequest(key_type=0, coordinator_keys=[group]))
    assert body.coordinators[0].error_code == ErrorCode.NONE


def test_offset_fetch_all_partitions_at_every_version(offsets_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(offsets_broker.bootstrap_servers, topic_name, 2)
    group = f"{topic_name}-g"
    commit(offsets_broker.bootstrap_servers, group, {
        TopicPartition(topic_name, 0): OffsetAndMetadata(4, "m0", -1),
        TopicPartition(topic_name, 1): OffsetAndMetadata(9, "m1", -1),
    })
    with WireClient.connect(offsets_broker.port) as wire:
        _coordinator_ready(wire, group)
        for version in range(2, 8):
            body = wire.call(ApiKey.OFFSET_FETCH, version, messages.OffsetFetchRequest(group_id=group, topics=None))
            assert body.error_code == ErrorCode.NONE
            [topic] = body.topics
            assert topic.name == topic_name
            assert [(p.partition_index, p.committed_offset, p.metadata, p.error_code) for p in topic.partitions] == [(0, 4, "m0", 0), (1, 9, "m1", 0)]
        Group = messages.OffsetFetchRequest.cls.OffsetFetchRequestGroup
        for version in (8, 9):
            body = wire.call(ApiKey.OFFSET_FETCH, version, messages.OffsetFetchRequest(groups=[Group(group_id=group, topics=None), Group(group_id="no-such-group", topics=None)]))
            assert [(g.group_id, g.error_code, len(g.topics)) for g in body.groups] == [(group, 0, 1), ("no-such-group", 0, 0)]
        # Named partitions without a commit: offset -1, metadata "", no error.
        Topic = messages.OffsetFetchRequest.cls.OffsetFetchRequestTopic
        body = wire.call(ApiKey.OFFSET_FETCH, 7, messages.OffsetFetchRequest(group_id="no-such-group", topics=[Topic(name=topic_name, partition_indexes=[0])], require_stable=True))
        [p] = body.topics[0].partitions
        assert (p.committed_offset, p.committed_leader_epoch, p.metadata, p.error_code) == (-1, -1, "", 0)


def test_offset_commit_checks_on_the_wire(offsets_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(offsets_broker.bootstrap_servers, topic_name, 1)
    group = f"{topic_name}-g"
    Req = messages.OffsetCommitRequest
    Topic = Req.cls.OffsetCommitRequestTopic
    Partition = Topic.OffsetCommitRequestPartition

    def commit_request(generation: int, member: str, topic: str = topic_name) -> messages.OffsetCommitRequest:
        return Req(group_id=group, generation_id_or_member_epoch=generation, member_id=member,
                   topics=[Topic(name=topic, partitions=[Partition(partition_index=0, committed_offset=1, committed_metadata=None)])])

    def errors(body: object) -> list[int]:
        return [p.error_code for t in body.topics for p in t.partitions]  # type: ignore[attr-defined]

    with WireClient.connect(offsets_broker.port) as wire:
        _coordinator_ready(wire, group)
        assert errors(wire.call(ApiKey.OFFSET_COMMIT, 8, commit_request(1, "m"))) == [ErrorCode.ILLEGAL_GENERATION]
        assert errors(wire.call(ApiKey.OFFSET_COMMIT, 9, commit_request(1, "m"))) == [ErrorCode.GROUP_ID_NOT_FOUND]
        assert errors(wire.call(ApiKey.OFFSET_COMMIT, 9, commit_request(-1, "", "no-such-topic"))) == [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
        assert errors(wire.call(ApiKey.OFFSET_COMMIT, 9, commit_request(-1, ""))) == [ErrorCode.NONE]
        # A null metadata string is stored as "".
        body = wire.call(ApiKey.OFFSET_FETCH, 7, messages.OffsetFetchRequest(group_id=group, topics=None))
        assert [(p.committed_offset, p.metadata) for p in body.topics[0].partitions] == [(1, "")]
        # The group now exists without members: a member id of nobody is unknown.
        assert errors(wire.call(ApiKey.OFFSET_COMMIT, 9, commit_request(3, "nobody"))) == [ErrorCode.UNKNOWN_MEMBER_ID]
        # OffsetDelete of an empty group's offset, then of an unknown group.
        DTopic = messages.OffsetDeleteRequest.cls.OffsetDeleteRequestTopic
        DPartition = DTopic.OffsetDeleteRequestPartition
        delete = messages.OffsetDeleteRequest(group_id=group, topics=[DTopic(name=topic_name, partitions=[DPartition(partition_index=0)])])
        body = wire.call(ApiKey.OFFSET_DELETE, 0, delete)
        assert body.error_code == 0 and body.topics[0].partitions[0].error_code == 0
        body = wire.call(ApiKey.OFFSET_FETCH, 7, messages.OffsetFetchRequest(group_id=group, topics=None))
        assert body.topics == []
        delete.group_id = "no-such-group"
        assert wire.call(ApiKey.OFFSET_DELETE, 0, delete).error_code == ErrorCode.GROUP_ID_NOT_FOUND


def test_find_coordinator_versions_and_key_types(offsets_broker: BrokerProcess) -> None:
    with WireClient.connect(offsets_broker.port) as wire:
        for version in range(0, 4):
            body = wire.call(ApiKey.FIND_COORDINATOR, version, messages.FindCoordinatorRequest(key="g1", key_type=0))
            assert (body.error_code, body.node_id, body.port) == (0, 1, offsets_broker.port)
        body = wire.call(ApiKey.FIND_COORDINATOR, 4, messages.FindCoordinatorRequest(key_type=0, coordinator_keys=["a", "b"]))
        assert [(c.key, c.error_code, c.node_id) for c in body.coordinators] == [("a", 0, 1), ("b", 0, 1)]
        # Transaction keys: this node's transaction coordinator (__transaction_state is created on first use).
        body = wire.call(ApiKey.FIND_COORDINATOR, 4, messages.FindCoordinatorRequest(key_type=1, coordinator_keys=["txn"]))
        assert [(c.error_code, c.node_id, c.host, c.port) for c in body.coordinators] == [(0, 1, "127.0.0.1", offsets_broker.port)]
        body = wire.call(ApiKey.FIND_COORDINATOR, 6, messages.FindCoordinatorRequest(key_type=2, coordinator_keys=["share"]))
        assert [(c.error_code, c.node_id) for c in body.coordinators] == [(ErrorCode.INVALID_REQUEST, -1)]
        body = wire.call(ApiKey.FIND_COORDINATOR, 3, messages.FindCoordinatorRequest(key="g1", key_type=0))
        assert body.error_message == "NONE"  # Kafka's Errors.NONE.message()


def test_answers_for_unknown_groups_as_kafka_4_4(offsets_broker: BrokerProcess) -> None:
    """Compared with a real Kafka 4.4 (compat_tests/reference_kafka.py)."""
    with WireClient.connect(offsets_broker.port) as wire:
        _coordinator_ready(wire, "nogroup")
        Member = messages.LeaveGroupRequest.cls.MemberIdentity
        body = wire.call(ApiKey.LEAVE_GROUP, 5, messages.LeaveGroupRequest(group_id="nogroup", members=[Member(member_id="x")]))
        assert (body.error_code, [m.error_code for m in body.members]) == (0, [ErrorCode.UNKNOWN_MEMBER_ID])
        assert wire.call(ApiKey.LEAVE_GROUP, 1, messages.LeaveGroupRequest(group_id="nogroup", member_id="x")).error_code == ErrorCode.UNKNOWN_MEMBER_ID
        assert wire.call(ApiKey.HEARTBEAT, 4, messages.HeartbeatRequest(group_id="nogroup", generation_id=1, member_id="x")).error_code == ErrorCode.UNKNOWN_MEMBER_ID
        sync = messages.SyncGroupRequest(group_id="nogroup", generation_id=1, member_id="x", assignments=[])
        assert wire.call(ApiKey.SYNC_GROUP, 5, sync).error_code == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        [g5] = wire.call(ApiKey.DESCRIBE_GROUPS, 5, messages.DescribeGroupsRequest(groups=["nogroup"])).groups
        assert (g5.error_code, g5.group_state, g5.authorized_operations) == (0, "Dead", -(2**31))
        [g6] = wire.call(ApiKey.DESCRIBE_GROUPS, 6, messages.DescribeGroupsRequest(groups=["nogroup"])).groups
        assert (g6.error_code, g6.error_message, g6.group_state) == (ErrorCode.GROUP_ID_NOT_FOUND, "Group nogroup not found.", "Dead")
        [d] = wire.call(ApiKey.DELETE_GROUPS, 3, messages.DeleteGroupsRequest(groups_names=["nogroup"])).results
        assert (d.error_code, d.error_message) == (ErrorCode.GROUP_ID_NOT_FOUND, None)
        assert wire.call(ApiKey.OFFSET_DELETE, 0, messages.OffsetDeleteRequest(group_id="nogroup", topics=[])).error_code == ErrorCode.GROUP_ID_NOT_FOUND
