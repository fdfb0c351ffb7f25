"""Consumer groups through real clients against `kwire serve` (classic protocol).

kafka-python, aiokafka and confluent-kafka consumers join groups over real
sockets: assignment of all partitions to one member, a split between two,
partitions moving when a member closes (LeaveGroup: at once) or is killed
(SIGKILL: within its session timeout), static members restarting without a
rebalance, cooperative-sticky rebalancing, and groups seen through the
admin APIs. The broker allows small session timeouts so the tests are fast;
--dev sets group.initial.rebalance.delay.ms=0. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka import ConsumerGroupTopicPartitions
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as KTopicPartition

from kwire.testing import BrokerProcess

from tests.broker.clients import create_topic
from tests.broker.group_clients import announced, child_process, poll_until

SESSION_MS = 2000
GROUP_CONFIG = {"group.min.session.timeout.ms": "500"}


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("groups"), GROUP_CONFIG) as process:
        yield process


def confluent_consumer(bootstrap: str, group: str, **extra: Any) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": 200,
        "enable.auto.commit": False,
        **extra,
    })


# -- membership ------------------------------------------------------------------------


def test_one_member_gets_all_partitions_and_every_record(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 4, records_per_partition=5)
    consumer = KafkaConsumer(topic_name, bootstrap_servers=group_broker.bootstrap_servers, metadata_max_age_ms=1000, group_id=f"{topic_name}-g",
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10_000)
    try:
        started = time.monotonic()
        values = []
        for message in consumer:
            values.append(message.value)
            if len(values) == 20:
                break
        # A first join with group.initial.rebalance.delay.ms=0 must not wait for anything.
        assert time.monotonic() - started < 5
        assert sorted(values) == sorted(f"{p}-{i}".encode() for p in range(4) for i in range(5))
        assert consumer.assignment() == {KTopicPartition(topic_name, p) for p in range(4)}
    finally:
        consumer.close()


def test_two_members_split_and_a_closing_member_leaves_at_once(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 6)
    everything = {KTopicPartition(topic_name, p) for p in range(6)}

    async def scenario() -> None:
        consumers = [
            AIOKafkaConsumer(topic_name, bootstrap_servers=group_broker.bootstrap_servers, group_id=f"{topic_name}-g",
                             session_timeout_ms=10_000, heartbeat_interval_ms=200)
            for _ in range(2)
        ]
        for c in consumers:
            await c.start()
        try:
            deadline = time.monotonic() + 20
            while not (len(consumers[0].assignment()) == 3 and len(consumers[1].assignment()) == 3):
                assert time.monotonic() < deadline, [c.assignment() for c in consumers]
                await asyncio.sleep(0.05)
            assert consumers[0].assignment() | consumers[1].assignment() == everything
            left = time.monotonic()
            await consumers[1].stop()
            # LeaveGroup removes the member at once: far sooner than its 10 s session timeout.
            while consumers[0].assignment() != everything:
                assert time.monotonic() - left < 5, consumers[0].assignment()
                await asyncio.sleep(0.05)
        finally:
            for c in consumers:
                await c.stop()

    asyncio.run(scenario())


CHILD_CONSUMER = """
import sys
from kafka import KafkaConsumer
consumer = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
                         session_timeout_ms=int(sys.argv[4]), heartbeat_interval_ms=200)
announced = False
while True:
    consumer.poll(100)
    if consumer.assignment() and not announced:
        print("assigned", len(consumer.assignment()), flush=True)
        announced = True
