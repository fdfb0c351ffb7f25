"""KIP-848 online migration with real clients (confluent-kafka) against `kwire serve`.

Two classic-protocol members consume and commit; a member with
group.protocol=consumer joins: the group becomes a consumer group (type
"consumer", members of both types in ConsumerGroupDescribe), the committed
offsets are kept, the partitions are split among the three and every new
record is read once, by the member that owns its partition. The
consumer-protocol member closes: the group is classic again, the classic
members take every partition, and again every record is read once.

The same with kafka-clients 4.4 (group.protocol=consumer, through the
JSON driver of test_java_clients.py) as the member that joins, reads its
partition, commits and closes. A mixed group survives SIGKILL of the broker
unchanged (its classic members' metadata is in the member records).

The broker allows small session timeouts and heartbeat intervals so the
tests are fast; every wait is bounded. Members commit each record as they
read it, so that no rebalance can replay one.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.testing import BrokerProcess

from tests.broker.test_java_clients import MISSING as JAVA_MISSING
from tests.broker.test_java_clients import RUN_TIMEOUT, Driver, build_driver
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


def produce(bootstrap: str, topic: str, batch: str, partitions: int = PARTITIONS) -> list[bytes]:
    producer = Producer({"bootstrap.servers": bootstrap})
    values = []
    for p in range(partitions):
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
    """Poll every consumer until `predicate` holds; records go to `seen` (consumer index ->
    (partition, value)), each committed as soon as it is read (so a rebalance never replays it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        for i, c in enumerate(consumers):
            message = c.poll(0.05)
            if message is not None and message.error() is None:
                assert seen is not None, f"unexpected record {message.value()!r}"
                seen.setdefault(i, []).append((message.partition(), message.value()))
                c.commit(message=message, asynchronous=False)


def split_evenly(consumers: list[Consumer], partitions: int = PARTITIONS) -> Callable[[], bool]:
    def check() -> bool:
        sets = [owned(c) for c in consumers]
        return all(sets) and sum(len(s) for s in sets) == partitions and set().union(*sets) == set(range(partitions))
    return check


def group_type(port: int, group: str) -> str:
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.LIST_GROUPS, 5, messages.ListGroupsRequest(states_filter=[], types_filter=[]))
    [listed] = [g for g in body.groups if g.group_id == group]
    return str(listed.group_type)


def consumer_group_describe(port: int, group: str) -> tuple[str, int, int, str, list[tuple[int, int]]]:
    """ConsumerGroupDescribe v1: state, group epoch, assignment epoch, assignor, (member type, member epoch) per member."""
    with WireClient.connect(port) as wire:
        for _ in range(200):  # a restarted broker loads __consumer_offsets first
            [d] = wire.call(ApiKey.CONSUMER_GROUP_DESCRIBE, 1, messages.ConsumerGroupDescribeRequest(group_ids=[group])).groups
            if d.error_code not in (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE):
                break
            time.sleep(0.05)
    assert d.error_code == 0, d
    return d.group_state, d.group_epoch, d.assignment_epoch, d.assignor_name, sorted((m.member_type, m.member_epoch) for m in d.members)


def consume_batch_once(bootstrap: str, topic: str, batch: str, consumers: list[Consumer], partitions: int = PARTITIONS) -> None:
    """A new batch is read exactly once, each record by the member owning its partition."""
    values = produce(bootstrap, topic, batch, partitions)
    seen: dict[int, list[tuple[int, bytes]]] = {}
    poll_until(consumers, lambda: sum(len(v) for v in seen.values()) >= len(values), seen)
    read = [value for records in seen.values() for _, value in records]
    assert sorted(read) == sorted(values), "every record once"
    for i, records in seen.items():
        assert {p for p, _ in records} <= owned(consumers[i])


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


