"""KIP-848 online migration with real clients (confluent-kafka) against `kwire serve`.

Two classic-protocol members consume and commit; a member with
group.protocol=consumer joins: the group becomes a consumer group (type
"consumer", members of both types in ConsumerGroupDescribe), the committed
offsets are kept, the partitions are split among the three and every new
record is read once, by the member that owns its partition. The
consumer-protocol member closes: the group is classic again, the classic
members take every partition, and again every record is read once.

The broker allows small session timeouts and heartbeat intervals so the
test is fast; every wait is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from kwire.testing import BrokerProcess

from tests.broker.wire import WireClient

CONFIG = {
    "group.min.session.timeout.ms": "500",
    "group.consumer.min.session.timeout.ms": "500",
    "group.consumer.session.timeout.ms": "3000",
    "group.consumer.min.heartbeat.interval.ms": "100",
    "group.consumer.heartbeat.interval.ms": "200",
}
PARTITIONS = 4


@pytest.fixture(scope="module")
def migration_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("group-migration"), CONFIG) as process:
        yield process


def member(bootstrap: str, group: str, protocol: str) -> Consumer:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": protocol,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    if protocol == "classic":
        config.update({"session.timeout.ms": 3000, "heartbeat.interval.ms": 200, "partition.assignment.strategy": "range"})
    return Consumer(config)


def produce(bootstrap: str, topic: str, batch: str) -> list[bytes]:
    producer = Producer({"bootstrap.servers": bootstrap})
    values = []
    for p in range(PARTITIONS):
        for i in range(5):
            value = f"{batch}-{p}-{i}".encode()
            producer.produce(topic, value=value, partition=p)
            values.append(value)
    assert producer.flush(10) == 0
    return values


def owned(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def poll_until(consumers: list[Consumer], predicate: Callable[[], bool], seen: dict[int, list[tuple[int, bytes]]] | None = None,
               timeout: float = 30.0) -> None:
    """Poll every consumer until `predicate` holds; records go to `seen` (consumer index -> (partition, value))."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        for i, c in enumerate(consumers):
            message = c.poll(0.05)
            if message is not None and message.error() is None:
                assert seen is not None, f"unexpected record {message.value()!r}"
                seen.setdefault(i, []).append((message.partition(), message.value()))


def split_evenly(consumers: list[Consumer]) -> Callable[[], bool]:
    def check() -> bool:
        sets = [owned(c) for c in consumers]
        return all(sets) and sum(len(s) for s in sets) == PARTITIONS and set().union(*sets) == set(range(PARTITIONS))
    return check


def group_type(port: int, group: str) -> str:
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.LIST_GROUPS, 5, messages.ListGroupsRequest(states_filter=[], types_filter=[]))
    [listed] = [g for g in body.groups if g.group_id == group]
    return str(listed.group_type)


def consumer_group_describe(port: int, group: str) -> tuple[str, int, int, str, list[tuple[int, int]]]:
    """ConsumerGroupDescribe v1: state, group epoch, assignment epoch, assignor, (member type, member epoch) per member."""
    with WireClient.connect(port) as wire:
        [d] = wire.call(ApiKey.CONSUMER_GROUP_DESCRIBE, 1, messages.ConsumerGroupDescribeRequest(group_ids=[group])).groups
    return d.group_state, d.group_epoch, d.assignment_epoch, d.assignor_name, sorted((m.member_type, m.member_epoch) for m in d.members)


def consume_batch_once(bootstrap: str, topic: str, batch: str, consumers: list[Consumer]) -> None:
    """A new batch is read exactly once, each record by the member owning its partition."""
    values = produce(bootstrap, topic, batch)
    seen: dict[int, list[tuple[int, bytes]]] = {}
    poll_until(consumers, lambda: sum(len(v) for v in seen.values()) >= len(values), seen)
    read = [value for records in seen.values() for _, value in records]
    assert sorted(read) == sorted(values), "every record once"
    for i, records in seen.items():
        assert {p for p, _ in records} <= owned(consumers[i])
    for c in consumers:
        c.commit(asynchronous=False)


def test_classic_group_upgrades_to_a_consumer_group_and_back(migration_broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = migration_broker.bootstrap_servers
    migration_broker.create_topic(topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    classic = [member(bootstrap, group, "classic") for _ in range(2)]
    modern: Consumer | None = None
    try:
        for c in classic:
            c.subscribe([topic_name])
        poll_until(classic, split_evenly(classic))
        consume_batch_once(bootstrap, topic_name, "first", classic)
        assert group_type(migration_broker.port, group) == "classic"

        modern = member(bootstrap, group, "consumer")
        modern.subscribe([topic_name])
        everyone = [*classic, modern]
        poll_until(everyone, split_evenly(everyone))
        assert group_type(migration_broker.port, group) == "consumer"
        described = admin.describe_consumer_groups([group])[group].result(10)
        assert described.type == ConsumerGroupType.CONSUMER and len(described.members) == 3
        # As a Kafka 4.4 describes the same steps: Stable, one epoch past the
        # classic generation for the group and every member; two classic
        # members (type 0) and one consumer member (type 1).
        poll_until(everyone, lambda: consumer_group_describe(migration_broker.port, group)[0] == "Stable")
        state, epoch, assignment_epoch, assignor, members = consumer_group_describe(migration_broker.port, group)
        assert (state, assignment_epoch, assignor, members) == ("Stable", epoch, "uniform", [(0, epoch), (0, epoch), (1, epoch)])
        # Nothing of the first batch again: the committed offsets came along.
        consume_batch_once(bootstrap, topic_name, "second", everyone)
        committed = classic[0].committed([TopicPartition(topic_name, p) for p in range(PARTITIONS)], timeout=10)
        assert [tp.offset for tp in committed] == [10] * PARTITIONS

        modern.close()
        modern = None
        poll_until(classic, split_evenly(classic))
        assert group_type(migration_broker.port, group) == "classic"
        consume_batch_once(bootstrap, topic_name, "third", classic)
        committed = classic[1].committed([TopicPartition(topic_name, p) for p in range(PARTITIONS)], timeout=10)
        assert [tp.offset for tp in committed] == [15] * PARTITIONS
    finally:
        for c in classic:
            c.close()
        if modern is not None:
            modern.close()
