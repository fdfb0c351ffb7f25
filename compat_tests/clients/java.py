"""Java kafka-clients (4.4.0) through compat_tests/java/driver (KafkaClientDriver).

The driver is built with Maven into its target/ (git-ignored) the first time
and whenever its sources change; each call is one JVM (~1.5 s). Producers
run with enable.idempotence=false (acks=1) unless a scenario asks for idempotence.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from compat_tests.clients.base import JAVA_EXCEPTIONS, ClientError, MemberProcess, Unsupported
from compat_tests.clients.child import run_transform_child
from compat_tests.clients.driver import DriverAdapter, b64, decode_records, encode_records

DRIVER_DIR = Path(__file__).resolve().parents[1] / "java" / "driver"
TARGET = DRIVER_DIR / "target"
CLASSPATH_FILE = TARGET / "classpath.txt"
DRIVER_CLASS = TARGET / "classes" / "KafkaClientDriver.class"
PRODUCER = {"acks": "1", "enable.idempotence": "false", "linger.ms": "20"}
JVM = ["java", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
_classpath: str | None = None
JAVA_ASSIGNORS = {"range": "org.apache.kafka.clients.consumer.RangeAssignor",
                  "roundrobin": "org.apache.kafka.clients.consumer.RoundRobinAssignor",
                  "sticky": "org.apache.kafka.clients.consumer.StickyAssignor",
                  "cooperative-sticky": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"}


def build_driver() -> str:
    """Compile the driver unless up to date; its java classpath."""
    global _classpath
    if _classpath:
        return _classpath
    sources = [DRIVER_DIR / "pom.xml", *(p for p in (DRIVER_DIR / "src").rglob("*") if p.is_file())]
    newest = max(p.stat().st_mtime for p in sources)
    fresh = DRIVER_CLASS.exists() and CLASSPATH_FILE.exists() and min(DRIVER_CLASS.stat().st_mtime, CLASSPATH_FILE.stat().st_mtime) >= newest
    if not fresh or not all(Path(j).exists() for j in CLASSPATH_FILE.read_text().strip().split(os.pathsep)):
        result = subprocess.run(["mvn", "-q", "-B", "-f", str(DRIVER_DIR / "pom.xml"), "compile", "dependency:build-classpath",
                                 f"-Dmdep.outputFile={CLASSPATH_FILE}"], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"building the Java driver failed:\n{(result.stdout + result.stderr)[-3000:]}")
    _classpath = os.pathsep.join([str(TARGET / "classes"), CLASSPATH_FILE.read_text().strip()])
    return _classpath


class JavaTransactions:
    """Idempotence, fencing and consume-transform-produce (TransactionCommands.java; see Adapter)."""

    bootstrap: str
    _run: Any
    _argv: Any

    def idempotent_config(self) -> dict[str, Any]:
        return {"enable.idempotence": "true", "acks": "all"}  # kafka-clients' defaults, which PRODUCER turns off

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        [written] = self._run({"op": "transactions", "topic": topic, "config": {"transactional.id": transactional_id},
                               "transactions": [{"records": _java_records(records), "commit": commit}]})
        return written

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        return decode_records(self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset,
                                          "count": count, "timeout_ms": int(timeout * 1000),
                                          "config": {"isolation.level": isolation}}))

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        answer = self._run({"op": "fenced_transaction", "topic": topic, "transactional_id": transactional_id,
                            "first": _java_records(first), "second": _java_records(second), "late": _java_records(late)})
        return {step: None if error is None else JAVA_EXCEPTIONS.get(error, error) for step, error in answer.items()}

    def _transform_command(self, source: str, target: str, group: str, count: int, transactional_id: str, commit: bool,
                           hold: bool, timeout: float) -> dict[str, Any]:
        return {"op": "transform", "source": source, "target": target, "group": group, "count": count,
                "transactional_id": transactional_id, "commit": commit, "hold": hold, "timeout_ms": int(timeout * 1000)}

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        done = self._run(self._transform_command(source, target, group, count, transactional_id, commit, False, timeout))
        return {"records": done["records"], "committed": commit}

    def transform_process(self, source: str, target: str, group: str, count: int, *, transactional_id: str,
                          crash: bool, timeout: float = 30.0) -> dict[str, Any]:
        command = self._transform_command(source, target, group, count, transactional_id, True, crash, timeout)
        try:
            return run_transform_child(self._argv(), [command], crash=crash, timeout=timeout + 60)
        except ClientError as exc:
            raise ClientError(JAVA_EXCEPTIONS.get(exc.name, exc.name), str(exc)) from exc


def _java_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"key": b64(r.get("key")), "value": b64(r.get("value")), "partition": r.get("partition"),
             "headers": [[k, b64(v)] for k, v in r.get("headers", [])]} for r in records]


def _assignor_config(protocol: str, assignor: str | None) -> dict[str, str]:
    """The consumer's assignor: its own class (classic) or the broker's assignor by name (consumer protocol)."""
    if assignor is None:
        return {}
    if protocol == "classic":
        return {"partition.assignment.strategy": JAVA_ASSIGNORS[assignor]}
    return {"group.remote.assignor": assignor}


class JavaAdapter(JavaTransactions, DriverAdapter):
    name = "java"

    def _argv(self) -> list[str]:
        return [*JVM, "-cp", build_driver(), "KafkaClientDriver", self.bootstrap]

    def _error_name(self, failure: dict[str, Any]) -> str:
        return JAVA_EXCEPTIONS.get(failure["error"], failure["error"])

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        if transactional:  # one committed transaction of config's transactional.id
            if any(r.get("timestamp") is not None for r in records):
                raise Unsupported(f"{self.name}: the driver's transactions set no record timestamps")
            [written] = self._run({"op": "transactions", "topic": topic, "transactions": [{"records": _java_records(records), "commit": True}],
                                   "config": {**PRODUCER, **self.idempotent_config(), "compression.type": compression, **(config or {})}})
            return written
        return self._run({"op": "produce", "topic": topic, "records": encode_records(records),
                          "config": {**PRODUCER, "compression.type": compression, **(config or {})}})

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        if not isinstance(offset, int):
            raise ClientError("UNSUPPORTED", "the driver seeks to numeric offsets only")
        return decode_records(self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset, "count": count,
                                         "timeout_ms": int(timeout * 1000)}))

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        settings = {"acks": acks, "max.request.size": max_request_bytes, "retries": retries}
        return {name: str(value) for name, value in settings.items() if value is not None}

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        config = {"auto.offset.reset": reset, "fetch.max.wait.ms": max_wait_ms, "request.timeout.ms": max_wait_ms + 30000}
        if start is None:
            config["group.id"] = f"compat-reset-{uuid.uuid4().hex[:8]}"
        return decode_records(self._run({"op": "consume", "topic": topic, "partition": partition, "offset": start, "count": count,
                                         "timeout_ms": int(timeout * 1000), "config": config}))

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        if not incremental:
            raise Unsupported("java: kafka-clients 4.x has no legacy Admin.alterConfigs (removed in 4.0)")
        self._run({"op": "alter_configs", "topic": topic, "set": set, "delete": delete or []})

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        return self._run({"op": "group_consume", "topic": topic, "group": group, "protocol": protocol, "count": count,
                          "assigned": assigned, "timeout_ms": int(timeout * 1000), "config": _assignor_config(protocol, assignor)})

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        return self._run({"op": "group_rebalance", "topic": topic, "group": group, "protocol": protocol, "partitions": partitions,
                          "timeout_ms": int(timeout * 1000), "config": _assignor_config(protocol, assignor)})

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        # Admin.describeConsumerGroups picks DescribeGroups or ConsumerGroupDescribe by the group's type itself.
        answer = self._run({"op": "describe_groups", "groups": groups})
        return {name: {"error": self._error_name(g)} if "error" in g else g for name, g in answer.items()}

    def group_member(self, topic: str, group: str, *, session_timeout_ms: int = 6000,
                     instance_id: str | None = None) -> MemberProcess:
        config = {"topic": topic, "group": group, "session_timeout_ms": session_timeout_ms, "instance_id": instance_id}
        return MemberProcess([*JVM, "-cp", build_driver(), "GroupMember", self.bootstrap, json.dumps([config])],
                             f"java member {instance_id or ''}".strip())
