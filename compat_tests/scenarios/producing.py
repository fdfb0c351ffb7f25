"""Producer settings: acks 0, 1 and all (every record written once, in
order; what each client reports for an acks=0 send, which has no answer),
and large records: a 1 MiB record on a topic whose max.message.bytes is
raised (consumed back whole by the client and its peer), then a record
over that limit refused by the broker with MESSAGE_TOO_LARGE."""

from __future__ import annotations

from typing import Any

from compat_tests.clients import ClientError
from compat_tests.scenarios import Context, Scenario

MIB = 1024 * 1024
TOPIC_LIMIT = 3 * MIB
PRODUCER_LIMIT = 8 * MIB  # the client's own limit, above the topic's, so the broker is the one to refuse


def acks(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    reported: dict[str, list[Any]] = {}
    for setting in ("0", "1", "all"):
        records = [{"key": f"acks-{setting}-{i}", "value": f"v{i}", "partition": 0} for i in range(5)]
        sent = ctx.client.produce(topic, records, config=ctx.client.producer_config(acks=setting))
        reported[setting] = [s["offset"] for s in sent]
    consumed = [[r["offset"], r["key"]] for r in ctx.client.consume(topic, 0, 0, 15)]
    ctx.expect_equal("consumed", consumed, [[i, f"acks-{s}-{i % 5}"] for i, s in enumerate(["0"] * 5 + ["1"] * 5 + ["all"] * 5)])
    for setting, first in (("1", 5), ("all", 10)):
        if reported[setting][0] is not None:  # kcat -P reports no offsets
            ctx.expect_equal(f"offsets reported with acks={setting}", reported[setting], list(range(first, first + 5)))
    return {"reported_offsets": reported, "consumed": consumed}


def large_records(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(configs={"max.message.bytes": str(TOPIC_LIMIT)})
    config = ctx.client.producer_config(max_request_bytes=PRODUCER_LIMIT, retries=0)
    records = [{"key": "big", "value": "x" * MIB, "partition": 0}, {"key": "small", "value": "y", "partition": 0}]
    ctx.client.produce(topic, records, config=config)
    expected = [[0, "big", MIB], [1, "small", 1]]
    by_client = [[r["offset"], r["key"], len(r["value"])] for r in ctx.client.consume(topic, 0, 0, 2, timeout=20)]
    ctx.expect_equal("consumed by the same client", by_client, expected)
    by_peer = [[r["offset"], r["key"], len(r["value"])] for r in ctx.peer.consume(topic, 0, 0, 2, timeout=20)]
    ctx.expect_equal(f"consumed by {ctx.peer.name}", by_peer, expected)
    try:
        ctx.client.produce(topic, [{"key": "over", "value": "z" * (TOPIC_LIMIT + 1), "partition": 0}], config=config)
        over = None
    except ClientError as exc:
        over = exc.name
    ctx.expect_equal("a record over max.message.bytes", over, "MESSAGE_TOO_LARGE")
    end = ctx.setup.offsets(topic, [0], [])["end"]
    ctx.expect_equal("nothing written by the refused produce", end, {"0": 2})
    return {"consumed": by_client, "over_limit": over, "end": end}


SCENARIOS = [
    Scenario("acks-0-1-all", acks, "five records with each of acks=0, 1 and all"),
    Scenario("large-records", large_records, "a 1 MiB record with max.message.bytes raised; one over the limit"),
]
