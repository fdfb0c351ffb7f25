"""kafkajs (2.2.4, Node) through compat_tests/js/driver (driver.js).

The driver's packages are pinned by its package-lock.json and installed by
`npm ci --ignore-scripts` into its node_modules (git-ignored) the first time
and whenever the lock changes (a hash of the lock is kept beside them); npm
keeps its own download cache, so a reinstall reads no package twice.
Install scripts are not run: every package the driver uses is plain
JavaScript or ships its native binary prebuilt (the zstd binding), so
nothing is compiled. Each call is one `node` process (~0.2 s).

What kafkajs cannot express, reported n/a: a consumer without a group
(`consume` joins a fresh group and seeks), record timestamp types (its
messages do not carry them: `timestamp_type` is None), topic ids, the
KIP-848 consumer protocol, and header orders its header object cannot keep
(a repeated key after another key).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compat_tests.clients.base import Adapter, ClientError, Unsupported

DRIVER_DIR = Path(__file__).resolve().parents[1] / "js" / "driver"
NODE_MODULES = DRIVER_DIR / "node_modules"
INSTALLED_LOCK = NODE_MODULES / ".kwire-lock-sha256"
# kafkajs's produce options by name (see driver.js); acks -1 is "all".
PRODUCER = {"acks": 1}
# The v2 partitioner notice is about the change from v1; the suite checks placement itself.
NODE_ENV = {**os.environ, "KAFKAJS_NO_PARTITIONER_WARNING": "1"}
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
                                capture_output=True, text=True, timeout=timeout, env=NODE_ENV)
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or len(answers) != 1:
            raise RuntimeError(f"kafkajs driver exited {result.returncode}:\n{result.stderr[-3000:]}")
        if "error" in answers[0]:
            if answers[0]["error"] == "UNSUPPORTED":
                raise Unsupported(f"kafkajs: {answers[0]['message']}")
            raise ClientError(answers[0]["error"], answers[0].get("message") or "")
        return answers[0]["ok"]

    def _per_name(self, answer: dict[str, Any]) -> dict[str, str | None]:
        return {name: None if result is None else result["error"] for name, result in answer.items()}

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

    def create_partitions(self, topic: str, count: int) -> None:
        self._run({"op": "create_partitions", "topic": topic, "count": count})

    def describe_configs(self, topic: str) -> list[dict[str, Any]]:
        return self._run({"op": "describe_configs", "topic": topic})

    def alter_configs(self, topic: str, set_: dict[str, str], delete: list[str]) -> None:
        self._run({"op": "alter_configs", "topic": topic, "set": set_, "delete": delete})

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        js_records = [{"key": _b64(r.get("key")), "value": _b64(r.get("value")), "partition": r.get("partition"),
                       "timestamp": r.get("timestamp"), "headers": [[k, _b64(v)] for k, v in r.get("headers", [])]} for r in records]
        return self._run({"op": "produce", "topic": topic, "records": js_records,
                          "config": {**PRODUCER, "compression": compression, **(config or {})},
                          "transaction": {"commit": True} if transactional else None})

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        records = self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset, "count": count,
                             "timeout_ms": int(timeout * 1000)})
        return [{"partition": r["partition"], "offset": r["offset"], "key": _text(r["key"]), "value": _text(r["value"]),
                 "headers": [[k, _text(v)] for k, v in r["headers"]], "timestamp": r["timestamp"], "timestamp_type": r["timestamp_type"]}
                for r in records]

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        return self._run({"op": "offsets", "topic": topic, "partitions": partitions, "times": times})

    def group_consume(self, topic: str, group: str, count: int, *, assigned: int | None = None,
                      timeout: float = 30.0) -> dict[str, Any]:
        return self._run({"op": "group_consume", "topic": topic, "group": group, "count": count, "assigned": assigned,
                          "timeout_ms": int(timeout * 1000)}, timeout=timeout + 60)

    def list_groups(self) -> list[str]:
        return self._run({"op": "list_groups"})

    def describe_groups(self, groups: list[str]) -> dict[str, Any]:
        return self._run({"op": "describe_groups", "groups": groups})

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        return self._run({"op": "delete_groups", "groups": groups})

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        return self._run({"op": "group_offsets", "group": group, "topic": topic})

