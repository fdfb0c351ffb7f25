"""Key partitioning agrees across clients: murmur2 (Java's and kafka-python's
default, aiokafka's default, librdkafka's partitioner=murmur2_random) on a
6-partition topic, checked against kafka-python's murmur2 and by consuming."""

from __future__ import annotations

from typing import Any

from kafka.partitioner.default import murmur2

from compat_tests.scenarios import Context, Scenario

PARTITIONS = 6
KEYS = [f"key-{i}" for i in range(30)]
# kafkajs: its default partitioner is murmur2 since 2.0 (its LegacyPartitioner is not);
# idempotent because, when one partition of a request fails (Kafka answers
# NOT_LEADER_OR_FOLLOWER for a moment on a new topic), kafkajs sends the whole request
# again, and only sequence numbers keep the partitions that succeeded from doubling.
CONFIG = {"confluent": {"partitioner": "murmur2_random"}, "kafka-python": {}, "aiokafka": {}, "java": {},
          "kafkajs": {"idempotent": True, "acks": -1}}


def expected_partition(key: str) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def partitioning(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(partitions=PARTITIONS)
    ctx.client.produce(topic, [{"key": k, "value": k} for k in KEYS], config=CONFIG.get(ctx.client.name, {}))
    ends = ctx.setup.offsets(topic, list(range(PARTITIONS)), [])["end"]
    placed: dict[str, int] = {}
    for p in range(PARTITIONS):
        if ends[str(p)]:
            for r in ctx.setup.consume(topic, p, 0, ends[str(p)]):
                placed[r["key"]] = p
    ctx.expect_equal("partition of each key", placed, {k: expected_partition(k) for k in KEYS})
    return {"placed": placed}


SCENARIOS = [Scenario("key-partitioning-murmur2", partitioning, __doc__ or "")]
