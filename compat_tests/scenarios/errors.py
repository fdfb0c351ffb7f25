"""Error cases: unknown topic with auto-create off, record too large, invalid topic name.

Targets run with auto.create.topics.enable=false (the runner starts them so).
"""

from __future__ import annotations

from typing import Any

from compat_tests.clients import ClientError, Unsupported
from compat_tests.clients.base import error_name
from compat_tests.scenarios import Context, Scenario


def unknown_topic(ctx: Context) -> dict[str, Any]:
    name = ctx.topic_name("unknown")
    described = ctx.client.describe_topics([name])[name]
    ctx.expect_equal("describe unknown topic", described, {"error": "UNKNOWN_TOPIC_OR_PARTITION"})
    listed = name in ctx.setup.list_topics()
    ctx.expect_equal("not auto-created", listed, False)
    return {"describe": described, "created": listed}


def record_too_large(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(configs={"max.message.bytes": "1000"})
    try:
        ctx.client.produce(topic, [{"key": "big", "value": "x" * 5000, "partition": 0}], config=_no_retries(ctx.client.name))
        error = None
    except ClientError as exc:
        error = exc.name
    ctx.expect_equal("produce error", error, "MESSAGE_TOO_LARGE")
    return {"error": error}


def _no_retries(client: str) -> dict[str, Any]:
    return {"java": {"retries": "0"}, "kafka-python": {"retries": 0}, "confluent": {"retries": 0}}.get(client, {})


def invalid_topic_name(ctx: Context) -> dict[str, Any]:
    out = {}
    for name in ("bad name!", "x" * 250):
        try:
            out[name[:20]] = ctx.client.create_topics([{"name": name, "partitions": 1}])[name]
        except Unsupported:
            raise
        except Exception as exc:  # clients that check the name themselves
            out[name[:20]] = error_name(exc)
        ctx.expect_equal(f"create {name[:20]!r}", out[name[:20]], "INVALID_TOPIC_EXCEPTION")
    return out


SCENARIOS = [
    Scenario("error-unknown-topic-no-auto-create", unknown_topic, unknown_topic.__doc__ or "unknown topic"),
    Scenario("error-record-too-large", record_too_large, "a record over the topic's max.message.bytes"),
    Scenario("error-invalid-topic-name", invalid_topic_name, "a name with bad characters and one over 249 characters"),
]
