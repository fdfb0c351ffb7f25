"""Produce and consume round trip: keys, null keys and values, headers (with a
null header value), explicit CreateTime timestamps, one client-stamped record."""

from __future__ import annotations

import time
from typing import Any

from compat_tests.scenarios import Context, Scenario

T0 = 1_700_000_000_000

RECORDS: list[dict[str, Any]] = [
    {"key": "k0", "value": "v0", "headers": [["h", "1"]], "timestamp": T0, "partition": 0},
    {"key": "k1", "value": None, "headers": [], "timestamp": T0 + 1, "partition": 0},
    {"key": None, "value": "no key", "headers": [["a", "x"], ["a", "y"], ["e", ""]], "timestamp": T0 + 2, "partition": 0},
    {"key": "ü", "value": "ünïcode", "headers": [], "timestamp": T0 + 3, "partition": 0},
    {"key": "now", "value": "client time", "headers": [], "timestamp": None, "partition": 0},
]


def expected_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a consumer must see: the records in order, offsets from 0."""
    return [{"offset": i, "key": r["key"], "value": r["value"], "headers": r["headers"],
             "timestamp": r["timestamp"] if r["timestamp"] is not None else "recent", "timestamp_type": "CreateTime"}
            for i, r in enumerate(records)]


def observed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = time.time() * 1000
    return [{"offset": r["offset"], "key": r["key"], "value": r["value"], "headers": r["headers"],
             "timestamp": "recent" if abs(r["timestamp"] - now) < 600_000 else r["timestamp"], "timestamp_type": r["timestamp_type"]}
            for r in records]


def by_client(ctx: Context, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`expected` as the client under test can see it (some cannot see timestamp types)."""
    return expected if ctx.client.sees_timestamp_type else [{**r, "timestamp_type": None} for r in expected]


def round_trip(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    sent = ctx.client.produce(topic, RECORDS)
    offsets = [s["offset"] for s in sent]
    if offsets[0] is not None:
        ctx.expect_equal("produced offsets", offsets, list(range(len(RECORDS))))
    consumed = observed(ctx.client.consume(topic, 0, 0, len(RECORDS)))
    ctx.expect_equal("consumed by the same client", consumed, by_client(ctx, expected_records(RECORDS)))
    by_peer = observed(ctx.peer.consume(topic, 0, 0, len(RECORDS)))
    ctx.expect_equal(f"consumed by {ctx.peer.name}", by_peer, expected_records(RECORDS))
    return {"produced_offsets": offsets, "consumed": consumed}


NULL_HEADER = [{"key": "k", "value": "v", "headers": [["n", None], ["e", ""]], "timestamp": T0, "partition": 0}]


def null_header_value(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    ctx.client.produce(topic, NULL_HEADER)
    consumed = observed(ctx.client.consume(topic, 0, 0, 1))
    ctx.expect_equal("consumed by the same client", consumed, by_client(ctx, expected_records(NULL_HEADER)))
    by_peer = observed(ctx.peer.consume(topic, 0, 0, 1))
    ctx.expect_equal(f"consumed by {ctx.peer.name}", by_peer, expected_records(NULL_HEADER))
    return {"consumed": consumed}


SCENARIOS = [
    Scenario("produce-consume-round-trip", round_trip, __doc__ or ""),
    Scenario("null-header-value", null_header_value, "a header with a null value and one with an empty value"),
]
