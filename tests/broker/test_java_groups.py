"""The Java KafkaConsumer (kafka-clients 4.4.0) in consumer groups against `kwire serve`.

Through the JSON driver of tests/broker/test_java_clients.py (its
`group_consume` command: subscribe with a group.id, poll until N records,
commitSync of exactly the records taken, report the assignment, the records
and the committed offsets), with group.protocol=classic and
group.protocol=consumer (KIP-848):

* one Java member gets every partition, commits part of the records, and a
  second member of the group resumes exactly after the commit;
* a Java member and a confluent-kafka member in one group (same protocol)
  split the partitions, each reading only its own.

The broker allows small consumer-protocol session timeouts and heartbeat
intervals so the tests are fast; every wait is bounded.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kwire.testing import BrokerProcess
from tests.broker.clients import create_topic
from tests.broker.test_java_clients import MISSING, RUN_TIMEOUT, Driver, build_driver

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not on PATH: the Java clients need a JDK and Maven")

GROUP_CONFIG = {
    "group.min.session.timeout.ms": "500",
    "group.consumer.min.session.timeout.ms": "500",
    "group.consumer.session.timeout.ms": "1500",
    "group.consumer.min.heartbeat.interval.ms": "100",
    "group.consumer.heartbeat.interval.ms": "200",
}
PROTOCOLS = ["classic", "consumer"]


@pytest.fixture(scope="module")
def group_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("java-groups"), GROUP_CONFIG) as process:
        yield process


@pytest.fixture(scope="module")
def driver(group_broker: BrokerProcess) -> Driver:
    return Driver(build_driver(), group_broker.bootstrap_servers)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_java_member_gets_all_partitions_and_resumes_after_commit(
        driver: Driver, group_broker: BrokerProcess, topic_name: str, protocol: str) -> None:
    create_topic(group_broker.bootstrap_servers, topic_name, 3, records_per_partition=4)
    group = f"{topic_name}-g"
    consume = {"op": "group_consume", "topic": topic_name, "group": group, "protocol": protocol, "timeout_ms": 30_000}
    first, second, third = driver.ok(
        {**consume, "count": 3, "config": {"max.poll.records": "1"}},
        {**consume, "count": 9},
        {**consume, "count": 1, "timeout_ms": 1500},
    )
    assert first["assigned"] == [0, 1, 2]
    taken = {(r["partition"], r["offset"]) for r in first["records"]}
    assert len(taken) == 3
    # The commit covers exactly the records taken; partitions not read have no offset.
    expected_commit: dict[str, int | None] = {str(p): None for p in range(3)}
    for p, o in sorted(taken):
        expected_commit[str(p)] = o + 1
    assert first["committed"] == expected_commit

    # The next member of the group reads the other 9 records, each once, and commits the ends.
    assert second["assigned"] == [0, 1, 2]
    rest = [(r["partition"], r["offset"]) for r in second["records"]]
    assert len(rest) == 9 and set(rest) | taken == {(p, o) for p in range(3) for o in range(4)}
    assert not set(rest) & taken
    assert all(r["value"] == f"{r['partition']}-{r['offset']}" for r in first["records"] + second["records"])
    assert second["committed"] == {"0": 4, "1": 4, "2": 4}

    # Nothing left for a third.
    assert third == {"assigned": [0, 1, 2], "records": [], "committed": {"0": 4, "1": 4, "2": 4}}
    assert group_broker.committed_offsets(group) == {(topic_name, p): 4 for p in range(3)}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_java_and_confluent_members_split_partitions(
        driver: Driver, group_broker: BrokerProcess, topic_name: str, protocol: str, tmp_path: Path) -> None:
    bootstrap = group_broker.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic_name, 4, 1)])[topic_name].result(10)
    group = f"{topic_name}-g"
    command = {"op": "group_consume", "topic": topic_name, "group": group, "protocol": protocol,
               "count": 6, "assigned": 2, "timeout_ms": 40_000}
    commands = tmp_path / "commands.json"
    commands.write_text(json.dumps([command]))
    with open(commands) as stdin:
        java = subprocess.Popen(
            ["java", "-Xmx512m", "-XX:+UseSerialGC", "-cp", driver.classpath, "KafkaClientDriver", bootstrap],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    member = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        member.subscribe([topic_name])
        # Wait (bounded) until the two members hold two partitions each, then produce.
        deadline = time.monotonic() + 40
        while len(member.assignment()) != 2:
            assert time.monotonic() < deadline and java.poll() is None, "the group did not split"
            message = member.poll(0.1)
            assert message is None or message.error() is not None, "a record before any was produced"
        mine = sorted(tp.partition for tp in member.assignment())
        producer = Producer({"bootstrap.servers": bootstrap})
        for p in range(4):
            for i in range(3):
                producer.produce(topic_name, value=f"{p}-{i}".encode(), partition=p)
        assert producer.flush(10) == 0

        got: list[tuple[int, int]] = []
        while len(got) < 6:
            assert time.monotonic() < deadline, f"confluent member read {got}"
            message = member.poll(0.1)
            if message is not None:
                assert message.error() is None, message.error()
                assert message.value() == f"{message.partition()}-{message.offset()}".encode()
                got.append((message.partition(), message.offset()))
        stdout, stderr = java.communicate(timeout=RUN_TIMEOUT)
    finally:
        member.close()
        if java.poll() is None:
            java.kill()
            java.wait(10)
    answers = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert java.returncode == 0 and len(answers) == 1 and "ok" in answers[0], f"{stdout[-2000:]}\n{stderr[-4000:]}"
    result = answers[0]["ok"]
    assert len(mine) == 2 and result["assigned"] == sorted(set(range(4)) - set(mine))
    assert sorted(got) == [(p, o) for p in mine for o in range(3)]
    assert sorted((r["partition"], r["offset"]) for r in result["records"]) == \
        [(p, o) for p in result["assigned"] for o in range(3)]
    assert result["committed"] == {str(p): 3 for p in result["assigned"]}
