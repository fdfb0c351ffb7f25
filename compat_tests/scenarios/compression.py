"""Each compression codec produced by one client and consumed by another,
both ways (the client under test producing, then consuming the peer's)."""

from __future__ import annotations

from typing import Any

from compat_tests.scenarios import Context, Scenario

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def records(codec: str) -> list[dict[str, Any]]:
    return [{"key": f"{codec}-{i}", "value": f"{codec} value {i} " + "x" * 200, "partition": 0} for i in range(20)]


def _keys_values(consumed: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["offset"], r["key"], r["value"]] for r in consumed]


def compression(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for codec in CODECS:
        expected = [[i, r["key"], r["value"]] for i, r in enumerate(records(codec))]
        topic = ctx.new_topic(tag=codec)
        ctx.client.produce(topic, records(codec), compression=codec)
        by_peer = _keys_values(ctx.peer.consume(topic, 0, 0, 20))
        ctx.expect_equal(f"{codec} produced by {ctx.client.name}, consumed by {ctx.peer.name}", by_peer, expected)
        topic = ctx.new_topic(tag=codec + "-peer")
        ctx.peer.produce(topic, records(codec), compression=codec)
        by_client = _keys_values(ctx.client.consume(topic, 0, 0, 20))
        ctx.expect_equal(f"{codec} produced by {ctx.peer.name}, consumed by {ctx.client.name}", by_client, expected)
        out[codec] = {"peer_consumed": len(by_peer), "client_consumed": len(by_client)}
    return out


SCENARIOS = [Scenario("compression-cross-client", compression, __doc__ or "")]
