"""kafka-consumer-groups.sh (org.apache.kafka.tools.consumer.group.ConsumerGroupCommand) against kwire.

The tool is Kafka's own main class from the 4.3.1 tools classpath that
compat_tests/reference_kafka.py resolves with Maven (as in
tests/broker/test_kafka_cli.py). One scenario per group protocol (classic
and KIP-848 consumer), with a confluent-kafka member: --list, --describe
(offsets and exact lag: CURRENT-OFFSET, LOG-END-OFFSET, LAG), --members
(and --verbose), --state, --delete and --reset-offsets refused while the
group has a member, --reset-offsets --to-earliest --execute on the empty
group, --delete, and the errors for a deleted group.

The expected output is what Apache Kafka 4.4.0 prints for the same scenario
(compat_tests.reference_kafka.ReferenceKafka, compared by hand: identical
apart from member ids and the port). Each tool run is a JVM start (~1.5 s).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from compat_tests import reference_kafka
from kwire.testing import BrokerProcess

MISSING = reference_kafka.missing_prerequisites()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"Kafka's tools cannot run: {MISSING}")

CONSUMER_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
TOOL_TIMEOUT = 90.0
GROUP_CONFIG = {
    "group.min.session.timeout.ms": "500",
    "group.consumer.min.session.timeout.ms": "500",
    "group.consumer.session.timeout.ms": "1500",
    "group.consumer.min.heartbeat.interval.ms": "100",
    "group.consumer.heartbeat.interval.ms": "200",
}


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reference_kafka.resolve_classpath(reference_kafka.TOOLS)  # resolve once, outside any tool's timeout
    with BrokerProcess(tmp_path_factory.mktemp("consumer-groups-cli"), GROUP_CONFIG) as process:
        yield process.bootstrap_servers


def tool(bootstrap: str, *args: str) -> subprocess.CompletedProcess:
    result = reference_kafka.run_tool(CONSUMER_GROUPS, ["--bootstrap-server", bootstrap, *args],
                                      timeout=TOOL_TIMEOUT, check=False)
    # The tool exits 0 even when it prints an error.
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def table(*rows: tuple[str, ...], widths: tuple[int, ...]) -> list[str]:
    """The tool's lines: each cell but the last left-aligned in its width, one space between cells."""
    return [" ".join([*(f"{cell:<{w}}" for cell, w in zip(row, widths)), row[-1]]) for row in rows]


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_list_describe_reset_and_delete(bootstrap: str, protocol: str) -> None:
    # Names of at most 15 characters: the tool's columns then have their minimum widths.
    topic, group = f"cli-t-{protocol}", f"cli-g-{protocol}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, count in ((0, 3), (1, 2)):
        for _ in range(count):
            producer.produce(topic, value=b"x", partition=partition)
    assert producer.flush(10) == 0

    member = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                       "client.id": "member-1", "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 20
        while len(member.assignment()) != 2:
            assert time.monotonic() < deadline, "the member did not get both partitions"
            member.poll(0.1)
        member.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
        member_id = member.memberid()
        assert member_id
        port = bootstrap.rsplit(":", 1)[1]
        w = len(member_id)

        assert tool(bootstrap, "--list").stdout == f"{group}\n"
        assert tool(bootstrap, "--describe", "--group", group).stdout.split("\n") == ["", *table(
            ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"),
            (group, topic, "0", "2", "3", "1", member_id, "/127.0.0.1", "member-1"),
            (group, topic, "1", "-", "2", "-", member_id, "/127.0.0.1", "member-1"),
            widths=(15, 15, 10, 15, 15, 15, w, 15)), ""]
        assert tool(bootstrap, "--describe", "--group", group, "--members").stdout.split("\n") == ["", *table(
            ("GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", ""),
            (group, member_id, "/127.0.0.1", "member-1", "2", ""),
            widths=(15, w, 15, 15, 15)), ""]
        epoch, target_epoch, target = ("-", "-", "-") if protocol == "classic" else ("2", "2", f"{topic}:0,1")
        assert tool(bootstrap, "--describe", "--group", group, "--members", "--verbose").stdout.split("\n") == ["", *table(
            ("GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "CURRENT-EPOCH", "CURRENT-ASSIGNMENT",
             "TARGET-EPOCH", "TARGET-ASSIGNMENT", ""),
            (group, member_id, "/127.0.0.1", "member-1", "2", epoch, f"{topic}:0,1", target_epoch, target, ""),
            widths=(15, w, 15, 15, 15, 15, 20, 15, 19)), ""]
        strategy = "range" if protocol == "classic" else "uniform"
        assert tool(bootstrap, "--describe", "--group", group, "--state").stdout.split("\n") == ["", *table(
            ("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"),
            (group, f"127.0.0.1:{port}  (1)", strategy, "Stable", "1"),
            widths=(15, 25, 20, 20)), ""]

        assert tool(bootstrap, "--delete", "--group", group).stdout == (
            f"\nError: Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: "
            "org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n")
        reset = ["--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute"]
        assert tool(bootstrap, *reset).stdout == (
            f"\nError: Assignments can only be reset if the group '{group}' is inactive, but the current state is Stable.\n"
            "\nGROUP           TOPIC           PARTITION  NEW-OFFSET\n")
    finally:
        member.close()  # leaves the group at once (LeaveGroup / heartbeat with epoch -1)

    no_members = f"\nConsumer group '{group}' has no active members.\n"
    described = tool(bootstrap, "--describe", "--group", group)
    assert described.stdout.split("\n") == ["", *table(
        ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"),
        (group, topic, "0", "2", "3", "1", "-", "-", "-"),
        widths=(15, 15, 10, 15, 15, 15, 15, 15)), ""]
    assert described.stderr.endswith(no_members)

    assert tool(bootstrap, *reset).stdout.split("\n") == ["", *table(
        ("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"),
        (group, topic, "0", "0"),
        (group, topic, "1", "0"),
        widths=(15, 15, 10)), ""]
    described = tool(bootstrap, "--describe", "--group", group)
    assert described.stdout.split("\n") == ["", *table(
        ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"),
        (group, topic, "0", "0", "3", "3", "-", "-", "-"),
        (group, topic, "1", "0", "2", "2", "-", "-", "-"),
        widths=(15, 15, 10, 15, 15, 15, 15, 15)), ""]
    assert described.stderr.endswith(no_members)

    assert tool(bootstrap, "--delete", "--group", group).stdout == \
        f"Deletion of requested consumer groups ('{group}') was successful.\n"
    assert tool(bootstrap, "--describe", "--group", group).stdout == (
        "\nError: Executing consumer group command failed due to "
        f"org.apache.kafka.common.errors.GroupIdNotFoundException: Group {group} not found.\n")
    assert tool(bootstrap, "--delete", "--group", group).stdout == (
        f"\nError: Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: "
        "org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n")
    assert tool(bootstrap, "--list").stdout == ""
