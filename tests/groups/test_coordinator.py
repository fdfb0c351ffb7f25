"""The classic group state machine, driven by an injected clock: no sleeping.

Each test runs the coordinator on its own event loop (JoinGroup and
SyncGroup answers are futures) with `ManualTimers`, which fire only when the
test advances the clock; records go to an in-memory __consumer_offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from kwire_protocol.error_codes import ErrorCode

from kwire.groups import records as rec
from kwire.groups.coordinator import GroupConfig, GroupCoordinator, JoinRequest, JoinResult, OffsetCommit
from kwire.groups.state import COMPLETING_REBALANCE, DEAD, EMPTY, PREPARING_REBALANCE, STABLE, IllegalStateTransition, check_transition
from kwire.groups.timers import ManualClock, ManualTimers

PARTITIONS = 4
SESSION = 1000
REBALANCE = 3000


class MemoryLog:
    """__consumer_offsets in memory: per partition, its records and transaction markers in log order."""

    def __init__(self) -> None:
        self.records: dict[int, list[rec.LogRecord | rec.TransactionMarker]] = {}
        self.fail_with: int = 0

    async def append(self, partition: int, records: list[tuple[bytes, bytes | None]],
                     producer: tuple[int, int] | None = None) -> tuple[int, int]:
        if self.fail_with:
            return self.fail_with, -1
        entries = self.records.setdefault(partition, [])
        base_offset = len(entries)
        producer_id = producer[0] if producer is not None else -1
        entries.extend(rec.LogRecord(base_offset + i, producer_id, key, value) for i, (key, value) in enumerate(records))
        return 0, base_offset

    def marker(self, partition: int, producer_id: int, commit: bool) -> None:
        # A control batch takes an offset, as in a real log.
        self.records.setdefault(partition, []).append(rec.TransactionMarker(producer_id, commit))

    def pairs(self, partition: int) -> list[tuple[bytes | None, bytes | None]]:
        return [(e.key, e.value) for e in self.records.get(partition, []) if isinstance(e, rec.LogRecord)]


class Harness:
    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock()
        self.timers = ManualTimers(self.clock)
        self.log = MemoryLog()
        settings = {"num_partitions": PARTITIONS, "initial_rebalance_delay_ms": 0, "min_session_timeout_ms": 100, **config}
        self.coordinator = GroupCoordinator(GroupConfig(**settings), self.log, self.clock, self.timers)
        for p in range(PARTITIONS):
            self.coordinator.begin_loading(p)
            self.coordinator.load_partition(p, [])

    def join(self, member_id: str = "", *, group: str = "g", instance: str | None = None, version: int = 9,
             protocols: list[tuple[str, bytes]] | None = None, session: int = SESSION) -> asyncio.Task[JoinResult]:
        request = JoinRequest(group, member_id, instance, session, REBALANCE, "consumer", protocols or [("range", b"m")], "client", "/127.0.0.1", version)
        return asyncio.ensure_future(self.coordinator.join_group(request))

    def sync(self, member_id: str, generation: int, assignments: dict[str, bytes] | None = None, *, group: str = "g", instance: str | None = None) -> asyncio.Task[Any]:
        return asyncio.ensure_future(self.coordinator.sync_group(group, generation, member_id, instance, None, None, assignments or {}))

    async def settle(self) -> None:
        for _ in range(10):
            await asyncio.sleep(0)

    async def advance(self, ms: int) -> None:
        await self.settle()
        self.timers.advance(ms)
        await self.settle()

    async def new_member(self, group: str = "g") -> JoinResult:
        """A v9 member through the KIP-394 round trip; returns its JoinGroup answer."""
        first = await self.join(group=group)
        assert first.error == ErrorCode.MEMBER_ID_REQUIRED
        task = self.join(first.member_id, group=group)
        await self.advance(0)
        return await task

    async def stable_group(self, count: int, group: str = "g") -> list[str]:
        """`count` members that joined together and synced; returns their ids (leader first)."""
        ids = []
        for _ in range(count):
            first = await self.join(group=group)
            ids.append(first.member_id)
        tasks = [self.join(m, group=group) for m in ids]
        await self.advance(0)
        results = [await t for t in tasks]
        assert all(r.error == 0 for r in results), results
        generation = results[0].generation_id
        leader = results[0].leader_id
        followers = [self.sync(m, generation, group=group) for m in ids if m != leader]
        await self.settle()
        assert (await self.sync(leader, generation, {m: m.encode() for m in ids}, group=group)).error == 0
        for f in followers:
            assert (await f).error == 0
        assert self.coordinator.groups[group].state == STABLE
        return [leader] + [m for m in ids if m != leader]


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


def test_transition_table() -> None:
    check_transition("g", EMPTY, PREPARING_REBALANCE)
    check_transition("g", PREPARING_REBALANCE, COMPLETING_REBALANCE)
    check_transition("g", COMPLETING_REBALANCE, STABLE)
    check_transition("g", STABLE, PREPARING_REBALANCE)
    check_transition("g", EMPTY, DEAD)
    for current, target in [(EMPTY, STABLE), (STABLE, COMPLETING_REBALANCE), (DEAD, EMPTY), (EMPTY, COMPLETING_REBALANCE)]:
        with pytest.raises(IllegalStateTransition):
            check_transition("g", current, target)


def test_partition_for_matches_java_string_hash_code() -> None:
    # Values from Java's String.hashCode for the same strings.
    assert [rec.java_string_hash(s) for s in ["", "a", "my-group", "test-group-1", "héllo", "𝄞x"]] == [0, 97, -1906497762, 2060176936, 103094734, 54944334]
    assert rec.partition_for("my-group", 50) == 12
    assert rec.partition_for("a", 50) == 47


def test_member_id_required_then_single_member_becomes_stable() -> None:
    async def body() -> None:
        h = Harness()
        first = await h.join()
        assert first.error == ErrorCode.MEMBER_ID_REQUIRED and first.member_id.startswith("client-")
        assert h.coordinator.groups["g"].state == EMPTY
        task = h.join(first.member_id)
        await h.advance(0)  # group.initial.rebalance.delay.ms=0: the next timer turn
        joined = await task
        assert (joined.error, joined.generation_id, joined.leader_id, joined.protocol_name) == (0, 1, first.member_id, "range")
        assert joined.members == [(first.member_id, None, b"m")]
        assert h.coordinator.groups["g"].state == COMPLETING_REBALANCE
        synced = await h.sync(first.member_id, 1, {first.member_id: b"assignment"})
        assert (synced.error, synced.assignment, synced.protocol_type, synced.protocol_name) == (0, b"assignment", "consumer", "range")
        assert h.coordinator.groups["g"].state == STABLE
        assert h.coordinator.heartbeat("g", 1, first.member_id, None) == 0

    run(body())


def test_v3_join_needs_no_member_id_round_trip() -> None:
    async def body() -> None:
        h = Harness()
        task = h.join(version=3)
        await h.advance(0)
        result = await task
        assert result.error == 0 and result.generation_id == 1 and result.leader_id == result.member_id

    run(body())


def test_new_member_triggers_rebalance_that_completes_when_all_rejoin() -> None:
    async def body() -> None:
        h = Harness()
        [m1] = await h.stable_group(1)
        first = await h.join()
        task2 = h.join(first.member_id)
        await h.settle()
        assert h.coordinator.groups["g"].state == PREPARING_REBALANCE
        assert h.coordinator.heartbeat("g", 1, m1, None) == ErrorCode.REBALANCE_IN_PROGRESS
        task1 = h.join(m1)
        await h.settle()  # no timer needed: everyone has rejoined
        r1, r2 = await task1, await task2
        assert r1.generation_id == r2.generation_id == 2
        assert r1.leader_id == m1 and len(r1.members) == 2 and r2.members == []

    run(body())


def test_member_that_does_not_rejoin_is_removed_at_rebalance_timeout() -> None:
    async def body() -> None:
        h = Harness()
        m1, m2 = await h.stable_group(2)
        task1 = h.join(m1, protocols=[("range", b"changed")])  # changed metadata: rebalance
        for _ in range(REBALANCE // 500 - 1):
            await h.advance(500)  # m2 heartbeats (so its session lives) but does not rejoin
            assert h.coordinator.heartbeat("g", 1, m2, None) == ErrorCode.REBALANCE_IN_PROGRESS
        await h.advance(499)
        assert not task1.done()
        await h.advance(1)
        r1 = await task1
        assert r1.generation_id == 2 and [m for m, _, _ in r1.members] == [m1]
        assert m2 not in h.coordinator.groups["g"].members
        assert h.coordinator.heartbeat("g", 2, m2, None) == ErrorCode.UNKNOWN_MEMBER_ID

    run(body())


def test_session_expiry_removes_member_and_rebalances() -> None:
    async def body() -> None:
        h = Harness()
        m1, m2 = await h.stable_group(2)
        await h.advance(SESSION // 2)
        assert h.coordinator.heartbeat("g", 1, m1, None) == 0
        await h.advance(SESSION // 2)  # m2's session ends, m1's does not
        group = h.coordinator.groups["g"]
        assert list(group.members) == [m1] and group.state == PREPARING_REBALANCE
        assert h.coordinator.heartbeat("g", 1, m1, None) == ErrorCode.REBALANCE_IN_PROGRESS
        task = h.join(m1)
        await h.settle()
        assert (await task).generation_id == 2

    run(body())


def test_leave_removes_member_at_once() -> None:
    async def body() -> None:
        h = Harness()
        m1, m2 = await h.stable_group(2)
        error, results = h.coordinator.leave_group("g", [(m2, None), ("nobody", None)])
        assert (error, results) == (0, [0, ErrorCode.UNKNOWN_MEMBER_ID])
        group = h.coordinator.groups["g"]
        assert list(group.members) == [m1] and group.state == PREPARING_REBALANCE
        error, results = h.coordinator.leave_group("g", [(m1, None)])
        assert results == [0] and group.state == EMPTY and group.generation_id == 2
        assert h.coordinator.leave_group("unknown", [(m1, None)]) == (0, [ErrorCode.UNKNOWN_MEMBER_ID])

    run(body())


def test_session_timeout_bounds_and_max_size() -> None:
    async def body() -> None:
        h = Harness(max_session_timeout_ms=5000, max_size=1)
        assert (await h.join(session=99)).error == ErrorCode.INVALID_SESSION_TIMEOUT
        assert (await h.join(session=5001)).error == ErrorCode.INVALID_SESSION_TIMEOUT
        await h.stable_group(1)
        assert (await h.join()).error == ErrorCode.GROUP_MAX_SIZE_REACHED
        assert (await h.join(group="")).error == ErrorCode.INVALID_GROUP_ID

    run(body())


def test_inconsistent_protocols() -> None:
    async def body() -> None:
        h = Harness()
        await h.stable_group(1)
        assert (await h.join(protocols=[("roundrobin", b"")])).error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL

    run(body())


def test_protocol_chosen_by_vote() -> None:
    async def body() -> None:
        h = Harness()
        ids = []
        for prefs in ([("range", b""), ("roundrobin", b"")], [("roundrobin", b""), ("range", b"")], [("roundrobin", b"")]):
            first = await h.join(protocols=prefs)
            ids.append((first.member_id, prefs))
        tasks = [h.join(m, protocols=p) for m, p in ids]
        await h.advance(0)
        assert {(await t).protocol_name for t in tasks} == {"roundrobin"}

    run(body())


def test_static_member_rejoin_keeps_assignment_without_rebalance_and_fences_old_id() -> None:
    async def body() -> None:
        h = Harness()
        joined = []
        for instance in ("a", "b"):
            joined.append(h.join(instance=instance))
        await h.advance(0)
        results = [await t for t in joined]
        leader = results[0].leader_id
        ids = [r.member_id for r in results]
        for r in results:
            if r.member_id != leader:
                follower_sync = h.sync(r.member_id, 1, instance="b")
        assert (await h.sync(leader, 1, {ids[0]: b"A", ids[1]: b"B"}, instance="a")).error == 0
        assert (await follower_sync).assignment == b"B"
        # Instance b restarts: joins with no member id.
        rejoined = await h.join(instance="b")
        assert rejoined.error == 0 and rejoined.generation_id == 1 and rejoined.member_id != ids[1]
        group = h.coordinator.groups["g"]
        assert group.state == STABLE
        synced = await h.sync(rejoined.member_id, 1, instance="b")
        assert synced.assignment == b"B"
        assert h.coordinator.heartbeat("g", 1, ids[1], "b") == ErrorCode.FENCED_INSTANCE_ID
        assert h.coordinator.heartbeat("g", 1, rejoined.member_id, "b") == 0

    run(body())


def test_offset_commit_checks() -> None:
    async def body() -> None:
        h = Harness()
        c = h.coordinator
        commit = [OffsetCommit("t", 0, 5, -1, "meta")]
        # Unknown group with a generation: ILLEGAL_GENERATION before v9, GROUP_ID_NOT_FOUND from v9.
        assert (await c.commit_offsets("g", 1, "m", None, -1, commit, 8))[0] == ErrorCode.ILLEGAL_GENERATION
        assert (await c.commit_offsets("g", 1, "m", None, -1, commit, 9))[0] == ErrorCode.GROUP_ID_NOT_FOUND
        # A simple commit creates an empty group.
        assert await c.commit_offsets("simple", -1, "", None, -1, commit, 9) == (0, [0])
        assert c.groups["simple"].state == EMPTY
        m1, = await h.stable_group(1)
        assert (await c.commit_offsets("g", 2, m1, None, -1, commit, 9))[0] == ErrorCode.ILLEGAL_GENERATION
        assert (await c.commit_offsets("g", 1, "other", None, -1, commit, 9))[0] == ErrorCode.UNKNOWN_MEMBER_ID
        assert (await c.commit_offsets("g", -1, "", None, -1, commit, 9))[0] == ErrorCode.UNKNOWN_MEMBER_ID
        assert await c.commit_offsets("g", 1, m1, None, -1, commit + [OffsetCommit("t", 1, 1, -1, "x" * 5000)], 9) == (0, [0, ErrorCode.OFFSET_METADATA_TOO_LARGE])
        error, rows = c.fetch_offsets("g", [("t", 0), ("t", 1)])
        assert error == 0 and rows[0][2] is not None and rows[0][2].offset == 5 and rows[0][2].metadata == "meta" and rows[1][2] is None

    run(body())


def test_records_replay_into_a_new_coordinator() -> None:
    async def body() -> None:
        h = Harness()
        m1, m2 = await h.stable_group(2)
        c = h.coordinator
        await c.commit_offsets("g", 1, m1, None, -1, [OffsetCommit("t", 0, 7, 3, "m")], 9)
        await c.commit_offsets("g", 1, m1, None, -1, [OffsetCommit("t", 0, 9, 3, "n")], 9)
        await c.commit_offsets("gone", -1, "", None, -1, [OffsetCommit("t", 0, 1, -1, "")], 9)
        assert await c.delete_groups(["gone", "g", "nothing"]) == [0, ErrorCode.NON_EMPTY_GROUP, ErrorCode.GROUP_ID_NOT_FOUND]
        fresh = Harness()
        for p in range(PARTITIONS):
            fresh.coordinator.begin_loading(p)
            assert fresh.coordinator.coordinator_error("g") in (0, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
            fresh.coordinator.load_partition(p, h.log.records.get(p, []))
        group = fresh.coordinator.groups["g"]
        assert "gone" not in fresh.coordinator.groups
        assert group.state == STABLE and group.generation_id == 1 and list(group.members) == [m1, m2]
        assert group.offsets[("t", 0)].offset == 9 and group.offsets[("t", 0)].metadata == "n"
        assert {m: group.members[m].assignment for m in group.members} == {m1: m1.encode(), m2: m2.encode()}
        # Restored members keep heartbeating with their ids; without heartbeats their sessions end.
        await fresh.advance(SESSION // 2)
        assert fresh.coordinator.heartbeat("g", 1, m1, None) == 0
        await fresh.advance(SESSION // 2)
        assert group.state == PREPARING_REBALANCE and list(group.members) == [m1]

    run(body())


def test_offsets_of_empty_group_expire_and_group_is_deleted() -> None:
    async def body() -> None:
        retention = 60_000
        h = Harness(offsets_retention_ms=retention)
        c = h.coordinator
        await c.commit_offsets("g", -1, "", None, -1, [OffsetCommit("t", 0, 1, -1, "")], 9)
        await h.advance(retention - 1)
        assert await c.expire_offsets() == 0
        await h.advance(1)
        assert await c.expire_offsets() == 1
        assert "g" not in c.groups
        partition = c.partition_for("g")
        tail = [rec.decode(k, v) for k, v in h.log.pairs(partition)[-2:]]
        assert tail == [rec.OffsetRecord("g", "t", 0, None), rec.GroupRecord("g", None)]

    run(body())


def test_initial_rebalance_delay_extends_while_members_arrive() -> None:
    async def body() -> None:
        h = Harness(initial_rebalance_delay_ms=100)
        first = h.join(version=3)
        await h.advance(60)
        second = h.join(version=3)
        await h.advance(40)  # first delay over, but a member arrived: wait another delay
        assert not first.done()
        await h.advance(100)
        r1, r2 = await first, await second
        assert r1.generation_id == r2.generation_id == 1 and len(r1.members) == 2

    run(body())
