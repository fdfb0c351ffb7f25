"""A LogAppendTime topic (message.timestamp.type=LogAppendTime): records
produced with an old CreateTime come back with the broker's append time and
timestamp type LogAppendTime, to the client and its peer; a producer that
reports timestamps reports that append time (Kafka's produce answer carries
log_append_time). The topic's config is described back."""

from __future__ import annotations

import time
from typing import Any

from compat_tests.scenarios import Context, Scenario

T0 = 1_700_000_000_000
RECENT_MS = 600_000


def _seen(records: list[dict[str, Any]], now: float) -> list[list[Any]]:
    return [[r["offset"], r["key"], r["timestamp_type"], "append time" if abs(r["timestamp"] - now) < RECENT_MS else r["timestamp"]]
            for r in records]


def log_append_time(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(configs={"message.timestamp.type": "LogAppendTime"})
    described = ctx.setup.describe_configs(topic)["message.timestamp.type"]
    ctx.expect_equal("described", [described["value"], described["source"]], ["LogAppendTime", "DYNAMIC_TOPIC_CONFIG"])
    # The setup client stamps an old CreateTime, which the broker replaces; the client under
    # test produces with its own clock (kcat -P cannot set timestamps).
    ctx.setup.produce(topic, [{"key": f"old-{i}", "value": "v", "timestamp": T0 + i, "partition": 0} for i in range(3)])
    sent = ctx.client.produce(topic, [{"key": f"own-{i}", "value": "v", "partition": 0} for i in range(3)])
    now = time.time() * 1000
    expected = [[i, k, "LogAppendTime", "append time"] for i, k in enumerate(["old-0", "old-1", "old-2", "own-0", "own-1", "own-2"])]
    consumed = ctx.client.consume(topic, 0, 0, 6)
    # A client whose records carry no timestamp type sees None there (kafkajs).
    by_client = expected if ctx.client.sees_timestamp_type else [[o, k, None, t] for o, k, _, t in expected]
    ctx.expect_equal("consumed by the same client", _seen(consumed, now), by_client)
    ctx.expect_equal(f"consumed by {ctx.peer.name}", _seen(ctx.peer.consume(topic, 0, 0, 6), now), expected)
    reported = [s["timestamp"] for s in sent]
    if reported[0] is not None:  # kcat -P reports nothing
        ctx.expect_equal("timestamps the producer reported", reported, [r["timestamp"] for r in consumed[3:]])
    return {"config": described["value"], "consumed": _seen(consumed, now),
            "producer_reports_append_time": None if reported[0] is None else reported == [r["timestamp"] for r in consumed[3:]]}


SCENARIOS = [Scenario("log-append-time", log_append_time, "timestamps of a LogAppendTime topic, as consumed and as reported")]
