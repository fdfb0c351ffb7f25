"""Producer guarantees: an idempotent producer, and a transactional one committing."""

from __future__ import annotations

from typing import Any

from compat_tests.clients import Unsupported
from compat_tests.scenarios import Context, Scenario

TRANSACTIONAL = {"confluent": "transactional.id", "kafka-python": "transactional_id", "aiokafka": "transactional_id",
                 "java": "transactional.id", "kafkajs": "transactionalId", "franz-go": "transactional_id"}


def idempotent_produce(ctx: Context) -> dict[str, Any]:
    config = ctx.client.idempotent_config()
    topic = ctx.new_topic()
    sent = ctx.client.produce(topic, [{"key": f"k{i}", "value": f"v{i}", "partition": 0} for i in range(5)], config=config)
    offsets = [s["offset"] for s in sent]
    ctx.expect_equal("offsets", offsets, list(range(5)))
    consumed = [[r["offset"], r["key"], r["value"]] for r in ctx.peer.consume(topic, 0, 0, 5, timeout=5)]
    ctx.expect_equal(f"consumed by {ctx.peer.name}", consumed, [[i, f"k{i}", f"v{i}"] for i in range(5)])
    return {"offsets": offsets, "consumed": consumed}


def transactional_produce(ctx: Context) -> dict[str, Any]:
    if ctx.client.name not in TRANSACTIONAL:
        raise Unsupported(f"{ctx.client.name}: no transactional producer")
    topic = ctx.new_topic()
    sent = ctx.client.produce(topic, [{"key": f"k{i}", "value": f"v{i}", "partition": 0} for i in range(3)],
                              config={**ctx.client.idempotent_config(), TRANSACTIONAL[ctx.client.name]: ctx.topic_name("txn")},
                              transactional=True)
    consumed = [[r["offset"], r["key"]] for r in ctx.peer.consume(topic, 0, 0, 3, timeout=5)]
    ctx.expect_equal("committed records (offset 3 is the commit marker)", consumed, [[0, "k0"], [1, "k1"], [2, "k2"]])
    end = ctx.setup.offsets(topic, [0], [])["end"]
    ctx.expect_equal("end offset past the commit marker", end, {"0": 4})
    return {"offsets": [s["offset"] for s in sent], "consumed": consumed, "end": end}


SCENARIOS = [
    Scenario("idempotent-produce", idempotent_produce, "an idempotent producer (InitProducerId, sequence numbers)"),
    Scenario("transactional-produce", transactional_produce, "a transactional producer committing one transaction"),
]
