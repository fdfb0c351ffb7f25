"""What the driver-backed adapters (java, kafkajs, franz-go) share.

Each of those clients is driven by a small program in its own language
(compat_tests/java/driver, js/driver, go/driver) that reads a JSON list of
commands on stdin and writes one JSON line per command: {"ok": answer} or
{"error": name, "message": text}. Keys, values and header values travel
base64-encoded so that any bytes survive. This module runs one command in
one driver process and decodes the answers the three drivers write alike;
an adapter says how to start its driver (`_argv`) and how its client names
errors (`_error_name`), and keeps what its client does differently.
"""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

from compat_tests.clients.base import Adapter, ClientError


def b64(value: str | None) -> str | None:
    return None if value is None else base64.b64encode(value.encode()).decode()


def text(value: str | None) -> str | None:
    return None if value is None else base64.b64decode(value).decode(errors="backslashreplace")


def encode_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records to produce, as the drivers' produce command takes them."""
    return [{"key": b64(r.get("key")), "value": b64(r.get("value")), "partition": r.get("partition"),
             "timestamp": r.get("timestamp"), "headers": [[k, b64(v)] for k, v in r.get("headers", [])]} for r in records]


def decode_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consumed records as a driver reports them, in the Adapter's form."""
    return [{"partition": r["partition"], "offset": r["offset"], "key": text(r["key"]), "value": text(r["value"]),
             "headers": [[k, text(v)] for k, v in r["headers"]], "timestamp": r["timestamp"], "timestamp_type": r["timestamp_type"]}
            for r in records]


class DriverAdapter(Adapter):
    """An adapter whose every call is one command to its driver process."""

    def _argv(self) -> list[str]:
        """The command line that starts the driver (built or installed first when needed)."""
        raise NotImplementedError

    def _error_name(self, failure: dict[str, Any]) -> str:
        """Kafka's name for a driver's {"error", ...} (the client's own name by default)."""
        return failure["error"]

    def _failure(self, failure: dict[str, Any]) -> Exception:
        return ClientError(self._error_name(failure), failure.get("message") or "")

    def _run(self, command: dict[str, Any], timeout: float = 180) -> Any:
        result = subprocess.run(self._argv(), input=json.dumps([command]), capture_output=True, text=True, timeout=timeout)
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or len(answers) != 1:
            raise RuntimeError(f"{self.name} driver exited {result.returncode}:\n{result.stderr[-3000:]}")
        if "error" in answers[0]:
            raise self._failure(answers[0])
        return answers[0]["ok"]

    def _per_name(self, answer: dict[str, Any]) -> dict[str, str | None]:
        """{name: None or a failure} -> {name: None or its error name}."""
        return {name: None if result is None else self._error_name(result) for name, result in answer.items()}

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
        for name in names:  # the Java and kafkajs drivers fail the whole call on one unknown topic
            try:
                out.update(self._run({"op": "describe_topics", "topics": [name]}))
            except ClientError as exc:
                out[name] = {"error": exc.name}
        return out

    def create_partitions(self, topic: str, count: int) -> str | None:
        try:
            self._run({"op": "create_partitions", "topic": topic, "count": count})
        except ClientError as exc:
            return exc.name
        return None

    @staticmethod
    def _config_source(source: Any) -> str:
        return source

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        return {e["name"]: {"value": e["value"], "source": self._config_source(e["source"]), "read_only": e["read_only"],
                            "sensitive": e["sensitive"]}
                for e in self._run({"op": "describe_configs", "topic": topic})}

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        return self._run({"op": "offsets", "topic": topic, "partitions": partitions, "times": times})

    def list_groups(self) -> dict[str, dict[str, Any]]:
        return self._run({"op": "list_groups"})

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        return self._per_name(self._run({"op": "delete_groups", "groups": groups}))

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        return self._run({"op": "group_offsets", "group": group, "topic": topic})
