"""KIP-848 consumer groups through a real client against `kwire serve`.

confluent-kafka (librdkafka 2.16) with group.protocol=consumer: one member
gets all partitions; two split them; a closing member's partitions move at
once; a SIGKILLed member's after group.consumer.session.timeout.ms; commit
and resume; the admin client lists (type "consumer") and describes
(ConsumerGroupDescribe) the group; a broker restart keeps the group, its
members and its offsets. The broker allows small consumer session timeouts
and heartbeat intervals so the tests are fast; every wait is bounded.

The Java consumer with group.protocol=consumer is in test_java_groups.py.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, ConsumerGroupType, TopicPartition
from confluent_kafka.admin import AdminClient

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.testing import BrokerProcess
from tests.broker.clients import create_topic
from tests.broker.group_clients import announced, child_process, poll_until
from tests.broker.wire import WireClient

SESSION_MS = 1500
GROUP_CONFIG = {
    "group.consumer.min.session.timeout.ms": "500",
    "group.consumer.session.timeout.ms": str(SESSION_MS),
    "group.consumer.min.heartbeat.interval.ms": "100",
    "group.consumer.heartbeat.interval.ms": "200",
}


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("consumer-groups"), GROUP_CONFIG) as process:
        yield process


def consumer(bootstrap: str, group: str, **extra: Any) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **extra,
    })


def partitions(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def test_one_member_gets_every_partition_and_record(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 4, records_per_partition=5)
    c = consumer(group_broker.bootstrap_servers, f"{topic_name}-g")
    try:
        c.subscribe([topic_name])
        values: list[bytes] = []
        started = time.monotonic()
        while len(values) < 20:
            assert time.monotonic() - started < 10
            message = c.poll(0.1)
            if message is not None and message.error() is None:
                values.append(message.value())
        assert sorted(values) == sorted(f"{p}-{i}".encode() for p in range(4) for i in range(5))
        assert partitions(c) == {0, 1, 2, 3}
    finally:
        c.close()


def test_two_members_split_and_a_closing_member_hands_over_at_once(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 6)
    group = f"{topic_name}-g"
    first, second = consumer(group_broker.bootstrap_servers, group), consumer(group_broker.bootstrap_servers, group)
    try:
        first.subscribe([topic_name])
        poll_until([first], lambda: len(partitions(first)) == 6)
        second.subscribe([topic_name])
        poll_until([first, second], lambda: len(partitions(first)) == 3 and len(partitions(second)) == 3)
        assert partitions(first) | partitions(second) == set(range(6))
        second.close()
        closed = time.monotonic()
        poll_until([first], lambda: len(partitions(first)) == 6)
        assert time.monotonic() - closed < SESSION_MS / 1000, "a leave (epoch -1) moves partitions before any session timeout"
    finally:
        first.close()


CHILD_CONSUMER = """
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[3], "group.protocol": "consumer"})
c.subscribe([sys.argv[2]])
announced = False
while True:
    c.poll(0.1)
    if c.assignment() and not announced:
        print("assigned", len(c.assignment()), flush=True)
        announced = True
