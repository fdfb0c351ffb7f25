"""TxnOffsetCommit and OffsetFetch require_stable.

Raw requests against an in-process broker (kwire.testing.Broker): a
transactional producer (InitProducerId with a transactional id, then
AddOffsetsToTxn) commits offsets; the test writes the transaction markers
itself, as the transaction coordinator does: the marker goes to the
group's __consumer_offsets partition (`partitions.append_marker`), then the
group coordinator hears of it (`on_transaction_marker`). Offsets wait for
their marker (UNSTABLE_OFFSET_COMMIT with require_stable, the previous
committed offset without), a COMMIT makes them the committed ones, an
ABORT drops them; pending offsets survive a restart (replayed from the
transactional batch) and complete after it. Transaction verification
(KIP-890) answers as a real Kafka 4.4 does (before AddOffsetsToTxn below
v5: INVALID_TXN_STATE below v4, TRANSACTION_ABORTABLE at v4; implicit add
from v5; INVALID_PRODUCER_ID_MAPPING).

End to end: confluent-kafka's consume-transform-produce loop
(send_offsets_to_transaction, classic and KIP-848 groups) and the Java
producer's sendOffsetsToTransaction, through the broker's own transaction
coordinator; the input's committed offsets move only when a transaction
commits, and survive SIGKILL.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as ConfluentPartition

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.groups import records as rec
from kwire.testing import Broker, BrokerProcess
from kwire.topics import GROUP_METADATA_TOPIC

from tests.broker.test_java_clients import MISSING as JAVA_MISSING
from tests.broker.test_java_clients import Driver, build_driver
from tests.broker.wire import WireClient

TOPIC = "txn-input"
OFFSETS_PARTITIONS = 5
Request = messages.TxnOffsetCommitRequest
RequestTopic = Request.cls.TxnOffsetCommitRequestTopic
RequestPartition = RequestTopic.TxnOffsetCommitRequestPartition
FetchRequest = messages.OffsetFetchRequest
FetchGroup = FetchRequest.cls.OffsetFetchRequestGroup
FetchTopics = FetchGroup.OffsetFetchRequestTopics


@pytest.fixture
def txn_broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(tmp_path / "data", {"offsets.topic.num.partitions": str(OFFSETS_PARTITIONS)}) as broker:
        broker.create_topic(TOPIC, 3)
        yield broker


def find_coordinator(wire: WireClient, group: str) -> None:
    """FindCoordinator creates __consumer_offsets and loads it."""
    for _ in range(50):
        [coordinator] = wire.call(ApiKey.FIND_COORDINATOR, 4, messages.FindCoordinatorRequest(key_type=0, coordinator_keys=[group])).coordinators
        if coordinator.error_code == 0:
            return
    raise AssertionError(f"no coordinator for {group}: {coordinator}")


def retried(call: Callable[[], Any], retriable: tuple[int, ...] = (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR,
                                                                     ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.CONCURRENT_TRANSACTIONS)) -> Any:
    for _ in range(100):
        body = call()
        if body.error_code not in retriable:
            return body
        time.sleep(0.05)
    raise AssertionError(f"still {body.error_code}")


def producer_id(wire: WireClient, transactional_id: str) -> tuple[int, int]:
    """A transactional producer's id and epoch (the transaction coordinator is found first)."""
    def find() -> Any:
        [coordinator] = wire.call(ApiKey.FIND_COORDINATOR, 4, messages.FindCoordinatorRequest(key_type=1, coordinator_keys=[transactional_id])).coordinators
        return coordinator
    assert retried(find).error_code == 0
    body = retried(lambda: wire.call(ApiKey.INIT_PRODUCER_ID, 4, messages.InitProducerIdRequest(
        transactional_id=transactional_id, transaction_timeout_ms=60000, producer_id=-1, producer_epoch=-1)))
    assert body.error_code == 0
    return body.producer_id, body.producer_epoch


def add_offsets(wire: WireClient, transactional_id: str, producer: tuple[int, int], group: str) -> None:
    body = retried(lambda: wire.call(ApiKey.ADD_OFFSETS_TO_TXN, 3, messages.AddOffsetsToTxnRequest(
        transactional_id=transactional_id, producer_id=producer[0], producer_epoch=producer[1], group_id=group)))
    assert body.error_code == 0


