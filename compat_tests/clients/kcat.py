"""kcat (librdkafka's command-line client): produce and consume only.

kcat -P sets one set of headers for every record and cannot set record
timestamps or null keys, so a produce asking for those is n/a; consuming
uses -J (one JSON object per record).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from compat_tests.clients.base import Adapter, ClientError, Unsupported

# librdkafka's error strings (rd_kafka_err2str) for the broker errors scenarios expect.
KCAT_ERRORS = {"Message size too large": "MESSAGE_TOO_LARGE", "Unknown topic or partition": "UNKNOWN_TOPIC_OR_PARTITION"}
KCAT = shutil.which("kcat") or shutil.which("kafkacat") or "kcat"


class KcatAdapter(Adapter):
    name = "kcat"

    def _run(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run([KCAT, "-b", self.bootstrap, *args], input=input, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            known = next((name for text, name in KCAT_ERRORS.items() if text in result.stderr), "KCAT_FAILED")
            raise ClientError(known, result.stderr[-2000:])
        return result.stdout

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
        out = self._run("-C", "-t", topic, "-p", str(partition), "-o", start, "-c", str(count), "-e", "-J", "-Z")
        records = []
        for line in out.splitlines():
            m = json.loads(line)
            h = m.get("headers") or []
            records.append({"partition": m["partition"], "offset": m["offset"], "key": m["key"], "value": m["payload"],
                            "headers": [[h[i], h[i + 1]] for i in range(0, len(h), 2)], "timestamp": m["ts"],
                            "timestamp_type": {1: "CreateTime", 2: "LogAppendTime"}.get(m["tstype"], str(m["tstype"]))})
        return records