"""


def test_killed_member_partitions_move_within_session_timeout(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 4)
    group = f"{topic_name}-g"
    survivor = KafkaConsumer(topic_name, bootstrap_servers=group_broker.bootstrap_servers, metadata_max_age_ms=1000, group_id=group,
                             session_timeout_ms=SESSION_MS, heartbeat_interval_ms=200)
    poll_until([survivor], lambda: len(survivor.assignment()) == 4)
    try:
        with child_process(CHILD_CONSUMER, group_broker.bootstrap_servers, topic_name, group, str(SESSION_MS)) as child:
            poll_until([survivor], lambda: len(survivor.assignment()) == 2 and announced(child))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            killed = time.monotonic()
            poll_until([survivor], lambda: len(survivor.assignment()) == 4, timeout=SESSION_MS / 1000 + 5)
            # The session timeout, then one rejoin of the survivor.
            assert time.monotonic() - killed < SESSION_MS / 1000 + 3
    finally:
        survivor.close()


def test_commit_restart_and_resume_after_the_commit(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 1, records_per_partition=20)
    group = f"{topic_name}-g"
    tp = KTopicPartition(topic_name, 0)

    def consumer() -> KafkaConsumer:
        return KafkaConsumer(topic_name, bootstrap_servers=group_broker.bootstrap_servers, metadata_max_age_ms=1000, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10_000, max_poll_records=1)

    first = consumer()
    try:
        seen = [next(first) for _ in range(7)]
        assert [m.offset for m in seen] == list(range(7))
        first.commit()
        assert first.committed(tp) == 7
    finally:
        first.close()
    second = consumer()
    try:
        assert next(second).offset == 7
    finally:
        second.close()


def test_static_member_restart_keeps_its_assignment_without_a_rebalance(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 4)
    group = f"{topic_name}-g"
    assignments: dict[str, list[list[int]]] = {"a": [], "b": []}

    def member(instance: str) -> Consumer:
        c = confluent_consumer(group_broker.bootstrap_servers, group, **{"group.instance.id": instance, "session.timeout.ms": 10_000})
        c.subscribe([topic_name], on_assign=lambda _, parts: assignments[instance].append(sorted(p.partition for p in parts)))
        return c

    a, b = member("a"), member("b")
    try:
        poll_until([a, b], lambda: len(a.assignment()) + len(b.assignment()) == 4 and bool(a.assignment()) and bool(b.assignment()))
        poll_until([a, b], lambda: True)
        before_a = sorted(p.partition for p in a.assignment())
        before_b = sorted(p.partition for p in b.assignment())
        calls_a = len(assignments["a"])
        b.close()  # a static member sends no LeaveGroup: its session keeps its place
        b = member("b")
        poll_until([a, b], lambda: bool(b.assignment()))
        assert sorted(p.partition for p in b.assignment()) == before_b
        # No rebalance: the other member was never asked to re-assign.
        for _ in range(10):
            a.poll(0.05)
        assert len(assignments["a"]) == calls_a and sorted(p.partition for p in a.assignment()) == before_a
    finally:
        a.close()
        b.close()


def test_cooperative_sticky_keeps_unaffected_partitions(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 4)
    group = f"{topic_name}-g"
    revoked: dict[str, list[set[int]]] = {"a": [], "b": []}

    def member(name: str) -> Consumer:
        c = confluent_consumer(group_broker.bootstrap_servers, group, **{"partition.assignment.strategy": "cooperative-sticky"})
        c.subscribe([topic_name], on_revoke=lambda _, parts: revoked[name].append({p.partition for p in parts}))
        return c

    a = member("a")
    b: Consumer | None = None
    try:
        poll_until([a], lambda: len(a.assignment()) == 4)
        b = member("b")
        poll_until([a, b], lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2)  # type: ignore[union-attr]
        owned_a = {p.partition for p in a.assignment()}
        owned_b = {p.partition for p in b.assignment()}
        assert owned_a | owned_b == {0, 1, 2, 3} and not owned_a & owned_b
        # Incremental: a gave up only the two partitions that moved to b.
        assert revoked["a"] == [owned_b]
    finally:
        a.close()
        if b is not None:
            b.close()


# -- admin APIs ------------------------------------------------------------------------------


def test_groups_through_the_admin_apis(group_broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = group_broker.bootstrap_servers
    create_topic(bootstrap, topic_name, 2, records_per_partition=10)
    group = f"{topic_name}-g"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, metadata_max_age_ms=1000, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, client_id="admin-test-client")
    # Metadata first, then subscribe: kafka-python may otherwise join (and, as
    # leader, assign) before its metadata holds the topic, then not rejoin in time.
    assert consumer.partitions_for_topic(topic_name) == {0, 1}
    consumer.subscribe([topic_name])
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    confluent = AdminClient({"bootstrap.servers": bootstrap})
    try:
        poll_until([consumer], lambda: len(consumer.assignment()) == 2)
        consumer.commit({KTopicPartition(topic_name, 0): OffsetAndMetadata(4, "meta-0", -1),
                         KTopicPartition(topic_name, 1): OffsetAndMetadata(6, "", -1)})
        # A simple commit (no membership) makes a group too.
        simple = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"{group}-simple", enable_auto_commit=False)
        simple.commit({KTopicPartition(topic_name, 0): OffsetAndMetadata(1, "", -1)})
        simple.close()
        # The group with members and no other state, and the group with offsets only, are both listed.
        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert listed[group]["group_state"] == "Stable" and listed[group]["protocol_type"] == "consumer"
        assert listed[f"{group}-simple"]["group_state"] == "Empty" and listed[f"{group}-simple"]["protocol_type"] == ""
        assert {g["group_id"] for g in admin.list_groups(states_filter=["stable"])} >= {group}
        assert group not in {g["group_id"] for g in admin.list_groups(states_filter=["Empty"])}
        described = admin.describe_groups([group], include_authorized_operations=True)[group]
        assert described["group_state"] == "Stable" and described["protocol_type"] == "consumer" and described["protocol_data"] == "range"
        [member] = described["members"]
        assert member["client_id"] == "admin-test-client" and member["client_host"] == "/127.0.0.1"
        # As Kafka 4.4 answers (3400): group configs (KIP-848) brought DESCRIBE_CONFIGS and ALTER_CONFIGS.
        assert sorted(described["authorized_operations"]) == ["ALTER_CONFIGS", "DELETE", "DESCRIBE", "DESCRIBE_CONFIGS", "READ"]
        offsets = admin.list_group_offsets({group: None})[group]
        assert {tp.partition: (o.offset, o.metadata) for tp, o in offsets.items()} == {0: (4, "meta-0"), 1: (6, "")}
        # Lag: end offsets minus committed offsets.
        ends = consumer.end_offsets([KTopicPartition(topic_name, 0), KTopicPartition(topic_name, 1)])
        assert {tp.partition: ends[tp] - o.offset for tp, o in offsets.items()} == {0: 6, 1: 4}

        result = confluent.describe_consumer_groups([group])[group].result(10)
        assert str(result.state.name) == "STABLE" and len(result.members) == 1
        [futures] = confluent.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]).values()
        assert {tp.partition: tp.offset for tp in futures.result(10).topic_partitions} == {0: 4, 1: 6}
        listed_groups = confluent.list_consumer_groups().result(10)
        assert group in {g.group_id for g in listed_groups.valid}

        # A group with a member cannot be deleted; once empty it can.
        deleted = confluent.delete_consumer_groups([group])[group]
        with pytest.raises(Exception, match="NON_EMPTY_GROUP"):
            deleted.result(10)
        consumer.close()
        assert admin.describe_groups([group])[group]["group_state"] == "Empty"
        assert admin.delete_groups([group]) == {group: "OK"}
        after = admin.describe_groups([group])[group]
        assert after["group_state"] == "Dead"
        assert admin.list_group_offsets({group: None})[group] == {}
        with pytest.raises(Exception, match="GROUP_ID_NOT_FOUND"):
            confluent.delete_consumer_groups([group])[group].result(10)
    finally:
        consumer.close()
        admin.close()


# -- churn ---------------------------------------------------------------------------------------


def test_three_members_twelve_partitions_under_churn(group_broker: BrokerProcess, topic_name: str) -> None:
    """Members come and go; once the group settles, every partition has
    exactly one owner and every new record reaches exactly one member."""
    bootstrap = group_broker.bootstrap_servers
    create_topic(bootstrap, topic_name, 12)
    group = f"{topic_name}-g"
    everything = {KTopicPartition(topic_name, p) for p in range(12)}

    async def scenario() -> None:
        def new_member() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(topic_name, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="latest",
                                    session_timeout_ms=SESSION_MS, heartbeat_interval_ms=200, enable_auto_commit=False)

        async def settled(members: list[AIOKafkaConsumer], timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while True:
                owned = [m.assignment() for m in members]
                if all(owned) and sum(len(o) for o in owned) == 12 and set().union(*owned) == everything:
                    return
                assert time.monotonic() < deadline, owned
                await asyncio.sleep(0.05)

        members = [new_member() for _ in range(3)]
        for m in members:
            await m.start()
        try:
            await settled(members)
            for round_ in range(6):
                # Replace one member: the oldest leaves, a new one joins.
                leaving = members.pop(0)
                await leaving.stop()
                joining = new_member()
                await joining.start()
                members.append(joining)
                await settled(members)
            for m in members:  # positions at the end before producing
                for tp in m.assignment():
                    await m.position(tp)
            producer = KafkaProducer(bootstrap_servers=bootstrap)
            for p in range(12):
                for i in range(5):
                    producer.send(topic_name, value=f"{p}-{i}".encode(), partition=p)
            producer.flush()
            producer.close()
            received: dict[bytes, int] = {}
            deadline = time.monotonic() + 20
            while len(received) < 60:
                assert time.monotonic() < deadline, len(received)
                for index, m in enumerate(members):
                    batches = await m.getmany(timeout_ms=50)
                    for records in batches.values():
                        for r in records:
                            assert r.value not in received, f"{r.value!r} delivered to two members"
                            received[r.value] = index
            await asyncio.sleep(0.3)
            for m in members:
                assert not any((await m.getmany(timeout_ms=50)).values())
            await settled(members, timeout=1)
        finally:
            for m in members:
                await m.stop()

    asyncio.run(scenario())