def txn_commit(wire: WireClient, group: str, producer: tuple[int, int], offsets: dict[int, int], *, version: int = 3,
               topic: str = TOPIC, topic_id: uuid.UUID | None = None, generation: int = -1, member: str = "",
               metadata: str | None = "", transactional_id: str = "txn") -> dict[int, int]:
    """partition -> error code."""
    request = Request(
        transactional_id=transactional_id, group_id=group, producer_id=producer[0], producer_epoch=producer[1],
        generation_id_or_member_epoch=generation, member_id=member, group_instance_id=None,
        topics=[RequestTopic(name=topic, topic_id=topic_id or rec.ZERO_UUID, partitions=[
            RequestPartition(partition_index=p, committed_offset=o, committed_leader_epoch=-1, committed_metadata=metadata) for p, o in offsets.items()
        ])],
    )
    [answer] = wire.call(ApiKey.TXN_OFFSET_COMMIT, version, request).topics
    return {p.partition_index: p.error_code for p in answer.partitions}


def fetch(wire: WireClient, group: str, partitions: list[int] | None, *, require_stable: bool, version: int = 8) -> dict[int, tuple[int, int]]:
    """partition -> (committed offset, error code), through OffsetFetch v7 or v8+."""
    if version < 8:
        topics = None if partitions is None else [messages.OffsetFetchRequest.cls.OffsetFetchRequestTopic(name=TOPIC, partition_indexes=partitions)]
        body = wire.call(ApiKey.OFFSET_FETCH, version, FetchRequest(group_id=group, topics=topics, require_stable=require_stable))
        assert body.error_code == 0
        rows = body.topics
    else:
        topics = None if partitions is None else [FetchTopics(name=TOPIC, partition_indexes=partitions)]
        body = wire.call(ApiKey.OFFSET_FETCH, version, FetchRequest(groups=[FetchGroup(group_id=group, topics=topics)], require_stable=require_stable))
        [answer] = body.groups
        assert answer.error_code == 0
        rows = answer.topics
    return {p.partition_index: (p.committed_offset, p.error_code) for t in rows for p in t.partitions}


def write_marker(broker: Broker, group: str, producer: tuple[int, int], commit: bool) -> None:
    """What the transaction coordinator does at the end of a transaction, for the group's partition."""
    node_broker = broker.node.broker
    partition = node_broker.group_coordinator.coordinator.partition_for(group)

    async def marker() -> None:
        leader_epoch = node_broker.image.topic(GROUP_METADATA_TOPIC).partition(partition).leader_epoch
        node_broker.partitions.append_marker(GROUP_METADATA_TOPIC, partition, producer[0], producer[1], 0, commit, leader_epoch)
        node_broker.group_coordinator.on_transaction_marker(partition, producer[0], commit)

    broker._run(marker(), 10)


UNSTABLE = ErrorCode.UNSTABLE_OFFSET_COMMIT


def test_offsets_wait_for_the_commit_marker(txn_broker: Broker) -> None:
    group = "consume-transform-produce"
    with WireClient.connect(txn_broker.port) as wire:
        find_coordinator(wire, group)
        producer = producer_id(wire, "txn")
        add_offsets(wire, "txn", producer, group)
        assert txn_commit(wire, group, producer, {0: 5, 1: 7}) == {0: 0, 1: 0}
        for version in (7, 8, 9):
            assert fetch(wire, group, [0, 1, 2], require_stable=True, version=version) == {0: (-1, UNSTABLE), 1: (-1, UNSTABLE), 2: (-1, 0)}
            assert fetch(wire, group, [0, 1, 2], require_stable=False, version=version) == {0: (-1, 0), 1: (-1, 0), 2: (-1, 0)}
        # All partitions (topics null): only committed ones are listed, pending-only ones are not.
        assert fetch(wire, group, None, require_stable=True) == {}
        write_marker(txn_broker, group, producer, commit=True)
        assert fetch(wire, group, [0, 1, 2], require_stable=True) == {0: (5, 0), 1: (7, 0), 2: (-1, 0)}
        assert fetch(wire, group, None, require_stable=True) == {0: (5, 0), 1: (7, 0)}

        # The next transaction of the producer moves partition 0; until its marker,
        # require_stable refuses it and the rest answers the committed offset.
        assert txn_commit(wire, group, producer, {0: 9}) == {0: 0}
        assert fetch(wire, group, None, require_stable=True) == {0: (-1, UNSTABLE), 1: (7, 0)}
        assert fetch(wire, group, None, require_stable=False) == {0: (5, 0), 1: (7, 0)}
        write_marker(txn_broker, group, producer, commit=False)
        assert fetch(wire, group, None, require_stable=True) == {0: (5, 0), 1: (7, 0)}, "aborted: the offset stays"