"""


def test_killed_member_partitions_move_after_the_session_timeout(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 4)
    group = f"{topic_name}-g"
    survivor = consumer(group_broker.bootstrap_servers, group)
    survivor.subscribe([topic_name])
    poll_until([survivor], lambda: len(partitions(survivor)) == 4)
    try:
        with child_process(CHILD_CONSUMER, group_broker.bootstrap_servers, topic_name, group) as child:
            poll_until([survivor], lambda: len(partitions(survivor)) == 2 and announced(child))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            killed = time.monotonic()
            poll_until([survivor], lambda: len(partitions(survivor)) == 4, timeout=SESSION_MS / 1000 + 5)
            assert SESSION_MS / 1000 * 0.5 < time.monotonic() - killed < SESSION_MS / 1000 + 3
    finally:
        survivor.close()


def consume(c: Consumer, count: int, timeout: float = 10.0) -> list[bytes]:
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < count:
        assert time.monotonic() < deadline, f"{len(values)} of {count} records"
        message = c.poll(0.1)
        if message is not None and message.error() is None:
            values.append(message.value())
    return values


def test_commit_close_and_resume_after_the_commit(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 1, records_per_partition=10)
    group = f"{topic_name}-g"
    c = consumer(group_broker.bootstrap_servers, group)
    c.subscribe([topic_name])
    first = consume(c, 4)
    c.commit(offsets=[TopicPartition(topic_name, 0, 4)], asynchronous=False)
    assert c.committed([TopicPartition(topic_name, 0)], timeout=10)[0].offset == 4
    c.close()
    again = consumer(group_broker.bootstrap_servers, group)
    try:
        again.subscribe([topic_name])
        rest = consume(again, 6)
        assert first == [f"0-{i}".encode() for i in range(4)]
        assert rest == [f"0-{i}".encode() for i in range(4, 10)]
    finally:
        again.close()


def test_admin_lists_and_describes_the_consumer_group(group_broker: BrokerProcess, topic_name: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 3)
    group = f"{topic_name}-g"
    c = consumer(group_broker.bootstrap_servers, group, **{"client.id": "described-client"})
    admin = AdminClient({"bootstrap.servers": group_broker.bootstrap_servers})
    try:
        c.subscribe([topic_name])
        poll_until([c], lambda: len(partitions(c)) == 3)
        listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(10)
        mine = [g for g in listed.valid if g.group_id == group]
        assert len(mine) == 1 and mine[0].type == ConsumerGroupType.CONSUMER and mine[0].state == ConsumerGroupState.STABLE
        classic = admin.list_consumer_groups(types={ConsumerGroupType.CLASSIC}).result(10)
        assert group not in {g.group_id for g in classic.valid}
        described = admin.describe_consumer_groups([group], include_authorized_operations=True)[group].result(10)
        assert described.type == ConsumerGroupType.CONSUMER
        assert described.state == ConsumerGroupState.STABLE
        assert [m.client_id for m in described.members] == ["described-client"]
        assert {tp.partition for tp in described.members[0].assignment.topic_partitions} == {0, 1, 2}
        assert described.partition_assignor == "uniform"
        assert len(described.authorized_operations) == 5
        # The classic DescribeGroups does not describe it (as Kafka 4.4), nor gives its operations.
        with WireClient.connect(group_broker.port) as wire:
            request = messages.DescribeGroupsRequest(groups=[group], include_authorized_operations=True)
            [g6] = wire.call(ApiKey.DESCRIBE_GROUPS, 6, request).groups
            assert (g6.error_code, g6.error_message, g6.group_state, g6.members, g6.authorized_operations) == (
                ErrorCode.GROUP_ID_NOT_FOUND, f"Group {group} is not a classic group.", "Dead", [], -(2**31))
            [g5] = wire.call(ApiKey.DESCRIBE_GROUPS, 5, request).groups
            assert (g5.error_code, g5.error_message, g5.group_state, g5.authorized_operations) == (0, None, "Dead", -(2**31))
    finally:
        c.close()
    deleted = admin.delete_consumer_groups([group])[group]
    assert deleted.result(10) is None
    gone = admin.list_consumer_groups().result(10)
    assert group not in {g.group_id for g in gone.valid}


def test_broker_restart_keeps_the_group_its_member_and_its_offsets(broker_factory: Callable[..., BrokerProcess], tmp_path: Path, topic_name: str) -> None:
    broker = broker_factory(GROUP_CONFIG, data_dir=tmp_path / "data")
    create_topic(broker.bootstrap_servers, topic_name, 2, records_per_partition=3)
    group = f"{topic_name}-g"
    c = consumer(broker.bootstrap_servers, group)
    try:
        c.subscribe([topic_name])
        consume(c, 6)
        c.commit(offsets=[TopicPartition(topic_name, 0, 3), TopicPartition(topic_name, 1, 2)], asynchronous=False)
        broker.kill()  # SIGKILL: nothing but what was appended survives
        # Same port, so the client reconnects to the restarted broker; the member
        # carries on with its epoch: it was restored and its session restarted.
        broker.overrides["listeners"] = f"PLAINTEXT://127.0.0.1:{broker.port}"
        broker.start()
        committed = c.committed([TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)], timeout=15)
        assert [tp.offset for tp in committed] == [3, 2]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            c.poll(0.1)
        assert partitions(c) == {0, 1}
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        described = admin.describe_consumer_groups([group])[group].result(10)
        assert described.type == ConsumerGroupType.CONSUMER and len(described.members) == 1
        assert "fenced" not in "".join(broker.output), "the restored member was not fenced"
    finally:
        c.close()
