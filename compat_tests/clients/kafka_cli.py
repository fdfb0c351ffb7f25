"""Apache Kafka's command-line tools as a client ("kafka-cli").

The tools run as their main classes (what kafka-consumer-groups.sh and the
other scripts start) from the tools classpath that
compat_tests/reference_kafka.py resolves with Maven (4.3.1: the newest
kafka-tools artifact published; it speaks to 4.4 brokers as any client):

    kafka-consumer-groups      org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
    kafka-dump-log             org.apache.kafka.tools.DumpLogSegments
    kafka-producer-perf-test   org.apache.kafka.tools.ProducerPerformance
    kafka-consumer-perf-test   org.apache.kafka.tools.ConsumerPerformance
    kafka-verifiable-producer  org.apache.kafka.tools.VerifiableProducer
    kafka-verifiable-consumer  org.apache.kafka.tools.VerifiableConsumer
    kafka-console-producer     org.apache.kafka.tools.ConsoleProducer
    kafka-console-consumer     org.apache.kafka.tools.consumer.ConsoleConsumer
    kafka-topics               org.apache.kafka.tools.TopicCommand
    kafka-configs              kafka.admin.ConfigCommand (4.3.1 core jar)
    kafka-get-offsets          org.apache.kafka.tools.GetOffsetShell

Why a client and not only a checker: the tools are clients of their own
(Java producers, consumers and admin clients with their own settings,
output and exit codes). The adapter serves what they can express of the
generic interface: topics (kafka-topics), configs (kafka-configs:
IncrementalAlterConfigs only), offsets (kafka-get-offsets), records
through kafka-console-producer (one line per record,
"h1:v1,h2:v2<TAB>key<TAB>value", NULL_MARKER for null; no record
timestamps; records that name a partition only on a one-partition topic,
the tool having no partition option; no offsets reported) and
kafka-console-consumer (--partition, --offset; it reports no errors of its
own, so no consume_from). The tools with nothing generic to express
(consumer groups, perf and verifiable tools) have scenarios of their own,
scenarios/kafka_cli.py, n/a for the other clients; kafka-dump-log reads a
target's segment files, so its scenario runs with every client, each
writing the batches it decodes. Each tool run is a JVM start (~1.5-3 s).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from compat_tests import reference_kafka
from compat_tests.clients.base import JAVA_EXCEPTIONS, Adapter, ClientError, Unsupported

CONSUMER_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
DUMP_LOG = "org.apache.kafka.tools.DumpLogSegments"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
VERIFIABLE_PRODUCER = "org.apache.kafka.tools.VerifiableProducer"
VERIFIABLE_CONSUMER = "org.apache.kafka.tools.VerifiableConsumer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
TOPICS = "org.apache.kafka.tools.TopicCommand"
CONFIGS = "kafka.admin.ConfigCommand"  # in the 4.3.1 core jar (4.4 moved it to org.apache.kafka.tools)
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
TOOL_TIMEOUT = 120.0
NULL_MARKER = "<kwire-null>"  # null.marker of the console producer, null.literal of the console consumer
# kafka-topics' "Error while executing topic command : <message>" -> Kafka's error name.
TOPIC_ERRORS = {"already exists": "TOPIC_ALREADY_EXISTS", "does not exist": "UNKNOWN_TOPIC_OR_PARTITION",
                "would not be an increase": "INVALID_PARTITIONS", "Topic name is invalid": "INVALID_TOPIC_EXCEPTION",
                "Topic name is illegal": "INVALID_TOPIC_EXCEPTION"}


def missing_tools() -> str | None:
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not on PATH" if missing else None


def run(main_class: str, args: list[str], *, timeout: float = TOOL_TIMEOUT, input: str | None = None) -> subprocess.CompletedProcess:
    """One tool run, bounded; output captured, never raising on its exit code."""
    return reference_kafka.run_tool(main_class, args, timeout=timeout, input=input, check=False)


class KafkaCliAdapter(Adapter):
    name = "kafka-cli"

    def tool(self, main_class: str, *args: str, timeout: float = TOOL_TIMEOUT, input: str | None = None) -> subprocess.CompletedProcess:
        """A tool that takes --bootstrap-server, run against this adapter's bootstrap address."""
        return run(main_class, ["--bootstrap-server", self.bootstrap, *args], timeout=timeout, input=input)

    def _topics(self, *args: str) -> list[str]:
        result = self.tool(TOPICS, *args)
        out = result.stdout + result.stderr
        if result.returncode != 0:
            message = re.search(r"Error while executing topic command : (.*)", out)
            text = message[1] if message else out[-500:]
            raise ClientError(next((name for marker, name in TOPIC_ERRORS.items() if marker in text), "TOOL_FAILED"), text)
        return result.stdout.splitlines()

    def list_topics(self) -> list[str]:
        return sorted(line for line in self._topics("--list") if line)

    def create_topics(self, specs: list[dict[str, Any]]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for spec in specs:
            configs = [arg for name, value in spec.get("configs", {}).items() for arg in ("--config", f"{name}={value}")]
            try:
                self._topics("--create", "--topic", spec["name"], "--partitions", str(spec.get("partitions", 1)),
                             "--replication-factor", "1", *configs)
                out[spec["name"]] = None
            except ClientError as exc:
                out[spec["name"]] = exc.name
        return out

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            try:
                lines = self._topics("--describe", "--topic", name)
            except ClientError as exc:
                out[name] = {"error": exc.name}
                continue
            topic_id = re.search(r"\tTopicId: (\S+)", lines[0])
            partitions = []
            for line in lines[1:]:
                fields = dict(re.findall(r"(\w+): ([^\t]*)", line))
                partitions.append({"partition": int(fields["Partition"]), "leader": int(fields["Leader"]),
                                   "replicas": [int(r) for r in fields["Replicas"].split(",")],
                                   "isr": [int(r) for r in fields["Isr"].split(",")]})
            out[name] = {"id": topic_id[1] if topic_id else None, "partitions": partitions}
        return out

    def delete_topics(self, names: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name in names:
            try:
                self._topics("--delete", "--topic", name)
                out[name] = None
            except ClientError as exc:
                out[name] = exc.name
        return out

    def create_partitions(self, topic: str, count: int) -> str | None:
        try:
            self._topics("--alter", "--topic", topic, "--partitions", str(count))
            return None
        except ClientError as exc:
            return exc.name

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        result = self.tool(CONFIGS, "--describe", "--all", "--entity-type", "topics", "--entity-name", topic)
        if result.returncode != 0:
            raise ClientError(_java_error(result.stdout + result.stderr), result.stdout[-500:])
        out: dict[str, dict[str, Any]] = {}
        for line in result.stdout.splitlines():
            entry = re.fullmatch(r"  ([^=]+)=(.*) sensitive=(true|false) synonyms=\{(.*)\}", line)
            if entry:
                # The first synonym is where the value comes from; kafka-configs prints no source of its own.
                source = entry[4].split(":", 1)[0] if entry[4] else "DEFAULT_CONFIG"
                out[entry[1]] = {"value": entry[2], "source": source, "read_only": None, "sensitive": entry[3] == "true"}
        return out

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        if not incremental:
            raise Unsupported("kafka-configs (4.x) sends IncrementalAlterConfigs only")
        args = ["--alter", "--entity-type", "topics", "--entity-name", topic]
        if set:  # a value with commas goes in brackets, kafka-configs' list syntax
            args += ["--add-config", ",".join(f"{k}=[{v}]" if "," in v else f"{k}={v}" for k, v in set.items())]
        if delete:
            args += ["--delete-config", ",".join(delete)]
        result = self.tool(CONFIGS, *args)
        if result.returncode != 0:
            raise ClientError(_java_error(result.stdout + result.stderr), result.stdout[-500:])

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        def at(time_spec: int) -> dict[str, int]:
            result = self.tool(GET_OFFSETS, "--topic", topic, "--partitions", ",".join(map(str, partitions)), "--time", str(time_spec))
            if result.returncode != 0:
                raise ClientError(_java_error(result.stdout + result.stderr), result.stdout[-500:])
            found = [line.rsplit(":", 2) for line in result.stdout.splitlines() if line.startswith(f"{topic}:")]
            return {partition: int(offset) for _, partition, offset in found}

        # kafka-get-offsets prints no line for a partition without a record at or after the time,
        # and the offset only (no timestamp).
        by_time = {str(t): at(t) for t in times}
        return {"beginning": at(-2), "end": at(-1),
                "for_times": {t: {str(p): [found[str(p)], None] if str(p) in found else None for p in partitions}
                              for t, found in by_time.items()}}

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        if transactional:
            raise Unsupported("kafka-console-producer: no transactions")
        if any(r.get("timestamp") is not None for r in records):
            raise Unsupported("kafka-console-producer: no record timestamps")
        texts = [r.get("key") or "" for r in records] + [r.get("value") or "" for r in records]
        texts += [part or "" for r in records for header in r.get("headers", []) for part in header]
        if any(c in text for text in texts for c in "\t\n,:") or NULL_MARKER in texts:
            raise Unsupported("kafka-console-producer: tabs, newlines, ',' or ':' inside a record's fields")
        partitions = {r.get("partition") for r in records}
        if partitions != {None}:
            described = self.describe_topics([topic])[topic]
            if partitions != {0} or len(described.get("partitions", [])) != 1:
                raise Unsupported("kafka-console-producer: no partition option (records name one on a topic of several partitions)")
        with_headers = any(r.get("headers") for r in records)
        if with_headers and not all(r.get("headers") for r in records):
            raise Unsupported("kafka-console-producer: headers on some records only")

        def field(value: str | None) -> str:
            return NULL_MARKER if value is None else value

        lines = []
        for r in records:
            headers = ",".join(f"{k}:{field(v)}" for k, v in r.get("headers", []))
            lines.append(("" if not with_headers else headers + "\t") + f"{field(r.get('key'))}\t{field(r.get('value'))}\n")
        args = ["--topic", topic, "--compression-codec", compression, "--reader-property", "parse.key=true",
                "--reader-property", f"parse.headers={str(with_headers).lower()}", "--reader-property", f"null.marker={NULL_MARKER}"]
        for name, value in (config or {}).items():
            args += ["--command-property", f"{name}={value}"]
        result = self.tool(CONSOLE_PRODUCER, *args, input="".join(lines))
        # A failed send is logged (ErrorLoggingCallback, to the console log on stdout) and the tool still exits 0.
        if result.returncode != 0 or "Error when sending message" in result.stdout + result.stderr:
            raise ClientError(_java_error(result.stdout + result.stderr), result.stderr[-1000:])
        return [{"partition": None, "offset": None, "timestamp": None} for _ in records]  # the tool reports nothing

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        settings = {"acks": acks, "max.request.size": max_request_bytes, "retries": retries}
        return {name: str(value) for name, value in settings.items() if value is not None}

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        printed = ["print.timestamp", "print.partition", "print.offset", "print.headers", "print.key", "print.value"]
        args = ["--topic", topic, "--partition", str(partition), "--offset", str(offset), "--max-messages", str(count),
                "--timeout-ms", str(int(timeout * 1000)), "--formatter-property", f"null.literal={NULL_MARKER}"]
        for name in printed:
            args += ["--formatter-property", f"{name}=true"]
        result = self.tool(CONSOLE_CONSUMER, *args, timeout=timeout + TOOL_TIMEOUT)
        if result.returncode != 0:
            raise ClientError(_java_error(result.stdout + result.stderr), result.stderr[-1000:])
        out = []
        for line in result.stdout.splitlines():
            kind_time, partition_field, offset_field, headers, key, value = line.split("\t")
            kind, _, stamp = kind_time.partition(":")
            out.append({"partition": int(partition_field.split(":")[1]), "offset": int(offset_field.split(":")[1]),
                        "key": _null(key), "value": _null(value),
                        "headers": [] if headers == "NO_HEADERS" else [[k, _null(v)] for k, _, v in (h.partition(":") for h in headers.split(","))],
                        "timestamp": int(stamp), "timestamp_type": kind})
        return out


def _null(text: str) -> str | None:
    return None if text == NULL_MARKER else text


def _java_error(output: str) -> str:
    """Kafka's name for the last Java exception in a tool's output (its stack trace)."""
    found = re.findall(r"org\.apache\.kafka\.common\.errors\.(\w+)", output)
    return JAVA_EXCEPTIONS.get(found[-1], found[-1]) if found else "TOOL_FAILED"
