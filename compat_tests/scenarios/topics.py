"""Topic create / describe / delete through the client's admin API."""

from __future__ import annotations

import time
from typing import Any

from compat_tests.scenarios import Context, Scenario


def topic_lifecycle(ctx: Context) -> dict[str, Any]:
    name = ctx.topic_name()
    created = ctx.client.create_topics([{"name": name, "partitions": 3, "configs": {"retention.ms": "123456"}}])
    ctx.expect_equal("create", created, {name: None})
    again = ctx.client.create_topics([{"name": name, "partitions": 3}])
    ctx.expect_equal("create again", again, {name: "TOPIC_ALREADY_EXISTS"})
    described = ctx.client.describe_topics([name])[name]
    ctx.expect_equal("partitions", described["partitions"],
                     [{"partition": p, "leader": 1, "replicas": [1], "isr": [1]} for p in range(3)])
    listed = name in ctx.client.list_topics()
    ctx.expect_equal("listed", listed, True)
    deleted = ctx.client.delete_topics([name])
    ctx.expect_equal("delete", deleted, {name: None})
    deadline = time.monotonic() + 10
    while name in ctx.client.list_topics() and time.monotonic() < deadline:
        time.sleep(0.2)
    gone = name not in ctx.client.list_topics()
    ctx.expect_equal("gone after delete", gone, True)
    return {"create": "ok", "create_again": again[name], "partitions": described["partitions"], "listed": listed,
            "delete": deleted[name], "gone": gone}


SCENARIOS = [Scenario("topic-create-describe-delete", topic_lifecycle, __doc__ or "")]
