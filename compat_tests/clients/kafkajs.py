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

from compat_tests.clients.base import MemberProcess, Unsupported, _code_name
from compat_tests.clients.child import run_transform_child
from compat_tests.clients.driver import DriverAdapter, b64, decode_records, encode_records

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


class KafkajsAdapter(DriverAdapter):
    name = "kafkajs"
    sees_timestamp_type = False

    def _argv(self) -> list[str]:
        install_driver()
        return ["node", str(DRIVER_DIR / "driver.js"), self.bootstrap]

    def _error_name(self, failure: dict[str, Any]) -> str:
        """Kafka's name for a driver failure: by its code (kafkajs's own names are older for
        some, e.g. NOT_LEADER_FOR_PARTITION), else the kafkajs error class."""
        return _code_name(failure["code"]) if failure.get("code") else failure["error"]

    def _failure(self, failure: dict[str, Any]) -> Exception:
        if failure["error"] == "UNSUPPORTED":
            return Unsupported(f"kafkajs: {failure['message']}")
        return super()._failure(failure)

    @staticmethod
    def _config_source(source: Any) -> str:
        return CONFIG_SOURCES.get(source, str(source))

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
            return [{"key": b64(r.get("key")), "value": b64(r.get("value")), "partition": r.get("partition")} for r in rs]

        answer = self._run({"op": "fenced_transaction", "topic": topic, "transactional_id": transactional_id,
                            "first": records(first), "second": records(second), "late": records(late)})
        return {step: None if error is None else self._error_name(error) for step, error in answer.items()}

    def transform_process(self, source: str, target: str, group: str, count: int, *, transactional_id: str,
                          crash: bool, timeout: float = 30.0) -> dict[str, Any]:
        command = {"op": "transform_worker", "source": source, "target": target, "group": group, "count": count,
                   "transactional_id": transactional_id, "hold": crash, "timeout_ms": int(timeout * 1000)}
        return run_transform_child(self._argv(), [command], crash=crash, timeout=timeout + 60)

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        return self._produce(topic, records, {**PRODUCER, "compression": compression, **(config or {})},
                             {"commit": True} if transactional else None)

    def _produce(self, topic: str, records: list[dict[str, Any]], config: dict[str, Any],
                 transaction: dict[str, Any] | None) -> list[dict[str, Any]]:
        return self._run({"op": "produce", "topic": topic, "records": encode_records(records), "config": config,
                          "transaction": transaction})

    def _consume(self, topic: str, partition: int, offset: int | str | None, count: int, timeout: float, *,
                 reset: str = "earliest", config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return decode_records(self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset, "count": count,
                                         "reset": reset, "timeout_ms": int(timeout * 1000), "config": config or {}}))

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
        command = {"op": "group_member", "topic": topic, "group": group, "session_timeout_ms": session_timeout_ms}
        return MemberProcess(self._argv(), "kafkajs member", stdin=json.dumps([command]).encode())

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        self._classic(protocol, None)
        return {group: {"error": _code_name(d["error_code"])} if "error_code" in d else d
                for group, d in self._run({"op": "describe_groups", "groups": groups}).items()}

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        config = {"idempotent": True, "acks": -1, "maxInFlightRequests": 1, "transactionalId": transactional_id}
        return self._produce(topic, records, config, {"commit": commit})

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        return self._run({"op": "transform", "source": source, "target": target, "group": group, "count": count,
                          "transactional_id": transactional_id, "commit": commit, "timeout_ms": int(timeout * 1000)},
                         timeout=timeout + 60)
