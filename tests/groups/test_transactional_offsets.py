"""Transactional offset commits (TxnOffsetCommit) in the coordinator: pending
until the transaction's marker, then committed or dropped; Kafka's ordering
against plain commits; replay from __consumer_offsets; retention and deletion.

Markers are what the transaction coordinator reports after writing them
(`complete_transaction`), and `MemoryLog.marker` puts them in the log, so a
fresh coordinator replaying the log must reach the same state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kwire_protocol.error_codes import ErrorCode

from kwire.groups import records as rec
from kwire.groups.coordinator import OffsetCommit
from kwire.groups.state import COMPLETING_REBALANCE, EMPTY

from tests.groups import test_consumer_coordinator as consumer_tests
from tests.groups.test_coordinator import PARTITIONS, Harness, run

PRODUCER = 4000
EPOCH = 3


def commit(offset: int, partition: int = 0, metadata: str = "") -> list[OffsetCommit]:
    return [OffsetCommit("t", partition, offset, -1, metadata)]


async def txn_commit(h: Any, offsets: list[OffsetCommit], *, group: str = "g", producer: int = PRODUCER,
                     generation: int = -1, member: str = "", instance: str | None = None) -> tuple[int, list[int]]:
    return await h.coordinator.commit_transactional_offsets(group, producer, EPOCH, generation, member, instance, offsets)


def end(h: Any, commit: bool, *, group: str = "g", producer: int = PRODUCER) -> None:
    """The transaction coordinator writes the marker, then tells the group coordinator."""
    partition = h.coordinator.partition_for(group)
    h.log.marker(partition, producer, commit)
    h.coordinator.complete_transaction(partition, producer, commit)


def committed(h: Any, group: str = "g", partition: int = 0) -> int | None:
    error, rows = h.coordinator.fetch_offsets(group, [("t", partition)])
    assert error == ErrorCode.NONE
    value = rows[0][2]
    return None if value is None else value.offset


def reloaded(h: Harness) -> Harness:
    fresh = Harness()
    fresh.log = h.log
    fresh.coordinator.log = h.log
    for p in range(PARTITIONS):
        fresh.coordinator.begin_loading(p)
        fresh.coordinator.load_partition(p, h.log.records.get(p, []))
    return fresh


def test_pending_until_commit_marker() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        assert await txn_commit(h, commit(5, metadata="m") + commit(7, partition=1)) == (0, [0, 0])
        # The batch is transactional, of the producer.
        entries = h.log.records[c.partition_for("g")]
        assert [(e.producer_id, rec.decode(e.key, e.value).value.offset) for e in entries] == [(PRODUCER, 5), (PRODUCER, 7)]
        assert committed(h) is None and committed(h, partition=1) is None
        assert c.unstable_partitions("g") == {("t", 0), ("t", 1)}
        assert c.groups["g"].state == EMPTY, "the simple group exists from the first commit, as in Kafka"
        end(h, commit=True)
        assert (committed(h), committed(h, partition=1)) == (5, 7)
        assert c.fetch_offsets("g", [("t", 0)])[1][0][2].metadata == "m"
        assert c.unstable_partitions("g") == set()

    run(body())


def test_abort_drops_pending_offsets_and_keeps_the_committed_one() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        assert await c.commit_offsets("g", -1, "", None, -1, commit(3), 9) == (0, [0])
        await txn_commit(h, commit(10))
        assert committed(h) == 3 and c.unstable_partitions("g") == {("t", 0)}
        end(h, commit=False)
        assert committed(h) == 3 and c.unstable_partitions("g") == set()
        # A marker with nothing pending (the producer's transaction touched no offsets here) changes nothing.
        end(h, commit=True)
        assert committed(h) == 3

    run(body())


def test_a_plain_commit_written_after_the_transactional_one_wins() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        await c.commit_offsets("g", -1, "", None, -1, commit(1, partition=0) + commit(1, partition=1), 9)
        await txn_commit(h, commit(10, partition=0) + commit(10, partition=1))
        # Partition 1 is committed again after the transactional record, before the marker.
        await c.commit_offsets("g", -1, "", None, -1, commit(20, partition=1), 9)
        assert (committed(h, partition=0), committed(h, partition=1)) == (1, 20)
        end(h, commit=True)
        # Kafka's rule: the later record counts (partition 0: the transaction's; 1: the plain commit).
        assert (committed(h, partition=0), committed(h, partition=1)) == (10, 20)
        again = reloaded(h)
        assert (committed(again, partition=0), committed(again, partition=1)) == (10, 20)

    run(body())


def test_markers_end_only_their_producer_and_partition() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        other_group = next(g for g in (f"g{i}" for i in range(100)) if c.partition_for(g) != c.partition_for("g"))
        await txn_commit(h, commit(5))
        await txn_commit(h, commit(6), group=other_group)
        await txn_commit(h, commit(7, partition=1), producer=PRODUCER + 1)
        end(h, commit=True)
        assert committed(h) == 5 and committed(h, partition=1) is None, "the other producer's offset still waits"
        assert committed(h, other_group) is None and c.unstable_partitions(other_group) == {("t", 0)}
        end(h, commit=True, group=other_group)
        assert committed(h, other_group) == 6
        end(h, commit=False, producer=PRODUCER + 1)
        assert committed(h, partition=1) is None and c.unstable_partitions("g") == set()

    run(body())


def test_pending_offsets_survive_a_reload_and_complete_after_it() -> None:
    async def body() -> None:
        h = Harness()
        await h.coordinator.commit_offsets("g", -1, "", None, -1, commit(2), 9)
        await txn_commit(h, commit(5))
        await txn_commit(h, commit(8, partition=1), producer=PRODUCER + 1)
        end(h, commit=False, producer=PRODUCER + 1)
        fresh = reloaded(h)
        assert committed(fresh) == 2 and committed(fresh, partition=1) is None
        assert fresh.coordinator.unstable_partitions("g") == {("t", 0)}
        end(fresh, commit=True)
        assert committed(fresh) == 5
        # The marker is in the log too: a second reload agrees.
        assert committed(reloaded(fresh)) == 5 and reloaded(fresh).coordinator.unstable_partitions("g") == set()

    run(body())


def test_a_marker_reported_while_the_partition_loads_applies_after_the_replay() -> None:
    async def body() -> None:
        h = Harness()
        await txn_commit(h, commit(5))
        partition = h.coordinator.partition_for("g")
        snapshot = list(h.log.records[partition])  # what the loader read, before the marker
        fresh = Harness()
        fresh.coordinator.begin_loading(partition)
        fresh.coordinator.complete_transaction(partition, PRODUCER, True)
        assert committed(h) is None
        fresh.coordinator.load_partition(partition, snapshot)
        assert committed(fresh) == 5 and fresh.coordinator.unstable_partitions("g") == set()
        # A marker for a partition this coordinator does not own is not its business.
        fresh.coordinator.partitions.pop(partition)
        fresh.coordinator.complete_transaction(partition, PRODUCER, False)
        assert fresh.coordinator.groups["g"].offsets[("t", 0)].offset == 5

    run(body())


def test_classic_group_checks() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        assert (await txn_commit(h, commit(1), generation=1, member="m"))[0] == ErrorCode.ILLEGAL_GENERATION, "unknown group with a generation"
        leader, follower = await h.stable_group(2)
        assert (await txn_commit(h, commit(1), generation=2, member=leader))[0] == ErrorCode.ILLEGAL_GENERATION
        assert (await txn_commit(h, commit(1), generation=1, member="nobody"))[0] == ErrorCode.UNKNOWN_MEMBER_ID
        assert (await txn_commit(h, commit(1), generation=1, member=leader, instance="i"))[0] == ErrorCode.UNKNOWN_MEMBER_ID
        assert await txn_commit(h, commit(1), generation=1, member=follower) == (0, [0])
        # Without member and generation (TxnOffsetCommit v0-2) a group with members accepts it too.
        assert await txn_commit(h, commit(2, partition=1)) == (0, [0])
        too_large = commit(3, partition=2, metadata="x" * 5000)
        assert await txn_commit(h, commit(3) + too_large, generation=1, member=leader) == (0, [0, ErrorCode.OFFSET_METADATA_TOO_LARGE])
        # A rebalance in progress does not hold a transactional commit back.
        joiner = await h.join(group="g")
        task = h.join(joiner.member_id)
        rejoins = [h.join(m) for m in (leader, follower)]
        await h.advance(0)
        results = [await t for t in [task, *rejoins]]
        assert c.groups["g"].state == COMPLETING_REBALANCE
        assert await txn_commit(h, commit(4), generation=results[0].generation_id, member=leader) == (0, [0])
        assert c.unstable_partitions("g") == {("t", 0), ("t", 1)}
        for p in range(PARTITIONS):
            c.partitions[p] = False
        assert (await txn_commit(h, commit(1)))[0] == ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        c.partitions.clear()
        assert (await txn_commit(h, commit(1)))[0] == ErrorCode.NOT_COORDINATOR
        assert (await txn_commit(h, commit(1), group=""))[0] == ErrorCode.INVALID_GROUP_ID

    run(body())


def test_static_member_fenced() -> None:
    async def body() -> None:
        h = Harness()
        task = h.join(instance="i")
        await h.advance(0)
        joined = await task
        assert joined.error == 0
        assert (await txn_commit(h, commit(1), generation=joined.generation_id, member="other", instance="i"))[0] == ErrorCode.FENCED_INSTANCE_ID

    run(body())


def test_failed_append_leaves_nothing_pending() -> None:
    async def body() -> None:
        h = Harness()
        h.log.fail_with = ErrorCode.NOT_LEADER_OR_FOLLOWER
        assert await txn_commit(h, commit(1)) == (0, [ErrorCode.NOT_COORDINATOR])
        assert h.coordinator.unstable_partitions("g") == set() and "g" not in h.coordinator.groups

    run(body())


def test_consumer_group_checks() -> None:
    async def scenario() -> None:
        h = consumer_tests.Harness()
        c = h.coordinator
        a = await h.hb("a", 0)
        t = consumer_tests.T
        offsets = [OffsetCommit("t", 0, 5, -1, "", t)]
        assert (await c.commit_transactional_offsets("g", PRODUCER, EPOCH, a.member_epoch, "b", None, offsets))[0] == ErrorCode.UNKNOWN_MEMBER_ID
        assert (await c.commit_transactional_offsets("g", PRODUCER, EPOCH, a.member_epoch + 1, "a", None, offsets))[0] == ErrorCode.ILLEGAL_GENERATION
        assert (await c.commit_transactional_offsets("g", PRODUCER, EPOCH, -1, "", None, offsets))[0] == ErrorCode.UNKNOWN_MEMBER_ID
        assert await c.commit_transactional_offsets("g", PRODUCER, EPOCH, a.member_epoch, "a", None, offsets) == (0, [0])
        assert c.fetch_offsets("g", [("t", 0)])[1][0][2] is None and c.unstable_partitions("g") == {("t", 0)}
        partition = c.partition_for("g")
        h.log.marker(partition, PRODUCER, True)
        c.complete_transaction(partition, PRODUCER, True)
        assert c.fetch_offsets("g", [("t", 0)])[1][0][2].offset == 5
        assert h.group().offsets[("t", 0)].offset == 5

    consumer_tests.run(scenario())


def test_retention_keeps_pending_offsets_and_their_group() -> None:
    async def body() -> None:
        h = Harness(offsets_retention_ms=1000)
        c = h.coordinator
        await c.commit_offsets("g", -1, "", None, -1, commit(1) + commit(1, partition=1), 9)
        await txn_commit(h, commit(9))
        await h.advance(1000)
        assert await c.expire_offsets() == 1, "partition 1 expires; partition 0 waits for its transaction"
        assert c.groups["g"].offsets.keys() == {("t", 0)}
        end(h, commit=False)
        assert await c.expire_offsets() == 1
        await txn_commit(h, commit(4), group="only-pending")
        await h.advance(1000)
        await c.expire_offsets()
        assert "only-pending" in c.groups, "a group with a pending transactional offset is not deleted"
        end(h, commit=True, group="only-pending")
        assert committed(h, "only-pending") == 4

    run(body())


def test_delete_group_and_offset_delete_tombstone_pending_offsets() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        await c.commit_offsets("g", -1, "", None, -1, commit(1), 9)
        await txn_commit(h, commit(5) + commit(5, partition=1))
        assert await c.delete_offsets("g", [("t", 1)]) == (0, [0])
        assert c.unstable_partitions("g") == {("t", 0)}
        assert await c.delete_groups(["g"]) == [0]
        partition = c.partition_for("g")
        tombstones = [rec.decode(k, v) for k, v in h.log.pairs(partition)[-3:]]
        assert tombstones == [rec.OffsetRecord("g", "t", 1, None), rec.OffsetRecord("g", "t", 0, None), rec.GroupRecord("g", None)]
        assert c.unstable_partitions("g") == set()
        end(h, commit=True)
        assert "g" not in c.groups, "the marker of a deleted group's transaction brings nothing back"
        fresh = reloaded(h)
        assert "g" not in fresh.coordinator.groups and fresh.coordinator.unstable_partitions("g") == set()

    run(body())


# A model of Kafka's rule: per partition the committed offset is that of the
# latest plain commit or committed transactional record, by log position.
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["plain", "txn-a", "txn-b", "commit-a", "abort-a", "commit-b", "abort-b"]),
                          st.integers(0, 1), st.integers(0, 1000)), max_size=25))
def test_any_interleaving_matches_the_model_and_survives_a_reload(steps: list[tuple[str, int, int]]) -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        model: dict[int, tuple[int, int]] = {}  # partition -> (position, offset)
        pending: dict[str, dict[int, tuple[int, int]]] = {"a": {}, "b": {}}
        position = 0
        for action, partition, offset in steps:
            position += 1
            if action == "plain":
                await c.commit_offsets("g", -1, "", None, -1, commit(offset, partition), 9)
                model[partition] = (position, offset)
            elif action.startswith("txn-"):
                name = action[-1]
                await txn_commit(h, commit(offset, partition), producer=PRODUCER + (name == "b"))
                pending[name][partition] = (position, offset)
            else:
                name = action[-1]
                end(h, commit=action.startswith("commit"), producer=PRODUCER + (name == "b"))
                if action.startswith("commit"):
                    for p, (pos, value) in pending[name].items():
                        if p not in model or pos > model[p][0]:
                            model[p] = (pos, value)
                pending[name] = {}
        expected = {p: value for p, (_, value) in model.items()}
        unstable = {("t", p) for name in pending for p in pending[name]}
        for coordinator_harness in (h, reloaded(h)):
            assert {p: committed(coordinator_harness, partition=p) for p in (0, 1) if committed(coordinator_harness, partition=p) is not None} == expected
            assert coordinator_harness.coordinator.unstable_partitions("g") == unstable

    asyncio.run(body())