def test_every_version_and_the_errors(txn_broker: Broker) -> None:
    group = "versions"
    topic_id = txn_broker.node.broker.image.topic(TOPIC).topic_id
    with WireClient.connect(txn_broker.port) as wire:
        find_coordinator(wire, group)
        producer = producer_id(wire, "txn")
        # Transaction verification: the group's partition is not in the transaction yet.
        assert txn_commit(wire, group, producer, {0: 1}, version=3) == {0: ErrorCode.INVALID_TXN_STATE}
        assert txn_commit(wire, group, producer, {0: 1}, version=4) == {0: ErrorCode.TRANSACTION_ABORTABLE}
        assert txn_commit(wire, group, (producer[0] + 1000, 0), {0: 1}) == {0: ErrorCode.INVALID_PRODUCER_ID_MAPPING}
        assert txn_commit(wire, "never-seen", producer, {0: 1}, generation=3, member="m") == {0: ErrorCode.INVALID_TXN_STATE}, \
            "verification comes before the group's checks, as in Kafka"
        # v5+ (transactions v2 clients) add the partition to the transaction themselves.
        other = producer_id(wire, "txn-v2")
        assert txn_commit(wire, group, other, {1: 8}, version=5, transactional_id="txn-v2") == {1: 0}
        add_offsets(wire, "txn", producer, group)
        for version in range(0, 6):
            assert txn_commit(wire, group, producer, {0: 10 + version}, version=version) == {0: 0}
        assert txn_commit(wire, group, producer, {0: 16}, version=6, topic="", topic_id=topic_id) == {0: 0}
        write_marker(txn_broker, group, producer, commit=True)
        assert fetch(wire, group, [0], require_stable=True) == {0: (16, 0)}

        assert txn_commit(wire, group, producer, {0: 1}, topic="no-such-topic") == {0: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
        assert txn_commit(wire, group, producer, {0: 1}, version=6, topic="", topic_id=uuid.uuid4()) == {0: ErrorCode.UNKNOWN_TOPIC_ID}
        assert txn_commit(wire, "", producer, {0: 1}) == {0: ErrorCode.INVALID_GROUP_ID}
        assert txn_commit(wire, group, producer, {0: 1, 1: 1}, metadata="x" * 4097)[0] == ErrorCode.OFFSET_METADATA_TOO_LARGE
        add_offsets(wire, "txn", producer, "never-seen")
        assert txn_commit(wire, "never-seen", producer, {0: 1}, generation=3, member="m") == {0: ErrorCode.ILLEGAL_GENERATION}
        # An older epoch: the transaction coordinator fences it.
        assert txn_commit(wire, group, (producer[0], producer[1] - 1), {0: 2}) == {0: ErrorCode.INVALID_PRODUCER_EPOCH}


def test_pending_offsets_survive_a_restart_and_complete_after_it(txn_broker: Broker) -> None:
    committed_group, pending_group = "done-before-restart", "pending-over-restart"
    with WireClient.connect(txn_broker.port) as wire:
        for group in (committed_group, pending_group):
            find_coordinator(wire, group)
        producer = producer_id(wire, "first")
        other = producer_id(wire, "second")
        assert txn_commit(wire, committed_group, producer, {0: 3}, version=5, transactional_id="first") == {0: 0}
        write_marker(txn_broker, committed_group, producer, commit=True)
        assert txn_commit(wire, pending_group, other, {1: 4}, version=5, transactional_id="second") == {1: 0}
    txn_broker.restart()
    with WireClient.connect(txn_broker.port) as wire:
        find_coordinator(wire, pending_group)
        assert fetch(wire, committed_group, [0], require_stable=True) == {0: (3, 0)}
        assert fetch(wire, pending_group, [1], require_stable=True) == {1: (-1, UNSTABLE)}
        write_marker(txn_broker, pending_group, other, commit=True)
        assert fetch(wire, pending_group, [1], require_stable=True) == {1: (4, 0)}


# -- end to end: consume-transform-produce with confluent-kafka ---------------------------


def consume_batch(c: Any, count: int, timeout: float = 20.0) -> list[Any]:
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        assert time.monotonic() < deadline, f"only {len(out)} of {count} records"
        message = c.poll(0.1)
        if message is not None:
            assert message.error() is None, message.error()
            out.append(message)
    return out


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int, *, require_stable: bool) -> dict[int, int]:
    """What the group has committed, through a consumer that never joins (read_committed asks require_stable)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                       "isolation.level": "read_committed" if require_stable else "read_uncommitted"})
    try:
        found = reader.committed([ConfluentPartition(topic, p) for p in range(partitions)], timeout=15)
        return {tp.partition: tp.offset for tp in found}
    finally:
        reader.close()


def read_committed_values(bootstrap: str, topic: str, count: int) -> list[bytes]:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader", "isolation.level": "read_committed",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        reader.assign([ConfluentPartition(topic, 0, 0)])
        values = [m.value() for m in consume_batch(reader, count)]
        # Nothing more is visible (the aborted records are filtered), within a bounded wait.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            message = reader.poll(0.1)
            assert message is None or message.error() is not None, f"unexpected record {message.value()!r}"
        return values
    finally:
        reader.close()


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_send_offsets_to_transaction_commits_input_offsets_only_on_commit(broker_factory: Callable[..., BrokerProcess], tmp_path: Path,
                                                                           protocol: str) -> None:
    """The group's member id and generation (classic) or member epoch (KIP-848)
    travel in TxnOffsetCommit v3+ and are checked."""
    broker = broker_factory(data_dir=tmp_path / "data")
    bootstrap = broker.bootstrap_servers
    source, sink, group = "ctp-in", "ctp-out", "ctp"
    broker.create_topic(source, 2)
    broker.create_topic(sink, 1)
    for i in range(8):
        broker.produce(source, f"in-{i}", partition=i % 2)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest", "group.protocol": protocol,
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "ctp-txn", "transaction.timeout.ms": 60000})
    try:
        producer.init_transactions(30)
        consumer.subscribe([source])

        def transform(messages: list[Any], commit: bool) -> None:
            producer.begin_transaction()
            for m in messages:
                producer.produce(sink, m.value().upper(), partition=0)
            positions = consumer.position(consumer.assignment())
            producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
            if commit:
                producer.commit_transaction(30)
            else:
                producer.abort_transaction(30)

        transform(consume_batch(consumer, 8), commit=True)
        assert committed_offsets(bootstrap, group, source, 2, require_stable=True) == {0: 4, 1: 4}
        # Four more input records; the transaction that would consume them aborts.
        for i in range(8, 12):
            broker.produce(source, f"in-{i}", partition=i % 2)
        transform(consume_batch(consumer, 4), commit=False)
        assert committed_offsets(bootstrap, group, source, 2, require_stable=True) == {0: 4, 1: 4}
    finally:
        consumer.close()
        producer.flush(10)
    assert sorted(read_committed_values(bootstrap, sink, 8)) == sorted(f"IN-{i}".encode() for i in range(8))
    broker.kill()  # SIGKILL: only what was appended survives
    broker.start()
    assert committed_offsets(broker.bootstrap_servers, group, source, 2, require_stable=True) == {0: 4, 1: 4}


@pytest.mark.skipif(bool(JAVA_MISSING), reason="the Java driver needs a JDK and Maven")
def test_java_producer_offsets_count_only_when_committed(broker: BrokerProcess, topic_name: str) -> None:
    """kafka-clients 4.4's sendOffsetsToTransaction (through the Java driver of
    test_java_clients.py): a committed transaction's offsets are the group's,
    an aborted one's are not."""
    bootstrap = broker.bootstrap_servers
    broker.create_topic(topic_name, 2)
    group = f"{topic_name}-g"
    driver = Driver(build_driver(), bootstrap)

    def txn(commit: bool, offsets: dict[str, int]) -> dict[str, Any]:
        return {"records": [{"partition": 0, "value": base64.b64encode(b"x").decode()}], "commit": commit, "group": group, "offsets": offsets}

    driver.ok({"op": "transactions", "topic": topic_name, "config": {"transactional.id": f"{topic_name}-java"},
               "transactions": [txn(True, {"0": 3, "1": 5}), txn(False, {"0": 10, "1": 10})]})
    assert committed_offsets(bootstrap, group, topic_name, 2, require_stable=True) == {0: 3, 1: 5}
