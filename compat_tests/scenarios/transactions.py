"""Transactions (issue 7): what read_committed and read_uncommitted consumers see.

A committed transaction, an aborted one, a committed one, on one partition:
read_committed sees the committed records only, read_uncommitted sees both
(never the commit/abort markers, which take an offset each). Then
consume-transform-produce: an aborted transaction leaves neither output nor
committed offsets, a committed one both (TxnOffsetCommit).
"""

from __future__ import annotations

from typing import Any

from compat_tests.scenarios import Context, Scenario

def _keys(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["offset"], r["key"]] for r in records]


def committed_and_aborted(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    txn = ctx.topic_name("txn")
    ctx.client.produce_transaction(topic, [{"key": f"c{i}", "value": "v", "partition": 0} for i in range(3)],
                                   transactional_id=txn, commit=True)
    ctx.client.produce_transaction(topic, [{"key": f"a{i}", "value": "v", "partition": 0} for i in range(2)],
                                   transactional_id=txn, commit=False)
    ctx.client.produce_transaction(topic, [{"key": "c3", "value": "v", "partition": 0}], transactional_id=txn, commit=True)
    # Offsets: c0-c2 0-2, commit marker 3, a0-a1 4-5, abort marker 6, c3 7, commit marker 8.
    committed = _keys(ctx.client.consume_isolated(topic, 0, 0, 4, isolation="read_committed", timeout=5))
    ctx.expect_equal("read_committed", committed, [[0, "c0"], [1, "c1"], [2, "c2"], [7, "c3"]])
    everything = _keys(ctx.client.consume_isolated(topic, 0, 0, 6, isolation="read_uncommitted", timeout=5))
    ctx.expect_equal("read_uncommitted", everything, [[0, "c0"], [1, "c1"], [2, "c2"], [4, "a0"], [5, "a1"], [7, "c3"]])
    end = ctx.setup.offsets(topic, [0], [])["end"]
    ctx.expect_equal("end offset (after the last marker)", end, {"0": 9})
    return {"read_committed": committed, "read_uncommitted": everything, "end": end}


def consume_transform_produce(ctx: Context) -> dict[str, Any]:
    source, target = ctx.new_topic(tag="in"), ctx.new_topic(tag="out")
    group, txn = ctx.topic_name("group"), ctx.topic_name("txn")
    ctx.setup.produce(source, [{"key": f"k{i}", "value": f"v{i}", "partition": 0} for i in range(4)])
    aborted = ctx.client.transform(source, target, group, 4, transactional_id=txn, commit=False)
    ctx.expect_equal("aborted: records taken", [len(aborted["records"]), aborted["committed"]], [4, False])
    ctx.expect_equal("aborted: no output", ctx.client.consume_isolated(target, 0, 0, 1, isolation="read_committed", timeout=3), [])
    done = ctx.client.transform(source, target, group, 4, transactional_id=txn, commit=True)
    ctx.expect_equal("committed: the same records again", [[r["offset"], r["value"]] for r in done["records"]],
                     [[i, f"v{i}"] for i in range(4)])
    ctx.expect_equal("committed", done["committed"], True)
    output = [r["value"] for r in ctx.client.consume_isolated(target, 0, 0, 4, isolation="read_committed", timeout=5)]
    ctx.expect_equal("output", output, [f"v{i}" for i in range(4)])
    offsets = ctx.client.group_offsets(group, source)["committed"]
    ctx.expect_equal("the group's offsets, committed with the transaction", offsets, {"0": 4})
    return {"output": output, "group_offsets": offsets}


SCENARIOS = [
    Scenario("transactions-commit-abort-isolation", committed_and_aborted, "read_committed sees committed records only"),
    Scenario("transactions-consume-transform-produce", consume_transform_produce,
             "input offsets commit with the output's transaction (TxnOffsetCommit), not with an aborted one"),
]
