"""Compare two targets' observable results field by field.

`normalise` replaces what legitimately differs between two brokers: cluster
ids, topic ids, ports of the bootstrap address, and timestamps the broker
assigned (LogAppendTime); `differences` lists (path, kwire value, kafka
value) for the rest.
"""

from __future__ import annotations

from typing import Any

VOLATILE_KEYS = {"cluster_id": "<cluster-id>", "id": "<topic-id>"}


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE_KEYS and isinstance(item, str):
                out[key] = VOLATILE_KEYS[key]
            elif key == "brokers" and isinstance(item, list):
                out[key] = [[b[0], b[1], "<port>"] for b in item]
            else:
                out[key] = normalise(item)
        if out.get("timestamp_type") == "LogAppendTime":
            out["timestamp"] = "<log-append-time>"
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def differences(left: Any, right: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(left, dict) and isinstance(right, dict):
        out = []
        for key in sorted(set(left) | set(right), key=str):
            out += differences(left.get(key, "<missing>"), right.get(key, "<missing>"), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        out = []
        for i, (a, b) in enumerate(zip(left, right)):
            out += differences(a, b, f"{path}[{i}]")
        return out
    return [] if left == right else [(path or "<result>", left, right)]
