"""TxnOffsetCommit and OffsetFetch require_stable over raw requests, against
an in-process broker (kwire.testing.Broker) whose transaction markers the
test writes itself, as the transaction coordinator does: the marker goes to
the group's __consumer_offsets partition (`partitions.append_marker`), then
the group coordinator hears of it (`on_transaction_marker`).

Offsets wait for their marker (UNSTABLE_OFFSET_COMMIT with require_stable,
the previous committed offset without), a COMMIT makes them the committed
ones, an ABORT drops them; pending offsets survive a restart (replayed from
the transactional batch) and complete after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.groups import records as rec
from kwire.testing import Broker
from kwire.topics import GROUP_METADATA_TOPIC

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


def producer_id(wire: WireClient) -> tuple[int, int]:
    body = wire.call(ApiKey.INIT_PRODUCER_ID, 4, messages.InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000,
                                                                                producer_id=-1, producer_epoch=-1))
    assert body.error_code == 0
    return body.producer_id, body.producer_epoch


def txn_commit(wire: WireClient, group: str, producer: tuple[int, int], offsets: dict[int, int], *, version: int = 3,
               topic: str = TOPIC, topic_id: uuid.UUID | None = None, generation: int = -1, member: str = "",
               metadata: str | None = "") -> dict[int, int]:
    """partition -> error code."""
    request = Request(
        transactional_id="txn", group_id=group, producer_id=producer[0], producer_epoch=producer[1],
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
        producer = producer_id(wire)
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
        producer = producer_id(wire)
        for version in range(0, 6):
            assert txn_commit(wire, group, producer, {0: 10 + version}, version=version) == {0: 0}
        assert txn_commit(wire, group, producer, {0: 16}, version=6, topic="", topic_id=topic_id) == {0: 0}
        write_marker(txn_broker, group, producer, commit=True)
        assert fetch(wire, group, [0], require_stable=True) == {0: (16, 0)}

        assert txn_commit(wire, group, producer, {0: 1}, topic="no-such-topic") == {0: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
        assert txn_commit(wire, group, producer, {0: 1}, version=6, topic="", topic_id=uuid.uuid4()) == {0: ErrorCode.UNKNOWN_TOPIC_ID}
        assert txn_commit(wire, "", producer, {0: 1}) == {0: ErrorCode.INVALID_GROUP_ID}
        assert txn_commit(wire, group, producer, {0: 1, 1: 1}, metadata="x" * 4097)[0] == ErrorCode.OFFSET_METADATA_TOO_LARGE
        assert txn_commit(wire, "never-seen", producer, {0: 1}, generation=3, member="m") == {0: ErrorCode.ILLEGAL_GENERATION}
        # An older epoch of the producer is fenced by the partition's producer state.
        assert txn_commit(wire, group, (producer[0], producer[1] + 1), {0: 1}) == {0: 0}
        assert txn_commit(wire, group, producer, {0: 2}) == {0: ErrorCode.INVALID_PRODUCER_EPOCH}


def test_pending_offsets_survive_a_restart_and_complete_after_it(txn_broker: Broker) -> None:
    committed_group, pending_group = "done-before-restart", "pending-over-restart"
    with WireClient.connect(txn_broker.port) as wire:
        for group in (committed_group, pending_group):
            find_coordinator(wire, group)
        producer = producer_id(wire)
        other = producer_id(wire)
        assert txn_commit(wire, committed_group, producer, {0: 3}) == {0: 0}
        write_marker(txn_broker, committed_group, producer, commit=True)
        assert txn_commit(wire, pending_group, other, {1: 4}) == {1: 0}
    txn_broker.restart()
    with WireClient.connect(txn_broker.port) as wire:
        find_coordinator(wire, pending_group)
        assert fetch(wire, committed_group, [0], require_stable=True) == {0: (3, 0)}
        assert fetch(wire, pending_group, [1], require_stable=True) == {1: (-1, UNSTABLE)}
        write_marker(txn_broker, pending_group, other, commit=True)
        assert fetch(wire, pending_group, [1], require_stable=True) == {1: (4, 0)}
