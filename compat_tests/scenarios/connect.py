"""Connect and read cluster metadata: one broker, id 1, on the bootstrap address."""

from __future__ import annotations

from typing import Any

from compat_tests.scenarios import Context, Scenario


def connect_metadata(ctx: Context) -> dict[str, Any]:
    cluster = ctx.client.cluster()
    host, port = ctx.client.bootstrap.rsplit(":", 1)
    ctx.expect_equal("brokers", cluster["brokers"], [[1, host, int(port)]])
    ctx.expect_equal("controller", cluster["controller"] in (1, None, -1), True)
    ctx.expect_equal("cluster id set", bool(cluster["cluster_id"]), True)
    return {"brokers": cluster["brokers"], "cluster_id": cluster["cluster_id"], "controller": cluster["controller"]}


SCENARIOS = [Scenario("connect-metadata", connect_metadata, __doc__ or "")]