@pytest.mark.skipif(bool(JAVA_MISSING), reason="the Java driver needs a JDK and Maven")
def test_java_consumer_protocol_member_joins_a_classic_group_and_leaves(migration_broker: BrokerProcess, topic_name: str,
                                                                        tmp_path: Path) -> None:
    """kafka-clients 4.4 with group.protocol=consumer (the JSON driver's group_consume:
    read 5 records, commit them, close) joins two classic confluent-kafka members."""
    bootstrap = migration_broker.bootstrap_servers
    migration_broker.create_topic(topic_name, 3)
    group = f"{topic_name}-g"
    classic = [member(bootstrap, group, "classic") for _ in range(2)]
    driver = Driver(build_driver(), bootstrap)
    java: subprocess.Popen[str] | None = None
    try:
        for c in classic:
            c.subscribe([topic_name])
        poll_until(classic, split_evenly(classic, 3))
        commands = tmp_path / "commands.json"
        commands.write_text(json.dumps([{"op": "group_consume", "topic": topic_name, "group": group, "protocol": "consumer",
                                         "count": 5, "assigned": 1, "timeout_ms": 40_000}]))
        with open(commands) as stdin:
            java = subprocess.Popen(["java", "-Xmx512m", "-XX:+UseSerialGC", "-cp", driver.classpath, "KafkaClientDriver", bootstrap],
                                    stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The group converts; the three members hold one partition each.
        poll_until(classic, lambda: [len(owned(c)) for c in classic] == [1, 1] and group_type(migration_broker.port, group) == "consumer",
                   timeout=40)
        held_by_classic = owned(classic[0]) | owned(classic[1])
        values = produce(bootstrap, topic_name, "mixed", 3)
        seen: dict[int, list[tuple[int, bytes]]] = {}
        # The classic members keep polling (their rebalances run in poll) until the Java member is done.
        running = java
        poll_until(classic, lambda: running.poll() is not None, seen, timeout=60)
        stdout, stderr = java.communicate(timeout=RUN_TIMEOUT)
        answers = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        assert java.returncode == 0 and len(answers) == 1 and "ok" in answers[0], f"{stdout[-2000:]}\n{stderr[-4000:]}"
        result = answers[0]["ok"]
        java_partition = result["assigned"]
        assert java_partition == sorted(set(range(3)) - held_by_classic)
        read = [value for records in seen.values() for _, value in records] + [r["value"].encode() for r in result["records"]]
        assert sorted(read) == sorted(values), "every record once"
        assert result["committed"] == {str(java_partition[0]): 5}

        # The Java member closed: the classic members are a classic group again and take its partition.
        poll_until(classic, lambda: split_evenly(classic, 3)() and group_type(migration_broker.port, group) == "classic")
        consume_batch_once(bootstrap, topic_name, "after", classic, 3)
        assert migration_broker.committed_offsets(group) == {(topic_name, p): 10 for p in range(3)}
    finally:
        if java is not None and java.poll() is None:
            java.kill()
            java.wait(10)
        for c in classic:
            c.close()


def test_a_mixed_group_survives_a_broker_kill(broker_factory: Callable[..., BrokerProcess], tmp_path: Path, topic_name: str) -> None:
    """SIGKILL while classic and consumer-protocol members share the group: after the
    restart the group is the same consumer group (member types, epochs) and reads on."""
    broker = broker_factory(CONFIG, data_dir=tmp_path / "data")
    bootstrap = broker.bootstrap_servers
    broker.create_topic(topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    classic = [member(bootstrap, group, "classic") for _ in range(2)]
    modern = member(bootstrap, group, "consumer")
    everyone = [*classic, modern]
    try:
        for c in classic:
            c.subscribe([topic_name])
        poll_until(classic, split_evenly(classic))
        modern.subscribe([topic_name])
        poll_until(everyone, lambda: split_evenly(everyone)() and consumer_group_describe(broker.port, group)[0] == "Stable")
        before = consumer_group_describe(broker.port, group)
        broker.kill()
        broker.overrides["listeners"] = f"PLAINTEXT://127.0.0.1:{broker.port}"
        broker.start()
        assert consumer_group_describe(broker.port, group) == before
        consume_batch_once(bootstrap, topic_name, "after-restart", everyone)
        assert consumer_group_describe(broker.port, group) == before, "nobody was fenced or rejoined"
    finally:
        for c in everyone:
            c.close()
