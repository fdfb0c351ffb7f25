"""The Java kafka-clients (4.4.0) against a kwire broker: AdminClient, KafkaProducer, KafkaConsumer.

The clients run in compat_tests/java/driver/ (KafkaClientDriver: JSON
commands on stdin, one JSON result line per command on stdout), built once
per session with Maven into its target/ (git-ignored) and rebuilt only when
its source or pom changes. One JVM start (~1.5 s) runs a whole scenario.

Expected values are what Apache Kafka 4.4.0 answers to the same commands
(compat_tests.reference_kafka.ReferenceKafka, compared by hand). The producer
runs with Java's defaults, so it is idempotent; the consumer uses assign() +
seek() without a group.id (groups with the Java consumer: test_java_groups.py).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kwire.testing import BrokerProcess

DRIVER_DIR = Path(__file__).resolve().parents[2] / "compat_tests" / "java" / "driver"
TARGET = DRIVER_DIR / "target"
CLASSPATH_FILE = TARGET / "classpath.txt"
DRIVER_CLASS = TARGET / "classes" / "KafkaClientDriver.class"
MAVEN_TIMEOUT = 900.0
RUN_TIMEOUT = 180.0

MISSING = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not on PATH: the Java clients need a JDK and Maven")

T0 = 1_700_000_000_000
COMPRESSION_TYPES = ["none", "gzip", "snappy", "lz4", "zstd"]
PRODUCER = {"acks": "all", "linger.ms": "5"}


def _sources() -> list[Path]:
    return [DRIVER_DIR / "pom.xml", *sorted((DRIVER_DIR / "src").rglob("*"))]


def build_driver() -> str:
    """Compile the driver (unless up to date) and return its java classpath."""
    newest_source = max(p.stat().st_mtime for p in _sources() if p.is_file())
    if DRIVER_CLASS.exists() and CLASSPATH_FILE.exists() and DRIVER_CLASS.stat().st_mtime >= newest_source \
            and CLASSPATH_FILE.stat().st_mtime >= newest_source:
        jars = CLASSPATH_FILE.read_text().strip()
        if all(Path(jar).exists() for jar in jars.split(os.pathsep)):
            return os.pathsep.join([str(TARGET / "classes"), jars])
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(DRIVER_DIR / "pom.xml"), "compile", "dependency:build-classpath",
         f"-Dmdep.outputFile={CLASSPATH_FILE}"],
        capture_output=True, text=True, timeout=MAVEN_TIMEOUT,
    )
    if result.returncode != 0:
        pytest.fail(f"building the Java client driver failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
    return os.pathsep.join([str(TARGET / "classes"), CLASSPATH_FILE.read_text().strip()])


class Driver:
    def __init__(self, classpath: str, bootstrap: str) -> None:
        self.classpath = classpath
        self.bootstrap = bootstrap

    def run(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the commands in one JVM; one {"ok": ...} or {"error", "message"} per command."""
        result = subprocess.run(
            ["java", "-Xmx512m", "-XX:+UseSerialGC", "-cp", self.classpath, "KafkaClientDriver", self.bootstrap],
            input=json.dumps(list(commands)), capture_output=True, text=True, timeout=RUN_TIMEOUT,
        )
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.returncode == 0 and len(answers) == len(commands), \
            f"driver exited {result.returncode} after {len(answers)} answers:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        return answers

    def ok(self, *commands: dict[str, Any]) -> list[Any]:
        answers = self.run(*commands)
        for command, answer in zip(commands, answers):
            assert "ok" in answer, f"{command['op']}: {answer}"
        return [answer["ok"] for answer in answers]


@pytest.fixture(scope="session")
def driver_classpath() -> str:
    return build_driver()


@pytest.fixture(scope="module")
def driver(driver_classpath: str, broker: BrokerProcess) -> Iterator[Driver]:
    yield Driver(driver_classpath, broker.bootstrap_servers)


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def partitions(count: int) -> list[dict[str, Any]]:
    return [{"partition": p, "leader": 1, "replicas": [1], "isr": [1]} for p in range(count)]


