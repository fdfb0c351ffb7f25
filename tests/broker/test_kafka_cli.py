"""Apache Kafka's command-line tools against a kwire broker, output checked line by line.

The tools are Kafka's own main classes (what kafka-topics.sh and friends
run), from the 4.3.1 tools classpath that compat_tests/reference_kafka.py
resolves with Maven:

    kafka-topics.sh           org.apache.kafka.tools.TopicCommand
    kafka-configs.sh          kafka.admin.ConfigCommand (the 4.3.1 core jar;
                              4.4 moved it to org.apache.kafka.tools)
    kafka-console-producer    org.apache.kafka.tools.ConsoleProducer
    kafka-console-consumer    org.apache.kafka.tools.consumer.ConsoleConsumer
    kafka-get-offsets.sh      org.apache.kafka.tools.GetOffsetShell

The expected lines are what the same commands print against Apache Kafka
4.4.0 (compat_tests.reference_kafka.ReferenceKafka, checked by hand). Each
tool run is a JVM start (~1.5 s), so a test runs a whole scenario.

The console consumer reads with `--partition`, which assigns the partition
instead of joining a consumer group (groups are not served yet).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from compat_tests import reference_kafka
from kwire.testing import BrokerProcess

MISSING = reference_kafka.missing_prerequisites()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"Kafka's tools cannot run: {MISSING}")

TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
CONFIG_COMMAND = "kafka.admin.ConfigCommand"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
TOOL_TIMEOUT = 90.0

# Kafka 4.4's controller sets the cluster-wide dynamic default
# min.insync.replicas=1 when eligible leader replicas are enabled (KIP-966,
# the default for a new cluster), so kafka-topics --describe lists it among
# the topic's non-default configs. kwire has no ELR; the tests accept the
# Configs list with or without that entry.
ELR_DEFAULT_CONFIG = "min.insync.replicas=1"


@pytest.fixture(scope="module")
def bootstrap(broker: BrokerProcess) -> Iterator[str]:
    reference_kafka.resolve_classpath(reference_kafka.TOOLS)  # resolve once, outside any tool's timeout
    yield broker.bootstrap_servers


@pytest.fixture
def topic(topic_name: str) -> str:
    # kafka-topics --create warns about names mixing '.' and '_' (metric names collide).
    return topic_name.replace("_", "-")


def tool(main_class: str, args: list[str], *, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = reference_kafka.run_tool(main_class, args, input=input, timeout=TOOL_TIMEOUT, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{main_class} {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return result.stdout.rstrip("\n").split("\n") if result.stdout.strip() else []


def topics_describe(bootstrap: str, topic: str) -> tuple[str, list[str]]:
    """The topic id and the output lines of kafka-topics --describe, with the id replaced by ID
    and the ELR-only min.insync.replicas entry (see ELR_DEFAULT_CONFIG) left out."""
    out = lines(tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--describe", "--topic", topic]))
    match = re.search(r"\tTopicId: ([A-Za-z0-9_-]{22})\t", out[0]) if out else None
    assert match, out
    head, configs = out[0].replace(match[1], "ID").split("\tConfigs: ")
    out[0] = head + "\tConfigs: " + ",".join(c for c in configs.split(",") if c != ELR_DEFAULT_CONFIG)
    return match[1], out


def partition_line(topic: str, partition: int) -> str:
    # Kafka 4.4 answers DescribeTopicPartitions with empty ELR lists, which
    # TopicCommand prints as empty; "N/A" would mean it fell back to Metadata.
    return f"\tTopic: {topic}\tPartition: {partition}\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: "


def test_kafka_topics_create_describe_list_alter_delete(bootstrap: str, topic: str) -> None:
    created = tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--create", "--topic", topic,
                                   "--partitions", "2", "--replication-factor", "1",
                                   "--config", "retention.ms=123456", "--config", "cleanup.policy=compact"])
    assert lines(created) == [f"Created topic {topic}."]

    topic_id, described = topics_describe(bootstrap, topic)
    assert described == [
        f"Topic: {topic}\tTopicId: ID\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=123456",
        partition_line(topic, 0),
        partition_line(topic, 1),
    ]

    again = tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "1"], check=False)
    assert again.returncode == 1
    assert f"Error while executing topic command : Topic '{topic}' already exists." in again.stdout

    listed = lines(tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--list"]))
    assert topic in listed
    assert listed == sorted(listed)

    altered = tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--alter", "--topic", topic, "--partitions", "4"])
    assert lines(altered) == []
    same_id, described = topics_describe(bootstrap, topic)
    assert same_id == topic_id
    assert described == [
        f"Topic: {topic}\tTopicId: ID\tPartitionCount: 4\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=123456",
        *(partition_line(topic, p) for p in range(4)),
    ]

    shrink = tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--alter", "--topic", topic, "--partitions", "2"], check=False)
    assert shrink.returncode == 1
    assert (f"Error while executing topic command : The topic {topic} currently has 4 partition(s); "
            "2 would not be an increase.") in shrink.stdout

    deleted = tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--delete", "--topic", topic])
    assert lines(deleted) == []
    assert topic not in lines(tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--list"]))


def test_kafka_configs_describe_add_delete(bootstrap: str, topic: str) -> None:
    tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "1",
                         "--config", "retention.ms=123456", "--config", "cleanup.policy=compact"])
    describe = ["--bootstrap-server", bootstrap, "--describe", "--entity-type", "topics", "--entity-name", topic]
    assert lines(tool(CONFIG_COMMAND, describe)) == [
        f"Dynamic configs for topic {topic} are:",
        "  cleanup.policy=compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, DEFAULT_CONFIG:log.cleanup.policy=delete}",
        "  retention.ms=123456 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=123456}",
    ]

    alter = ["--bootstrap-server", bootstrap, "--alter", "--entity-type", "topics", "--entity-name", topic]
    added = tool(CONFIG_COMMAND, [*alter, "--add-config", "max.message.bytes=2000,retention.ms=5000"])
    assert lines(added) == [f"Completed updating config for topic {topic}."]
    removed = tool(CONFIG_COMMAND, [*alter, "--delete-config", "cleanup.policy"])
    assert lines(removed) == [f"Completed updating config for topic {topic}."]

    assert lines(tool(CONFIG_COMMAND, describe)) == [
        f"Dynamic configs for topic {topic} are:",
        "  max.message.bytes=2000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=2000, DEFAULT_CONFIG:message.max.bytes=1048588}",
        "  retention.ms=5000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000}",
    ]
    _, described = topics_describe(bootstrap, topic)
    # kafka-topics lists them in the broker's order (Kafka's hash-map order), not sorted.
    assert described[0].endswith("\tConfigs: retention.ms=5000,max.message.bytes=2000")

    bad = tool(CONFIG_COMMAND, [*alter, "--add-config", "retention.ms=soon"], check=False)
    assert bad.returncode != 0
    assert "Invalid value soon for configuration retention.ms: Not a number of type LONG" in bad.stdout + bad.stderr


def test_console_producer_consumer_and_get_offsets(bootstrap: str, topic: str) -> None:
    tool(TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "1"])

    before = int(time.time() * 1000)
    produced = tool(CONSOLE_PRODUCER, ["--bootstrap-server", bootstrap, "--topic", topic,
                                       "--reader-property", "parse.key=true", "--reader-property", "key.separator=:"],
                    input="k1:v1\nk2:v2\nk3:hello world\n")
    after = int(time.time() * 1000)
    assert produced.stdout == ""

    consumed = tool(CONSOLE_CONSUMER, ["--bootstrap-server", bootstrap, "--topic", topic, "--partition", "0",
                                       "--from-beginning", "--max-messages", "3", "--timeout-ms", "30000",
                                       "--formatter-property", "print.key=true",
                                       "--formatter-property", "print.timestamp=true"])
    assert "Processed a total of 3 messages" in consumed.stderr
    out = lines(consumed)
    assert len(out) == 3, consumed.stdout
    parsed = [re.fullmatch(r"CreateTime:(\d+)\t(.*)\t(.*)", line) for line in out]
    assert all(parsed), out
    assert [(m[2], m[3]) for m in parsed] == [("k1", "v1"), ("k2", "v2"), ("k3", "hello world")]  # type: ignore[index]
    timestamps = [int(m[1]) for m in parsed]  # type: ignore[index]
    assert before <= timestamps[0] <= timestamps[1] <= timestamps[2] <= after

    # Only 2 of 3 are read; the rest stays for the next run.
    two = tool(CONSOLE_CONSUMER, ["--bootstrap-server", bootstrap, "--topic", topic, "--partition", "0",
                                  "--offset", "1", "--max-messages", "2", "--timeout-ms", "30000",
                                  "--formatter-property", "print.offset=true", "--formatter-property", "print.partition=true"])
    assert lines(two) == ["Partition:0\tOffset:1\tv2", "Partition:0\tOffset:2\thello world"]

    def offsets(time_spec: str) -> list[str]:
        return lines(tool(GET_OFFSETS, ["--bootstrap-server", bootstrap, "--topic", topic, "--time", time_spec]))

    assert offsets("latest") == [f"{topic}:0:3"]
    assert offsets("earliest") == [f"{topic}:0:0"]
    # Records produced within one millisecond share a timestamp: both lookups
    # answer the first offset with the timestamp.
    assert offsets("-3") == [f"{topic}:0:{timestamps.index(timestamps[2])}"]  # max timestamp (KIP-734)
    assert offsets(str(timestamps[1])) == [f"{topic}:0:{timestamps.index(timestamps[1])}"]
    assert offsets(str(timestamps[2] + 1)) == []  # no record at or after: no line
