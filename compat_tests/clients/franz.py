"""franz-go (github.com/twmb/franz-go: kgo 1.22.3, kadm 1.20.0) through compat_tests/go/driver.

The driver is a small Go program speaking the Java driver's JSON protocol
(see its main.go). The suite builds it with `go build` into the user cache
directory, one binary per content hash of its sources (go.mod, go.sum,
*.go) and Go version, so a changed source means a new build and an
unchanged one none. Modules come through Go's module proxy into a module
cache under the same cache directory (unless GOMODCACHE is set), checked
against the committed go.sum (-mod=readonly); nothing is vendored. Each
call is one short-lived process (a few ms to start).

franz-go's default partitioner hashes keys with murmur2 as Java does
(UniformBytesPartitioner with keys: KafkaHasher(murmur2)); records that
name their partition go through its ManualPartitioner. KIP-848 groups are
franz-go's ServerSideBalancer option (with its sticky balancer the broker
is asked for the "uniform" assignor, with range for "range").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from compat_tests.clients.base import MemberProcess, Unsupported
from compat_tests.clients.child import run_transform_child
from compat_tests.clients.driver import DriverAdapter, decode_records, encode_records

DRIVER_DIR = Path(__file__).resolve().parents[1] / "go" / "driver"
PRODUCER = {"acks": "1", "linger_ms": 20}
_binary: Path | None = None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kwire" / "compat"


def build_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOMODCACHE", str(cache_dir() / "go-mod"))
    # readonly: the committed go.sum is the truth; no VCS stamping (a clean clone or a copy may have no .git).
    env["GOFLAGS"] = " ".join([env.get("GOFLAGS", ""), "-mod=readonly", "-buildvcs=false"]).strip()
    return env


def build_driver() -> Path:
    """The driver binary for the current sources, built when missing."""
    global _binary
    if _binary is not None:
        return _binary
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is not on PATH")
    version = subprocess.run([go, "version"], capture_output=True, text=True, timeout=60, check=True).stdout
    digest = hashlib.sha256(version.encode())
    for path in sorted([DRIVER_DIR / "go.mod", DRIVER_DIR / "go.sum", *DRIVER_DIR.glob("*.go")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    binary = cache_dir() / f"franz-driver-{digest.hexdigest()[:16]}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        # Built under a temporary name and renamed: a concurrent run never sees half a binary.
        fd, partial = tempfile.mkstemp(dir=binary.parent, prefix=binary.name + ".")
        os.close(fd)
        try:
            result = subprocess.run([go, "build", "-trimpath", "-o", partial, "."], cwd=DRIVER_DIR, env=build_env(),
                                    capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise RuntimeError(f"building the franz-go driver failed:\n{(result.stdout + result.stderr)[-3000:]}")
            os.replace(partial, binary)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    _binary = binary
    return binary


class FranzAdapter(DriverAdapter):
    name = "franz-go"

    def _argv(self) -> list[str]:
        return [str(build_driver()), self.bootstrap]

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, topic in self._run({"op": "describe_topics", "topics": names}).items():
            out[name] = {"error": topic["error"]} if "error" in topic else {"id": topic["id"], "partitions": topic["partitions"]}
        return out

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        config = {**PRODUCER, "compression": compression, **(config or {})}
        command: dict[str, Any] = {"op": "produce", "topic": topic, "records": encode_records(records), "config": config}
        if transactional:
            command["transaction"] = "commit"
        return self._reported(self._run(command))

    @staticmethod
    def _reported(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # franz-go leaves a produced record's timestamp as the client set it: it does not
        # take the broker's LogAppendTime from the produce answer, so it reports none.
        return [{**s, "timestamp": None} for s in sent]

    def idempotent_config(self) -> dict[str, Any]:
        return {"acks": "all", "idempotent": True}  # franz-go's defaults, which PRODUCER turns off

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        return self._run({"op": "fenced_transaction", "topic": topic, "transactional_id": transactional_id,
                          "first": encode_records(first), "second": encode_records(second), "late": encode_records(late)})

    def transform_process(self, source: str, target: str, group: str, count: int, *, transactional_id: str,
                          crash: bool, timeout: float = 30.0) -> dict[str, Any]:
        # A group member (GroupTransactSession): franz-go commits a transaction's offsets only
        # through one, so unlike the other clients' workers it subscribes.
        command = {"op": "transform_worker", "source": source, "target": target, "group": group, "count": count,
                   "transactional_id": transactional_id, "hold": crash, "timeout_ms": int(timeout * 1000)}
        return run_transform_child(self._argv(), [command], crash=crash, timeout=timeout + 60)

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return decode_records(self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset,
                                          "count": count, "timeout_ms": int(timeout * 1000)}))

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if acks is not None:
            config["acks"] = acks
        if max_request_bytes is not None:
            config["batch_max_bytes"] = max_request_bytes
        if retries is not None:
            config["retries"] = retries
        return config

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        command = {"op": "consume", "topic": topic, "partition": partition, "offset": start, "count": count, "reset": reset,
                   "max_wait_ms": max_wait_ms, "timeout_ms": int(timeout * 1000)}
        if start is None and reset == "none":
            # kgo.NoResetOffset only governs OffsetOutOfRange: without a committed offset
            # the member starts at the log end instead of failing (Java's NoOffsetForPartition).
            raise Unsupported(f"{self.name}: reset none without a committed offset starts at the end, no error")
        if start is None:
            command["group"] = f"compat-reset-{os.urandom(4).hex()}"
        return decode_records(self._run(command))

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        if delete and not incremental:
            raise Unsupported(f"{self.name}: legacy AlterConfigs has no delete")
        self._run({"op": "alter_configs", "topic": topic, "set": set, "delete": delete or [], "incremental": incremental})

    # -- groups ---------------------------------------------------------------

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        return self._run({"op": "group_consume", "topic": topic, "group": group, "count": count, "protocol": protocol,
                          "assignor": assignor or "", "assigned": assigned, "timeout_ms": int(timeout * 1000)}, timeout + 60)

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        return self._run({"op": "group_rebalance", "topic": topic, "group": group, "partitions": partitions, "protocol": protocol,
                          "assignor": assignor or "", "timeout_ms": int(timeout * 1000)}, timeout + 60)

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        answer = self._run({"op": "describe_groups", "groups": groups, "protocol": protocol})
        return {name: {"error": g["error"]} if "error" in g else g for name, g in answer.items()}

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        answer = self._run({"op": "group_offsets", "group": group, "topic": topic})
        return {"committed": answer["committed"], "lag": answer["lag"]}

    def group_member(self, topic: str, group: str, *, session_timeout_ms: int = 6000,
                     instance_id: str | None = None) -> MemberProcess:
        command = {"op": "group_member", "topic": topic, "group": group, "session_timeout_ms": session_timeout_ms,
                   "instance_id": instance_id or ""}
        return MemberProcess(self._argv(), f"franz-go member {instance_id or ''}".strip(),
                             stdin=json.dumps([command]).encode())

    # -- transactions ---------------------------------------------------------

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        return self._reported(self._run({"op": "produce", "topic": topic, "records": encode_records(records),
                                         "config": {"acks": "all", "transactional_id": transactional_id},
                                         "transaction": "commit" if commit else "abort"}))

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        return decode_records(self._run({"op": "consume", "topic": topic, "partition": partition, "offset": offset,
                                          "count": count, "timeout_ms": int(timeout * 1000), "config": {"isolation": isolation}}))

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        return self._run({"op": "transform", "topic": source, "output": target, "group": group, "count": count,
                          "transaction": "commit" if commit else "abort", "timeout_ms": int(timeout * 1000),
                          "config": {"transactional_id": transactional_id}}, timeout + 60)