# -- AdminClient -----------------------------------------------------------------


def test_admin_create_describe_alter_delete(driver: Driver, topic_name: str) -> None:
    a, b = f"{topic_name}-a", f"{topic_name}-b"
    answers = driver.run(
        {"op": "create_topics", "topics": [
            {"name": a, "partitions": 2, "configs": {"retention.ms": "123456", "cleanup.policy": "compact"}},
            {"name": b, "partitions": 1}]},
        {"op": "create_topics", "topics": [
            {"name": a, "partitions": 1},
            {"name": f"{topic_name}-c", "configs": {"retention.ms": "soon"}},
            {"name": f"{topic_name}-d", "configs": {"no.such": "1"}},
            {"name": f"{topic_name}-e", "partitions": 0},
            {"name": "bad/name"}]},
        {"op": "describe_topics", "topics": [a, b]},
        {"op": "describe_topics", "topics": [f"{topic_name}-nope"]},
        {"op": "describe_cluster"},
    )
    created, refused, described, unknown, cluster = answers
    assert created == {"ok": {a: None, b: None}}
    assert refused == {"ok": {
        a: {"error": "TopicExistsException", "message": f"Topic '{a}' already exists."},
        f"{topic_name}-c": {"error": "InvalidConfigurationException",
                            "message": "Invalid value soon for configuration retention.ms: Not a number of type LONG"},
        f"{topic_name}-d": {"error": "InvalidConfigurationException", "message": "Unknown topic config name: no.such"},
        f"{topic_name}-e": {"error": "InvalidPartitionsException",
                            "message": "Number of partitions was set to an invalid non-positive value."},
        "bad/name": {"error": "InvalidTopicException",
                     "message": "Topic name is invalid: 'bad/name' contains one or more characters other than "
                                "ASCII alphanumerics, '.', '_' and '-'"},
    }}
    topics = described["ok"]
    assert {name: {**t, "id": None} for name, t in topics.items()} == {
        a: {"id": None, "internal": False, "partitions": partitions(2)},
        b: {"id": None, "internal": False, "partitions": partitions(1)},
    }
    assert len({topics[a]["id"], topics[b]["id"]}) == 2
    assert unknown == {"error": "UnknownTopicOrPartitionException", "message": "This server does not host this topic-partition."}
    port = int(driver.bootstrap.rsplit(":", 1)[1])
    assert cluster["ok"]["controller"] == 1
    assert cluster["ok"]["nodes"] == [{"id": 1, "host": "127.0.0.1", "port": port}]
    assert len(cluster["ok"]["cluster_id"]) == 22

    answers = driver.run(
        {"op": "create_partitions", "topic": a, "count": 5},
        {"op": "create_partitions", "topic": a, "count": 3},
        {"op": "create_partitions", "topic": f"{topic_name}-nope", "count": 3},
        {"op": "describe_topics", "topics": [a]},
        {"op": "delete_topics", "topics": [b, f"{topic_name}-nope"]},
        {"op": "list_topics"},
        {"op": "describe_topics", "topics": [b]},
    )
    grown, shrink, missing, described, deleted, listed, gone = answers
    assert grown == {"ok": None}
    assert shrink == {"error": "InvalidPartitionsException",
                      "message": f"The topic {a} currently has 5 partition(s); 3 would not be an increase."}
    assert missing == {"error": "UnknownTopicOrPartitionException", "message": "This server does not host this topic-partition."}
    assert described["ok"][a] == {"id": topics[a]["id"], "internal": False, "partitions": partitions(5)}
    assert deleted == {"ok": {b: None, f"{topic_name}-nope": {
        "error": "UnknownTopicOrPartitionException", "message": "This server does not host this topic-partition."}}}
    assert a in listed["ok"] and b not in listed["ok"]
    assert gone["error"] == "UnknownTopicOrPartitionException"


