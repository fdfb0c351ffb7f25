"""Consumer positions: each auto.offset.reset policy (earliest, latest,
none) on an out-of-range offset and on a group with no committed offset,
and a long poll: a fetch parked at the end of the log (fetch.max.wait.ms
10 s) returns a record produced while it waits.

Records that must arrive after the consumer started are produced by a
background thread (the setup client) once a second until the consumer
returns, at most LATE_RECORDS of them; the consumer's deadline is shorter
than its fetch.max.wait.ms, so a broker that answered the parked fetch only
when the wait ran out would fail the long poll."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from compat_tests.clients import ClientError
from compat_tests.scenarios import Context, Scenario

EARLY = 5
LATE_RECORDS = 30
LONG_WAIT_MS = 10_000


@contextmanager
def producing_late(ctx: Context, topic: str, first_delay: float) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        if stop.wait(first_delay):
            return
        for i in range(LATE_RECORDS):
            ctx.setup.produce(topic, [{"key": f"late-{i}", "value": "late", "partition": 0}])
            if stop.wait(1.0):
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _positions(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["offset"], r["key"]] for r in records]


def _error(call: Any) -> Any:
    try:
        return _positions(call())
    except ClientError as exc:
        return exc.name


def auto_offset_reset(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    ctx.setup.produce(topic, [{"key": f"early-{i}", "value": "early", "partition": 0} for i in range(EARLY)])
    early = [[i, f"early-{i}"] for i in range(EARLY)]
    out: dict[str, Any] = {}
    for start, case in ((1000, "out_of_range"), (None, "no_committed_offset")):
        earliest = _error(lambda: ctx.client.consume_from(topic, 0, start, EARLY, reset="earliest"))
        ctx.expect_equal(f"{case}, earliest", earliest, early)
        none = _error(lambda: ctx.client.consume_from(topic, 0, start, 1, reset="none", timeout=5))
        ctx.expect_equal(f"{case}, none", none, "OFFSET_OUT_OF_RANGE" if start is not None else "NO_OFFSET_FOR_PARTITION")
        out[case] = {"earliest": earliest, "none": none}
    # latest: the consumer starts at the end, so it sees only records produced after its reset.
    for start, case in ((1000, "out_of_range"), (None, "no_committed_offset")):
        with producing_late(ctx, topic, first_delay=0.5):
            latest = _positions(ctx.client.consume_from(topic, 0, start, 1, reset="latest", timeout=20))
        ctx.expect_equal(f"{case}, latest: one record", len(latest), 1)
        ctx.expect_equal(f"{case}, latest: a record produced after the reset", latest[0][0] >= EARLY and latest[0][1].startswith("late-"), True)
        out[case]["latest"] = "a later record"
    return out


def long_poll(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    ctx.setup.produce(topic, [{"key": f"early-{i}", "value": "early", "partition": 0} for i in range(EARLY)])
    with producing_late(ctx, topic, first_delay=3.0):
        got = _positions(ctx.client.consume_from(topic, 0, EARLY, 1, max_wait_ms=LONG_WAIT_MS, timeout=LONG_WAIT_MS / 1000 - 2))
    ctx.expect_equal("the record produced while the fetch waited", got, [[EARLY, "late-0"]])
    return {"consumed": got}


SCENARIOS = [
    Scenario("auto-offset-reset", auto_offset_reset, "earliest, latest and none on an out-of-range offset and with no committed offset"),
    Scenario("long-poll", long_poll, "a fetch waiting at the end of the log returns a record that arrives later"),
]
