"""Offsets: earliest, latest and by timestamp (ListOffsets), and consuming from latest."""

from __future__ import annotations

from typing import Any

from compat_tests.scenarios import Context, Scenario

T0 = 1_700_000_000_000


def offsets(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic(partitions=2)
    ctx.setup.produce(topic, [{"key": f"k{i}", "value": f"v{i}", "timestamp": T0 + 1000 * i, "partition": 0} for i in range(5)])
    times = [T0 - 1, T0 + 1500, T0 + 4000, T0 + 10_000]
    found = ctx.client.offsets(topic, [0, 1], times)
    ctx.expect_equal("earliest", found["beginning"], {"0": 0, "1": 0})
    ctx.expect_equal("latest", found["end"], {"0": 5, "1": 0})
    by_time = {t: {p: None if v is None else v[0] for p, v in found["for_times"][str(t)].items()} for t in times}
    ctx.expect_equal("by timestamp", by_time, {
        T0 - 1: {"0": 0, "1": None}, T0 + 1500: {"0": 2, "1": None}, T0 + 4000: {"0": 4, "1": None}, T0 + 10_000: {"0": None, "1": None}})
    stamps = {t: found["for_times"][str(t)]["0"] for t in times}
    for t, value in stamps.items():
        if value is not None and value[1] is not None:
            ctx.expect_equal(f"timestamp found for {t}", value[1], T0 + 1000 * value[0])
    return {"beginning": found["beginning"], "end": found["end"], "for_times": found["for_times"]}


SCENARIOS = [Scenario("offsets-earliest-latest-by-timestamp", offsets, __doc__ or "")]
