"""kcat (librdkafka's command-line client): produce, consume and metadata (kcat -L).

kcat -P sets one set of headers for every record and cannot set record
timestamps or null keys, so a produce asking for those is n/a; consuming
uses -J (one JSON object per record).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from typing import Any

from compat_tests.clients.base import Adapter, ClientError, Unsupported

# librdkafka's error strings (rd_kafka_err2str) for the broker errors scenarios expect.
KCAT_ERRORS = {"Message size too large": "MESSAGE_TOO_LARGE", "Unknown topic or partition": "UNKNOWN_TOPIC_OR_PARTITION",
               "Offset out of range": "OFFSET_OUT_OF_RANGE", "No offset stored": "NO_OFFSET_FOR_PARTITION"}
# kcat -J's "tstype" (kcat 1.7: "create", "logappend"; older builds: librdkafka's 1 and 2).
KCAT_TIMESTAMP_TYPES = {"create": "CreateTime", "logappend": "LogAppendTime", 1: "CreateTime", 2: "LogAppendTime"}
KCAT = shutil.which("kcat") or shutil.which("kafkacat") or "kcat"


class KcatAdapter(Adapter):
    name = "kcat"

    def _run(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        result = subprocess.run([KCAT, "-b", self.bootstrap, *args], input=input, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            known = next((name for text, name in KCAT_ERRORS.items() if text in result.stderr), "KCAT_FAILED")
            raise ClientError(known, result.stderr[-2000:])
        return result.stdout

    def list_topics(self) -> list[str]:
        return sorted(t["topic"] for t in json.loads(self._run("-L", "-J"))["topics"])

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:  # kcat -L -t: metadata of one topic (or all)
            [topic] = json.loads(self._run("-L", "-J", "-t", name))["topics"]
            if topic.get("error"):
                error = topic["error"].removeprefix("Broker: ")
                out[name] = {"error": next((n for text, n in KCAT_ERRORS.items() if text == error), error)}
                continue
            out[name] = {"partitions": sorted(({"partition": p["partition"], "leader": p["leader"], "replicas": [r["id"] for r in p["replicas"]],
                                                "isr": [r["id"] for r in p["isrs"]]} for p in topic["partitions"]), key=lambda p: p["partition"])}
        return out

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        settings = {"acks": acks, "message.max.bytes": max_request_bytes, "retries": retries}
        return {name: str(value) for name, value in settings.items() if value is not None}

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        # Without -e: kcat waits for `count` records (records that arrive later too) until the timeout kills it.
        args = ["-C", "-t", topic, "-p", str(partition), "-o", "stored" if start is None else str(start), "-c", str(count), "-J", "-Z",
                "-X", f"auto.offset.reset={'error' if reset == 'none' else reset}", "-X", f"fetch.wait.max.ms={max_wait_ms}"]
        if start is None:
            args += ["-X", f"group.id=compat-reset-{uuid.uuid4().hex[:8]}"]
        try:
            out = self._run(*args, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            # An error the policy raises does not end kcat: it is on stderr when the timeout kills it.
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
            known = next((name for text, name in KCAT_ERRORS.items() if text in stderr), None)
            if known:
                raise ClientError(known, stderr[-2000:]) from exc
        return self._records(out)

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        if transactional:
            raise Unsupported(f"{self.name}: transactions are not in this driver yet")
        headers = {json.dumps(r.get("headers", [])) for r in records}
        if len(headers) > 1 or any(r.get("timestamp") is not None or r.get("key") is None for r in records):
            raise Unsupported("kcat -P: per-record headers, timestamps or null keys")
        if any("\n" in (r.get("value") or "") or "\t" in (r.get("key") or "") for r in records):
            raise Unsupported("kcat -P: delimiters inside keys or values")
        args = ["-P", "-t", topic, "-K", "\t", "-z", compression, "-X", "partitioner=murmur2_random"]
        partitions = {r.get("partition") for r in records}
        if len(partitions) > 1:
            raise Unsupported("kcat -P: one partition (or the partitioner) per run")
        if None not in partitions:
            args += ["-p", str(partitions.pop())]
        for name, value in records[0].get("headers", []) if records else []:
            args += ["-H", f"{name}={value}" if value is not None else name]
        for key, value in (config or {}).items():
            args += ["-X", f"{key}={value}"]
        self._run(*args, "-Z", input="".join(f"{r['key']}\t{r.get('value') or ''}\n" for r in records))
        return [{"partition": None, "offset": None, "timestamp": None} for _ in records]  # kcat -P reports nothing

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        start = {"earliest": "beginning", "latest": "end"}.get(offset, str(offset))  # type: ignore[call-overload]
        return self._records(self._run("-C", "-t", topic, "-p", str(partition), "-o", start, "-c", str(count), "-e", "-J", "-Z"))

    @staticmethod
    def _records(out: str) -> list[dict[str, Any]]:
        records = []
        for line in out.splitlines():
            m = json.loads(line)
            h = m.get("headers") or []
            records.append({"partition": m["partition"], "offset": m["offset"], "key": m["key"], "value": m["payload"],
                            "headers": [[h[i], h[i + 1]] for i in range(0, len(h), 2)], "timestamp": m["ts"],
                            "timestamp_type": KCAT_TIMESTAMP_TYPES.get(m["tstype"], str(m["tstype"]))})
        return records
