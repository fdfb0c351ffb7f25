"""Idempotence and transactions (issue 7).

A committed transaction, an aborted one, a committed one, on one partition:
read_committed sees the committed records only, read_uncommitted sees both
(never the commit/abort markers, which take an offset each). Then
consume-transform-produce: an aborted transaction leaves neither output nor
committed offsets, a committed one both (TxnOffsetCommit).

Exactly once under failures: an idempotent producer whose Produce answer is
lost after the broker appended (compat_tests.lossy_proxy) sends the batch
again and the log still holds each record once; a second producer with the
same transactional id fences the first, whose open transaction is aborted and
whose later send and commit fail; a consume-transform-produce worker
SIGKILLed before its commit is replaced by one with the same transactional id,
and every input appears exactly once in the committed output.
"""

from __future__ import annotations

from typing import Any

from compat_tests import clients
from compat_tests.lossy_proxy import LossyProxy
from compat_tests.scenarios import Context, Scenario

# What a fenced producer's send or commit may fail with, by the name each client reports.
FENCING_ERRORS = {"PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"}

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
    offsets = clients.make("confluent", ctx.client.bootstrap).group_offsets(group, source)["committed"]
    ctx.expect_equal("the group's offsets, committed with the transaction", offsets, {"0": 4})
    return {"output": output, "group_offsets": offsets}


def idempotent_retries(ctx: Context) -> dict[str, Any]:
    topic = ctx.new_topic()
    config = ctx.client.idempotent_config()
    records = [{"key": f"k{i}", "value": f"v{i}", "partition": 0} for i in range(6)]
    with LossyProxy(ctx.client.bootstrap, lose_produce_responses=1) as proxy:
        producer = clients.make(ctx.client.name, proxy.bootstrap)
        try:
            sent = producer.produce(topic, records, config=config)
        finally:
            producer.close()
        retried = [proxy.lost, proxy.produce_requests > proxy.lost]
    ctx.expect_equal("a Produce answer lost, the batch sent again", retried, [1, True])
    reported = [s["offset"] for s in sent]
    ctx.expect_equal("offsets the producer reports", reported, list(range(6)))
    end = ctx.setup.offsets(topic, [0], [])["end"]
    ctx.expect_equal("end offset: each record once", end, {"0": 6})
    log = [[r["offset"], r["key"], r["value"]] for r in ctx.setup.consume(topic, 0, 0, 6, timeout=5)]
    ctx.expect_equal("the log", log, [[i, f"k{i}", f"v{i}"] for i in range(6)])
    return {"reported": reported, "end": end, "log": log}


def zombie_fenced(ctx: Context) -> dict[str, Any]:
    topic, txn = ctx.new_topic(), ctx.topic_name("txn")

    def records(tag: str, n: int) -> list[dict[str, Any]]:
        return [{"key": f"{tag}{i}", "value": tag, "partition": 0} for i in range(n)]

    errors = ctx.client.fenced_transaction(topic, records("a", 2), records("b", 2), records("z", 1), transactional_id=txn)
    ctx.expect_equal("the zombie's commit fails", errors["commit"] is not None, True)
    ctx.expect_equal("its late send or its commit fails with a fencing error",
                     errors["send"] in FENCING_ERRORS or errors["commit"] in FENCING_ERRORS, True)
    # Offsets: a0-a1 0-1, abort marker 2 (b's InitProducerId aborts a's transaction), b0-b1 3-4, commit marker 5.
    committed = _keys(ctx.client.consume_isolated(topic, 0, 0, 2, isolation="read_committed", timeout=5))
    ctx.expect_equal("read_committed: the new producer's records only", committed, [[3, "b0"], [4, "b1"]])
    everything = _keys(ctx.client.consume_isolated(topic, 0, 0, 4, isolation="read_uncommitted", timeout=5))
    ctx.expect_equal("read_uncommitted: the zombie's aborted records too, not its late one", everything,
                     [[0, "a0"], [1, "a1"], [3, "b0"], [4, "b1"]])
    end = ctx.setup.offsets(topic, [0], [])["end"]
    ctx.expect_equal("end offset (after b's commit marker)", end, {"0": 6})
    return {"errors": errors, "read_committed": committed, "read_uncommitted": everything, "end": end}


def transform_crash(ctx: Context) -> dict[str, Any]:
    source, target = ctx.new_topic(tag="in"), ctx.new_topic(tag="out")
    group, txn = ctx.topic_name("group"), ctx.topic_name("txn")
    ctx.setup.produce(source, [{"key": f"k{i}", "value": f"v{i}", "partition": 0} for i in range(6)])
    steps = {"first, committed": ctx.client.transform_process(source, target, group, 2, transactional_id=txn, crash=False),
             "second, killed before its commit": ctx.client.transform_process(source, target, group, 2, transactional_id=txn,
                                                                              crash=True),
             "third, the successor": ctx.client.transform_process(source, target, group, 4, transactional_id=txn, crash=False)}
    taken = {step: [r["value"] for r in result["records"]] for step, result in steps.items()}
    ctx.expect_equal("what each worker took", taken, {"first, committed": ["v0", "v1"], "second, killed before its commit": ["v2", "v3"],
                                                      "third, the successor": ["v2", "v3", "v4", "v5"]})
    # Output offsets: v0-v1 0-1, commit 2; the killed worker's v2-v3 3-4, aborted by the successor's
    # InitProducerId (marker 5); the successor's v2-v5 6-9, commit 10.
    output = [[r["offset"], r["value"]] for r in ctx.client.consume_isolated(target, 0, 0, 6, isolation="read_committed", timeout=5)]
    ctx.expect_equal("read_committed output: every input exactly once", output,
                     [[0, "v0"], [1, "v1"], [6, "v2"], [7, "v3"], [8, "v4"], [9, "v5"]])
    offsets = clients.make("confluent", ctx.client.bootstrap).group_offsets(group, source)["committed"]
    ctx.expect_equal("the group's committed offset", offsets, {"0": 6})
    return {"taken": taken, "output": output, "group_offsets": offsets}


SCENARIOS = [
    Scenario("idempotent-produce-retries", idempotent_retries,
             "an idempotent producer's batch, sent again after its Produce answer was lost, is in the log once"),
    Scenario("transactions-zombie-fenced", zombie_fenced,
             "a second producer with the same transactional id fences the first; none of the first's records commit"),
    Scenario("transactions-transform-crash", transform_crash,
             "consume-transform-produce across a SIGKILLed worker: every input exactly once in the committed output"),
    Scenario("transactions-commit-abort-isolation", committed_and_aborted, "read_committed sees committed records only"),
    Scenario("transactions-consume-transform-produce", consume_transform_produce,
             "input offsets commit with the output's transaction (TxnOffsetCommit), not with an aborted one"),
]
