"""kafkajs (2.2.4, Node) through compat_tests/js/driver (driver.js).

The driver's packages are pinned by its package-lock.json and installed by
`npm ci --ignore-scripts` into its node_modules (git-ignored) the first time
and whenever the lock changes (a hash of the lock is kept beside them); npm
keeps its own download cache, so a reinstall reads no package twice.
Install scripts are not run: every package the driver uses is plain
JavaScript or ships its native binary prebuilt (the zstd binding), so
nothing is compiled. Each call is one `node` process (~0.2 s).

What kafkajs cannot express, reported n/a: a consumer without a group
(`consume` joins a fresh group and seeks), auto.offset.reset=none (it
always resets), IncrementalAlterConfigs (only the legacy AlterConfigs),
the KIP-848 consumer protocol and assignors other than round-robin, a null
header value (kafkajs 2.2.4 throws measuring it) and header orders its
header object cannot keep (a repeated key after another key). Its records
carry no timestamp type (None), its topic metadata no topic id, its
ListGroups (v0-v2) no group state or type (left out of its answer).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compat_tests.clients.base import Adapter, ClientError, MemberProcess, Unsupported, _code_name
from compat_tests.clients.child import run_transform_child

DRIVER_DIR = Path(__file__).resolve().parents[1] / "js" / "driver"
NODE_MODULES = DRIVER_DIR / "node_modules"
INSTALLED_LOCK = NODE_MODULES / ".kwire-lock-sha256"
# kafkajs's produce options by name (see driver.js); acks -1 is "all".
PRODUCER = {"acks": 1}
# DescribeConfigs' config_source numbers (kafkajs passes them on as numbers).
CONFIG_SOURCES = {0: "UNKNOWN", 1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG", 3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
                  4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG", 6: "DYNAMIC_BROKER_LOGGER_CONFIG", 7: "CLIENT_METRICS_CONFIG",
                  8: "GROUP_CONFIG"}
_install_lock = threading.Lock()
_installed = False


def missing_tools() -> str | None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not on PATH" if missing else None


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One install at a time, across threads and processes (pytest and a suite run)."""
    with _install_lock, open(Path(tempfile.gettempdir()) / "kwire-kafkajs-driver.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_driver() -> None:
    """`npm ci` the driver's packages unless those of the current lock are installed."""
    global _installed
    if _installed:
        return
    with _exclusive():
        wanted = hashlib.sha256((DRIVER_DIR / "package-lock.json").read_bytes()).hexdigest()
        if not (INSTALLED_LOCK.exists() and INSTALLED_LOCK.read_text().strip() == wanted):
            result = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                                    cwd=DRIVER_DIR, capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                raise RuntimeError(f"npm ci for the kafkajs driver failed:\n{(result.stdout + result.stderr)[-3000:]}")
            INSTALLED_LOCK.write_text(wanted + "\n")
        _installed = True


def _error(failure: dict[str, Any]) -> str:
    """Kafka's name for a driver failure: by its code (kafkajs's own names are older for
    some, e.g. NOT_LEADER_FOR_PARTITION), else the kafkajs error class."""
    return _code_name(failure["code"]) if failure.get("code") else failure["error"]


def _b64(value: str | None) -> str | None:
    return None if value is None else base64.b64encode(value.encode()).decode()


def _text(value: str | None) -> str | None:
    return None if value is None else base64.b64decode(value).decode(errors="backslashreplace")


class KafkajsAdapter(Adapter):
    name = "kafkajs"
    sees_timestamp_type = False

    def _run(self, command: dict[str, Any], timeout: float = 180) -> Any:
        install_driver()
        result = subprocess.run(["node", str(DRIVER_DIR / "driver.js"), self.bootstrap], input=json.dumps([command]),
                                capture_output=True, text=True, timeout=timeout)
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or len(answers) != 1:
            raise RuntimeError(f"kafkajs driver exited {result.returncode}:\n{result.stderr[-3000:]}")
        if "error" in answers[0]:
            if answers[0]["error"] == "UNSUPPORTED":
                raise Unsupported(f"kafkajs: {answers[0]['message']}")
            raise ClientError(_error(answers[0]), answers[0].get("message") or "")
        return answers[0]["ok"]

    def _per_name(self, answer: dict[str, Any]) -> dict[str, str | None]:
        return {name: None if result is None else _error(result) for name, result in answer.items()}

    def cluster(self) -> dict[str, Any]:
        c = self._run({"op": "describe_cluster"})
        return {"cluster_id": c["cluster_id"], "controller": c["controller"], "brokers": sorted([n["id"], n["host"], n["port"]] for n in c["nodes"])}

    def list_topics(self) -> list[str]:
        return sorted(self._run({"op": "list_topics"}))

    def create_topics(self, specs: list[dict[str, Any]]) -> dict[str, str | None]:
        return self._per_name(self._run({"op": "create_topics", "topics": specs}))

    def delete_topics(self, names: list[str]) -> dict[str, str | None]:
        return self._per_name(self._run({"op": "delete_topics", "topics": names}))

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:  # kafkajs fails the whole call on one unknown topic
            try:
                out.update(self._run({"op": "describe_topics", "topics": [name]}))
            except ClientError as exc:
                out[name] = {"error": exc.name}
        return out

    def create_partitions(self, topic: str, count: int) -> str | None:
        try:
            self._run({"op": "create_partitions", "topic": topic, "count": count})
            return None
        except ClientError as exc:
            return exc.name

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        return {e["name"]: {"value": e["value"], "source": CONFIG_SOURCES.get(e["source"], str(e["source"])),
                            "read_only": e["read_only"], "sensitive": e["sensitive"]}
                for e in self._run({"op": "describe_configs", "topic": topic})}

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        if incremental:
            raise Unsupported("kafkajs: no IncrementalAlterConfigs (only the legacy AlterConfigs)")
        self._run({"op": "alter_configs", "topic": topic, "set": set})

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        # kafkajs has no client-side request size limit: max_request_bytes needs nothing.
        config: dict[str, Any] = {}
        if acks is not None:
            config["acks"] = {"0": 0, "1": 1, "all": -1}[acks]
        if retries is not None:
            config["retries"] = retries
        return config

    def idempotent_config(self) -> dict[str, Any]:
        return {"idempotent": True, "acks": -1, "maxInFlightRequests": 1}  # kafkajs needs one request in flight for it

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        def records(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{"key": _b64(r.get("key")), "value": _b64(r.get("value")), "partition": r.get("partition")} for r in rs]

        answer = self._run({"op": "fenced_transaction", "topic": topic, "transactional_id": transactional_id,
                            "first": records(first), "second": records(second), "late": records(late)})
        return {step: None if error is None else _error(error) for step, error in answer.items()}

    def transform_process(self, source: str, target: str, group: str, count: int, *, transactional_id: str,
                          crash: bool, timeout: float = 30.0) -> dict[str, Any]:
        install_driver()
        command = {"op": "transform_worker", "source": source, "target": target, "group": group, "count": count,
                   "transactional_id": transactional_id, "hold": crash, "timeout_ms": int(timeout * 1000)}
        argv = ["node", str(DRIVER_DIR / "driver.js"), self.bootstrap]
        return run_transform_child(argv, [command], crash=crash, timeout=timeout + 60)

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        return self._produce(topic, records, {**PRODUCER, "compression": compression, **(config or {})},
                             {"commit": True} if transactional else None)

    def _produce(self, topic: str, records: list[dict[str, Any]], config: dict[str, Any],
                 transaction: dict[str, Any] | None) -> list[dict[str, Any]]:
        js_records = [{"key": _b64(r.get("key")), "value": _b64(r.get("value")), "partition": r.get("partition"),
                       "timestamp": r.get("timestamp"), "headers": [[k, _b64(v)] for k, v in r.get("headers", [])]} for r in records]
        return self._run({"op": "produce", "topic": topic, "records": js_records, "config": config, "transaction": transaction})

    def _consume(self, topic: str, partition: int, offset: int | str | None, count: int, timeout: float, *,
                 reset: str = "earliest", config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        records = self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset, "count": count,
                             "reset": reset, "timeout_ms": int(timeout * 1000), "config": config or {}})
        return [{"partition": r["partition"], "offset": r["offset"], "key": _text(r["key"]), "value": _text(r["value"]),
                 "headers": [[k, _text(v)] for k, v in r["headers"]], "timestamp": r["timestamp"], "timestamp_type": r["timestamp_type"]}
                for r in records]

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._consume(topic, partition, offset, count, timeout)

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        if reset == "none" and start is None:
            raise Unsupported("kafkajs: no auto.offset.reset=none (it always resets: fromBeginning or the latest)")
        return self._consume(topic, partition, start, count, timeout, reset=reset, config={"maxWaitTimeInMs": max_wait_ms})

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._consume(topic, partition, offset, count, timeout,
                             config={"readUncommitted": {"read_committed": False, "read_uncommitted": True}[isolation]})

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        return self._run({"op": "offsets", "topic": topic, "partitions": partitions, "times": times})

    @staticmethod
    def _classic(protocol: str, assignor: str | None) -> None:
        if protocol != "classic":
            raise Unsupported(f"kafkajs: no {protocol} group protocol (KIP-848); only the classic one")
        if assignor not in (None, "roundrobin"):
            raise Unsupported(f"kafkajs: no {assignor} assignor (it ships the round-robin one)")

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        self._classic(protocol, assignor)
        return self._run({"op": "group_consume", "topic": topic, "group": group, "count": count, "assigned": assigned,
                          "timeout_ms": int(timeout * 1000)}, timeout=timeout + 60)

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        self._classic(protocol, assignor)
        return self._run({"op": "group_rebalance", "topic": topic, "group": group, "partitions": partitions,
                          "timeout_ms": int(timeout * 1000)}, timeout=timeout + 60)

    def group_member(self, topic: str, group: str, *, session_timeout_ms: int = 6000,
                     instance_id: str | None = None) -> MemberProcess:
        if instance_id is not None:
            raise Unsupported("kafkajs: no static membership (group.instance.id)")
        install_driver()
        command = {"op": "group_member", "topic": topic, "group": group, "session_timeout_ms": session_timeout_ms}
        return MemberProcess(["node", str(DRIVER_DIR / "driver.js"), self.bootstrap], "kafkajs member",
                             stdin=json.dumps([command]).encode())

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        self._classic(protocol, None)
        return {group: {"error": _code_name(d["error_code"])} if "error_code" in d else d
                for group, d in self._run({"op": "describe_groups", "groups": groups}).items()}

    def list_groups(self) -> dict[str, dict[str, Any]]:
        return self._run({"op": "list_groups"})

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        return self._per_name(self._run({"op": "delete_groups", "groups": groups}))

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        return self._run({"op": "group_offsets", "group": group, "topic": topic})

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        config = {"idempotent": True, "acks": -1, "maxInFlightRequests": 1, "transactionalId": transactional_id}
        return self._produce(topic, records, config, {"commit": commit})

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        return self._run({"op": "transform", "source": source, "target": target, "group": group, "count": count,
                          "transactional_id": transactional_id, "commit": commit, "timeout_ms": int(timeout * 1000)},
                         timeout=timeout + 60)
