"""Topic configs altered through the client's admin API and described back:
IncrementalAlterConfigs (SET and DELETE) and the legacy AlterConfigs, which
replaces the topic's whole set of overrides (what was not sent goes back to
its default), and a bad value refused with INVALID_CONFIG."""

from __future__ import annotations

from typing import Any

from compat_tests.clients import ClientError
from compat_tests.scenarios import Context, Scenario

NAMES = ("retention.ms", "max.message.bytes", "cleanup.policy")


def _described(ctx: Context, topic: str) -> dict[str, Any]:
    found = ctx.client.describe_configs(topic)
    return {name: [found[name]["value"], found[name]["source"]] for name in NAMES}


def _error(call: Any) -> str | None:
    try:
        call()
        return None
    except ClientError as exc:
        return exc.name


def incremental(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(configs={"cleanup.policy": "compact"})
    ctx.client.alter_configs(topic, {"retention.ms": "123456", "max.message.bytes": "2000"})
    after_set = _described(ctx, topic)
    ctx.expect_equal("after SET", after_set, {"retention.ms": ["123456", "DYNAMIC_TOPIC_CONFIG"],
                                              "max.message.bytes": ["2000", "DYNAMIC_TOPIC_CONFIG"],
                                              "cleanup.policy": ["compact", "DYNAMIC_TOPIC_CONFIG"]})
    ctx.client.alter_configs(topic, {}, ["retention.ms", "cleanup.policy"])
    after_delete = _described(ctx, topic)
    ctx.expect_equal("after DELETE", after_delete, {"retention.ms": ["604800000", "DEFAULT_CONFIG"],
                                                    "max.message.bytes": ["2000", "DYNAMIC_TOPIC_CONFIG"],
                                                    "cleanup.policy": ["delete", "DEFAULT_CONFIG"]})
    bad = _error(lambda: ctx.client.alter_configs(topic, {"retention.ms": "soon"}))
    ctx.expect_equal("a bad value", bad, "INVALID_CONFIG")
    return {"after_set": after_set, "after_delete": after_delete, "bad_value": bad}


def legacy(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(configs={"retention.ms": "123456", "max.message.bytes": "2000"})
    ctx.client.alter_configs(topic, {"cleanup.policy": "compact", "max.message.bytes": "3000"}, incremental=False)
    replaced = _described(ctx, topic)
    ctx.expect_equal("after AlterConfigs", replaced, {"retention.ms": ["604800000", "DEFAULT_CONFIG"],
                                                      "max.message.bytes": ["3000", "DYNAMIC_TOPIC_CONFIG"],
                                                      "cleanup.policy": ["compact", "DYNAMIC_TOPIC_CONFIG"]})
    bad = _error(lambda: ctx.client.alter_configs(topic, {"retention.ms": "soon"}, incremental=False))
    ctx.expect_equal("a bad value", bad, "INVALID_CONFIG")
    ctx.expect_equal("unchanged after the refused change", _described(ctx, topic), replaced)
    return {"replaced": replaced, "bad_value": bad}


SCENARIOS = [
    Scenario("alter-configs-incremental", incremental, "IncrementalAlterConfigs SET and DELETE, described back; a bad value"),
    Scenario("alter-configs-legacy", legacy, "legacy AlterConfigs replaces every override, described back; a bad value"),
]