def test_admin_describe_and_alter_configs(driver: Driver, topic_name: str) -> None:
    created, before, altered, refused, after = driver.run(
        {"op": "create_topics", "topics": [{"name": topic_name, "configs": {"retention.ms": "123456", "cleanup.policy": "compact"}}]},
        {"op": "describe_configs", "topic": topic_name},
        {"op": "alter_configs", "topic": topic_name, "set": {"max.message.bytes": "2000"}, "delete": ["cleanup.policy"]},
        {"op": "alter_configs", "topic": topic_name, "set": {"retention.ms": "x"}},
        {"op": "describe_configs", "topic": topic_name},
    )
    assert created == {"ok": {topic_name: None}}
    entries = {e["name"]: e for e in before["ok"]}
    assert len(entries) == 37  # every non-internal topic config of Kafka 4.4
    assert entries["retention.ms"] == {
        "name": "retention.ms", "value": "123456", "source": "DYNAMIC_TOPIC_CONFIG", "default": False,
        "read_only": False, "sensitive": False, "synonyms": [["retention.ms", "123456", "DYNAMIC_TOPIC_CONFIG"]]}
    assert entries["cleanup.policy"]["synonyms"] == [["cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG"],
                                                     ["log.cleanup.policy", "delete", "DEFAULT_CONFIG"]]
    assert entries["segment.bytes"] == {
        "name": "segment.bytes", "value": "1073741824", "source": "DEFAULT_CONFIG", "default": True,
        "read_only": False, "sensitive": False, "synonyms": [["log.segment.bytes", "1073741824", "DEFAULT_CONFIG"]]}
    assert entries["max.message.bytes"]["value"] == "1048588"

    assert altered == {"ok": None}
    assert refused == {"error": "InvalidConfigurationException",
                       "message": "Invalid value x for configuration retention.ms: Not a number of type LONG"}
    entries = {e["name"]: e for e in after["ok"]}
    assert entries["max.message.bytes"]["synonyms"] == [["max.message.bytes", "2000", "DYNAMIC_TOPIC_CONFIG"],
                                                        ["message.max.bytes", "1048588", "DEFAULT_CONFIG"]]
    assert (entries["cleanup.policy"]["value"], entries["cleanup.policy"]["source"]) == ("delete", "DEFAULT_CONFIG")
    assert entries["retention.ms"]["value"] == "123456"


# -- KafkaProducer and KafkaConsumer ---------------------------------------------


def sample_records(tag: str) -> list[dict[str, Any]]:
    """Keys, a null key, null values, headers (one with a null value), increasing timestamps."""
    return [
        {"partition": 0, "key": b64(f"k0-{tag}".encode()), "value": b64(b"v0" * 50), "timestamp": T0, "headers": []},
        {"partition": 0, "key": None, "value": b64(f"no key {tag}".encode()), "timestamp": T0 + 10,
         "headers": [["h1", b64(b"x")], ["h1", b64(b"y")], ["empty", b64(b"")], ["null", None]]},
        {"partition": 0, "key": b64(b"tombstone"), "value": None, "timestamp": T0 + 20, "headers": [["h", b64("\u00e9".encode())]]},
        {"partition": 0, "key": b64(b""), "value": b64(b""), "timestamp": T0 + 30, "headers": []},
    ]


def consumed(record: dict[str, Any], offset: int) -> dict[str, Any]:
    return {"partition": 0, "offset": offset, "timestamp": record["timestamp"], "timestamp_type": "CreateTime",
            "key": record["key"], "value": record["value"], "headers": record["headers"], "leader_epoch": 0}


def test_produce_and_consume_every_compression(driver: Driver, topic_name: str) -> None:
    commands: list[dict[str, Any]] = [{"op": "create_topics", "topics": [{"name": topic_name, "partitions": 1}]}]
    sent: list[dict[str, Any]] = []
    for compression in COMPRESSION_TYPES:
        records = sample_records(compression)
        sent += records
        commands.append({"op": "produce", "topic": topic_name, "config": {**PRODUCER, "compression.type": compression},
                         "records": records})
    commands.append({"op": "consume", "topic": topic_name, "partition": 0, "offset": 0, "count": len(sent)})
    commands.append({"op": "consume", "topic": topic_name, "partition": 0, "offset": 6, "count": 3,
                     "config": {"max.poll.records": "1"}})
    answers = driver.ok(*commands)

    metadata = [m for answer in answers[1:1 + len(COMPRESSION_TYPES)] for m in answer]
    assert metadata == [{"partition": 0, "offset": i, "timestamp": r["timestamp"]} for i, r in enumerate(sent)]
    assert answers[-2] == [consumed(r, i) for i, r in enumerate(sent)]
    assert answers[-1] == [consumed(sent[i], i) for i in (6, 7, 8)]


