"""Partitions: a topic grown with CreatePartitions then produced to and
consumed from on its new partitions (and a shrink refused with
INVALID_PARTITIONS); a topic of 100 partitions filled through the client's
murmur2 partitioner, each key landing where murmur2 puts it."""

from __future__ import annotations

from typing import Any

from kafka.partitioner.default import murmur2

from compat_tests.scenarios import Context, Scenario
from compat_tests.scenarios.partitioning import CONFIG as PARTITIONER_CONFIG

MANY = 100


def create_partitions(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(partitions=1)
    grown = ctx.client.create_partitions(topic, 3)
    ctx.expect_equal("grow to 3", grown, None)
    shrink = ctx.client.create_partitions(topic, 2)
    ctx.expect_equal("shrink to 2", shrink, "INVALID_PARTITIONS")
    described = [p["partition"] for p in ctx.setup.describe_topics([topic])[topic]["partitions"]]
    ctx.expect_equal("partitions", described, [0, 1, 2])
    for p in (1, 2):  # one produce per partition: kcat -P writes to one partition per run
        ctx.client.produce(topic, [{"key": f"k{p}", "value": f"on new partition {p}", "partition": p}])
    consumed = {p: [[r["offset"], r["key"], r["value"]] for r in ctx.client.consume(topic, p, 0, 1)] for p in (1, 2)}
    ctx.expect_equal("consumed from the new partitions", consumed,
                     {p: [[0, f"k{p}", f"on new partition {p}"]] for p in (1, 2)})
    return {"grow": grown, "shrink": shrink, "partitions": described, "consumed": {str(p): c for p, c in consumed.items()}}


def many_partitions(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(partitions=MANY)
    keys = [f"key-{i}" for i in range(3 * MANY)]
    ctx.client.produce(topic, [{"key": k, "value": k} for k in keys], config=PARTITIONER_CONFIG.get(ctx.client.name, {}))
    expected = {p: [k for k in keys if (murmur2(k.encode()) & 0x7FFFFFFF) % MANY == p] for p in range(MANY)}
    ends = ctx.setup.offsets(topic, list(range(MANY)), [])["end"]
    ctx.expect_equal("records per partition", ends, {str(p): len(expected[p]) for p in range(MANY)})
    sample = [p for p in (0, MANY // 2, MANY - 1) if expected[p]]
    # Sorted: a produce retried after NOT_LEADER_OR_FOLLOWER (Kafka answers so while a new topic's
    # leaders are being elected) may land after later ones (no idempotence, several requests in flight).
    consumed = {str(p): sorted(r["key"] for r in ctx.client.consume(topic, p, 0, len(expected[p]))) for p in sample}
    ctx.expect_equal("keys of sample partitions", consumed, {str(p): sorted(expected[p]) for p in sample})
    return {"ends": ends, "consumed": consumed}


SCENARIOS = [
    Scenario("create-partitions-then-produce", create_partitions, "grow a topic, produce to and consume from the new partitions"),
    Scenario("many-partitions", many_partitions, f"{MANY} partitions filled by the murmur2 partitioner"),
]