def test_large_record_and_compressed_large_record(driver: Driver, topic_name: str) -> None:
    big = bytes(range(256)) * 3900  # 998,400 bytes: under max.request.size and message.max.bytes (1 MiB)
    records = [{"partition": 0, "key": b64(b"big"), "value": b64(big), "timestamp": T0, "headers": [["size", b64(b"998400")]]}]
    answers = driver.ok(
        {"op": "create_topics", "topics": [{"name": topic_name, "partitions": 1}]},
        {"op": "produce", "topic": topic_name, "config": PRODUCER, "records": records},
        {"op": "produce", "topic": topic_name, "config": {**PRODUCER, "compression.type": "zstd"}, "records": records},
        {"op": "consume", "topic": topic_name, "partition": 0, "offset": 0, "count": 2},
        {"op": "consume", "topic": topic_name, "partition": 0, "offset": 0, "count": 2,
         "config": {"max.partition.fetch.bytes": "1000", "fetch.max.bytes": "1000"}},
    )
    assert answers[1] == [{"partition": 0, "offset": 0, "timestamp": T0}]
    assert answers[2] == [{"partition": 0, "offset": 1, "timestamp": T0}]
    # A first batch larger than the fetch limits is still returned (KIP-74).
    for read in answers[3:]:
        assert [(r["offset"], unb64(r["key"]), unb64(r["value"]) == big, r["headers"]) for r in read] == \
            [(0, b"big", True, [["size", b64(b"998400")]]), (1, b"big", True, [["size", b64(b"998400")]])]


def test_record_too_large_is_refused(driver: Driver, topic_name: str) -> None:
    records = [{"partition": 0, "key": None, "value": b64(b"x" * 3000), "timestamp": T0, "headers": []}]
    _, answer = driver.run(
        {"op": "create_topics", "topics": [{"name": topic_name, "configs": {"max.message.bytes": "2000"}}]},
        {"op": "produce", "topic": topic_name, "config": {**PRODUCER, "retries": "0"}, "records": records},
    )
    assert answer["error"] == "RecordTooLargeException"
    assert answer["message"] == "The request included a message larger than the max message size the server will accept."


def test_offsets_for_times_beginning_and_end(driver: Driver, topic_name: str) -> None:
    records = [{"partition": p, "key": None, "value": b64(f"{p}-{i}".encode()), "timestamp": T0 + 1000 * i, "headers": []}
               for p in (0, 1) for i in range(3)]
    records.append({"partition": 0, "key": None, "value": b64(b"old"), "timestamp": T0 - 5000, "headers": []})
    _, produced, offsets = driver.ok(
        {"op": "create_topics", "topics": [{"name": topic_name, "partitions": 3}]},
        {"op": "produce", "topic": topic_name, "config": PRODUCER, "records": records},
        {"op": "offsets", "topic": topic_name, "partitions": [0, 1, 2],
         "times": [0, T0, T0 + 1, T0 + 2000, T0 + 2001]},
    )
    assert [(m["partition"], m["offset"]) for m in produced] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3)]
    assert offsets == {
        "beginning": {"0": 0, "1": 0, "2": 0},
        "end": {"0": 4, "1": 3, "2": 0},
        "for_times": {
            "0": {"0": [0, T0], "1": [0, T0], "2": None},
            str(T0): {"0": [0, T0], "1": [0, T0], "2": None},
            str(T0 + 1): {"0": [1, T0 + 1000], "1": [1, T0 + 1000], "2": None},
            str(T0 + 2000): {"0": [2, T0 + 2000], "1": [2, T0 + 2000], "2": None},
            str(T0 + 2001): {"0": None, "1": None, "2": None},
        },
    }
