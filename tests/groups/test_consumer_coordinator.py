"""The KIP-848 consumer group coordinator, driven by an injected clock: no sleeping.

Heartbeats go straight to `ConsumerGroupCoordinator.heartbeat`; records go to
an in-memory __consumer_offsets; topics are a plain dict. Expected answers
(epochs, messages, who gets what when) are those a real Kafka 4.4 gave for
the same steps (compat_tests reference runs).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any

import pytest

from kwire_protocol.error_codes import ErrorCode

from kwire.groups import records as rec
from kwire.groups.consumer_coordinator import ConsumerGroupConfig, ConsumerGroupCoordinator, HeartbeatRequest, HeartbeatResult
from kwire.groups.consumer_group import ConsumerGroupState, MemberState
from kwire.groups.coordinator import GroupConfig, GroupCoordinator, JoinRequest, OffsetCommit
from kwire.groups.reconciliation import reconcile
from kwire.groups.consumer_group import ConsumerGroupMember
from kwire.groups.timers import ManualClock, ManualTimers

from tests.groups.test_coordinator import MemoryLog

PARTITIONS = 4
SESSION = 3000
T = uuid.UUID(int=7)
U = uuid.UUID(int=8)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class Harness:
    def __init__(self, log: MemoryLog | None = None, **config: Any) -> None:
        self.clock = ManualClock()
        self.timers = ManualTimers(self.clock)
        self.log = log or MemoryLog()
        self.topics: dict[str, tuple[uuid.UUID, int]] = {"t": (T, 4)}
        self.coordinator = GroupCoordinator(GroupConfig(num_partitions=PARTITIONS, initial_rebalance_delay_ms=0, min_session_timeout_ms=100),
                                            self.log, self.clock, self.timers)
        self.consumer = ConsumerGroupCoordinator(self.coordinator, ConsumerGroupConfig(session_timeout_ms=SESSION, heartbeat_interval_ms=500, **config),
                                                 lambda: self.topics)
        for p in range(PARTITIONS):
            self.coordinator.begin_loading(p)
            self.coordinator.load_partition(p, self.log.records.get(p, []))

    async def hb(self, member_id: str, epoch: int, *, group: str = "g", topics: list[str] | None = None, regex: str | None = None,
                 owned: list[tuple[uuid.UUID, list[int]]] | None = None, instance: str | None = None, rebalance: int = 5000,
                 assignor: str | None = None) -> HeartbeatResult:
        if epoch == 0:
            owned = [] if owned is None else owned
            topics = topics if topics is not None or regex is not None else ["t"]
        request = HeartbeatRequest(group, member_id, epoch, instance, None, rebalance if epoch == 0 else -1, topics, regex, assignor, owned, "client", "/127.0.0.1")
        return await self.consumer.heartbeat(request)

    def group(self, group: str = "g") -> Any:
        return self.consumer.groups[group]

    async def advance(self, ms: int) -> None:
        self.timers.advance(ms)
        for _ in range(5):
            await asyncio.sleep(0)


def parts(result: HeartbeatResult) -> dict[uuid.UUID, list[int]] | None:
    return result.assignment


# -- joining and reconciling ------------------------------------------------------------


def test_first_member_gets_every_partition_at_epoch_2() -> None:
    async def scenario() -> None:
        h = Harness()
        r = await h.hb("a", 0)
        assert (r.error, r.member_id, r.member_epoch, r.heartbeat_interval_ms) == (0, "a", 2, 500)
        assert parts(r) == {T: [0, 1, 2, 3]}
        assert h.group().state == ConsumerGroupState.STABLE
        again = await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        assert (again.member_epoch, again.assignment) == (2, None), "nothing changed: no assignment in the answer"

    run(scenario())


def test_partitions_move_only_after_their_owner_revoked_them() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        b = await h.hb("b", 0)
        # Kafka 4.4: the newcomer is at epoch 3 with nothing yet: a still holds them.
        assert (b.member_epoch, parts(b)) == (3, {})
        assert h.group().state == ConsumerGroupState.RECONCILING
        a = await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        assert (a.member_epoch, parts(a)) == (2, {T: [0, 1]}), "a must revoke 2 and 3 first, at its old epoch"
        assert h.group().members["a"].state == MemberState.UNREVOKED_PARTITIONS
        b = await h.hb("b", 3, owned=[])
        assert (b.member_epoch, b.assignment) == (3, None), "not released yet"
        a = await h.hb("a", 2, owned=[(T, [0, 1])])
        assert (a.member_epoch, a.assignment) == (3, None)
        b = await h.hb("b", 3, owned=[])
        assert parts(b) == {T: [2, 3]}
        assert h.group().state == ConsumerGroupState.STABLE

    run(scenario())


def test_a_heartbeat_without_owned_partitions_does_not_count_as_revocation() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        await h.hb("b", 0)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        a = await h.hb("a", 2, owned=None)
        assert a.member_epoch == 2 and h.group().members["a"].state == MemberState.UNREVOKED_PARTITIONS

    run(scenario())


def test_leave_moves_partitions_to_the_rest() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        await h.hb("b", 0)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        await h.hb("a", 2, owned=[(T, [0, 1])])
        await h.hb("b", 3, owned=[])
        left = await h.hb("b", -1)
        assert (left.error, left.member_id, left.member_epoch, left.heartbeat_interval_ms) == (0, "b", -1, 0)
        a = await h.hb("a", 3, owned=[(T, [0, 1])])
        assert (a.member_epoch, parts(a)) == (4, {T: [0, 1, 2, 3]})
        gone = await h.hb("b", -1)
        assert (gone.error, gone.message) == (ErrorCode.UNKNOWN_MEMBER_ID, "Member b is not a member of group g.")

    run(scenario())


def test_session_timeout_fences_a_silent_member() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        await h.hb("b", 0)
        await h.advance(SESSION - 1)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        await h.advance(2)  # b said nothing for SESSION ms
        assert "b" not in h.group().members
        a = await h.hb("a", 2, owned=[(T, [0, 1])])
        assert parts(a) == {T: [0, 1, 2, 3]}
        fenced = await h.hb("b", 3, owned=[])
        assert fenced.error == ErrorCode.UNKNOWN_MEMBER_ID

    run(scenario())


def test_rebalance_timeout_fences_a_member_that_does_not_revoke() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0, rebalance=1000)
        await h.hb("b", 0)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])  # told to revoke 2 and 3
        await h.advance(500)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])  # still owns them
        await h.hb("b", 3, owned=[])
        await h.advance(600)
        assert "a" not in h.group().members
        b = await h.hb("b", 3, owned=[])
        assert parts(b) == {T: [0, 1, 2, 3]}

    run(scenario())


def test_epoch_checks() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        high = await h.hb("a", 7)
        assert high.error == ErrorCode.FENCED_MEMBER_EPOCH
        assert high.message == ("The consumer group member has a greater member epoch (7) than the one known by the group coordinator (2). "
                                "The member must abandon all its partitions and rejoin.")
        low = await h.hb("a", 1, owned=[(T, [0])])
        assert low.error == ErrorCode.FENCED_MEMBER_EPOCH and "smaller member epoch (1)" in (low.message or "")
        # One behind (it missed the answer that moved it) and owning only what it was given: fine.
        await h.hb("b", 0)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        await h.hb("a", 2, owned=[(T, [0, 1])])  # now at 3; previous 2
        missed = await h.hb("a", 2, owned=[(T, [0, 1])])
        assert (missed.error, missed.member_epoch) == (0, 3)

    run(scenario())


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        (HeartbeatRequest("", "m", 0, rebalance_timeout_ms=1, subscribed_topic_names=["t"], topic_partitions=[]), ErrorCode.INVALID_REQUEST, "GroupId can't be empty."),
        (HeartbeatRequest("g", "", 0, rebalance_timeout_ms=1, subscribed_topic_names=["t"], topic_partitions=[]), ErrorCode.INVALID_REQUEST, "MemberId can't be empty."),
        (HeartbeatRequest("g", "m", 0, subscribed_topic_names=["t"], topic_partitions=[]), ErrorCode.INVALID_REQUEST, "RebalanceTimeoutMs must be provided in first request."),
        (HeartbeatRequest("g", "m", 0, rebalance_timeout_ms=1, topic_partitions=[]), ErrorCode.INVALID_REQUEST,
         "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."),
        (HeartbeatRequest("g", "m", 0, rebalance_timeout_ms=1, subscribed_topic_names=["t"]), ErrorCode.INVALID_REQUEST, "TopicPartitions must be empty when (re-)joining."),
        (HeartbeatRequest("g", "m", -2), ErrorCode.INVALID_REQUEST, "InstanceId can't be null."),
        (HeartbeatRequest("g", "m", -3), ErrorCode.INVALID_REQUEST, "MemberEpoch is invalid."),
        (HeartbeatRequest("g", "m", 0, instance_id="", rebalance_timeout_ms=1, subscribed_topic_names=["t"], topic_partitions=[]), ErrorCode.INVALID_REQUEST, "InstanceId can't be empty."),
        (HeartbeatRequest("g", "m", 0, rack_id="", rebalance_timeout_ms=1, subscribed_topic_names=["t"], topic_partitions=[]), ErrorCode.INVALID_REQUEST, "RackId can't be empty."),
        (HeartbeatRequest("g", "m", 0, rebalance_timeout_ms=1, subscribed_topic_names=["t"], server_assignor="sticky", topic_partitions=[]),
         ErrorCode.UNSUPPORTED_ASSIGNOR, "ServerAssignor sticky is not supported. Supported assignors: uniform, range."),
        (HeartbeatRequest("g", "m", 0, rebalance_timeout_ms=1, subscribed_topic_regex="(", topic_partitions=[]), ErrorCode.INVALID_REGULAR_EXPRESSION, None),
        (HeartbeatRequest("nogroup", "m", 5), ErrorCode.GROUP_ID_NOT_FOUND, "Consumer group nogroup not found."),
        (HeartbeatRequest("nogroup", "m", -1), ErrorCode.GROUP_ID_NOT_FOUND, "Group nogroup not found."),
    ],
)
def test_bad_heartbeats_as_kafka_4_4_answers_them(request_: HeartbeatRequest, error: int, message: str | None) -> None:
    async def scenario() -> None:
        h = Harness()
        result = await h.consumer.heartbeat(request_)
        assert result.error == error
        if message is not None:
            assert result.message == message
        assert (result.member_id, result.member_epoch, result.assignment) == (None, 0, None)
        assert "g" not in h.consumer.groups, "a refused first heartbeat creates no group"

    run(scenario())


def test_group_max_size() -> None:
    async def scenario() -> None:
        h = Harness(max_size=1)
        await h.hb("a", 0)
        full = await h.hb("b", 0)
        assert (full.error, full.message) == (ErrorCode.GROUP_MAX_SIZE_REACHED, "The consumer group has reached its maximum capacity of 1 members.")
        assert (await h.hb("a", 0)).error == 0, "a known member rejoining is not counted twice"

    run(scenario())


# -- static members ----------------------------------------------------------------------------


def test_static_member_leaves_temporarily_and_its_successor_takes_over() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("s1", 0, instance="i1")
        await h.hb("b", 0)
        await h.hb("s1", 2, owned=[(T, [0, 1, 2, 3])], instance="i1")
        await h.hb("s1", 2, owned=[(T, [0, 1])], instance="i1")
        taken = await h.hb("s2", 0, instance="i1")
        assert taken.error == ErrorCode.UNRELEASED_INSTANCE_ID
        assert taken.message == "Static member s2 with instance id i1 cannot join the group because the instance id is owned by s1 member."
        left = await h.hb("s1", -2, instance="i1")
        assert (left.error, left.member_epoch) == (0, -2)
        epoch = h.group().group_epoch
        back = await h.hb("s2", 0, instance="i1")
        assert (back.error, parts(back)) == (0, {T: [0, 1]}), "the successor gets the partitions at once"
        assert h.group().group_epoch == epoch, "no rebalance"
        old = await h.hb("s1", 3, instance="i1")
        assert (old.error, old.message) == (ErrorCode.FENCED_INSTANCE_ID, "Static member s1 with instance id i1 was fenced by member s2.")
        unknown = await h.hb("x", 3, instance="i9")
        assert (unknown.error, unknown.message) == (ErrorCode.UNKNOWN_MEMBER_ID, "Instance id i9 is unknown.")

    run(scenario())


def test_static_member_that_left_is_removed_when_its_session_ends() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("s1", 0, instance="i1")
        await h.hb("s1", -2, instance="i1")
        await h.advance(SESSION + 1)
        assert h.group().members == {}

    run(scenario())


# -- subscriptions ---------------------------------------------------------------------------------


def test_regex_subscription_follows_new_topics() -> None:
    async def scenario() -> None:
        h = Harness()
        r = await h.hb("a", 0, topics=None, regex="t.*")
        assert parts(r) == {T: [0, 1, 2, 3]}
        h.topics["t2"] = (U, 2)
        h.topics["other"] = (uuid.UUID(int=9), 1)
        h.topics["__consumer_offsets"] = (uuid.UUID(int=10), 50)
        r = await h.hb("a", r.member_epoch, owned=[(T, [0, 1, 2, 3])])
        assert parts(r) == {T: [0, 1, 2, 3], U: [0, 1]}

    run(scenario())


def test_range_assignor_on_request() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0, assignor="range")
        await h.hb("b", 0, assignor="range")
        group = h.group()
        assert group.preferred_assignor("uniform") == "range"
        assert group.target == {"a": {T: frozenset({0, 1})}, "b": {T: frozenset({2, 3})}}

    run(scenario())


# -- offsets and classic APIs ---------------------------------------------------------------------


def test_offset_commit_checks_member_epochs() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        c = h.coordinator
        ok = [OffsetCommit("t", 0, 5, -1, "", T)]
        assert await c.commit_offsets("g", 2, "a", None, -1, ok, 9) == (0, [0])
        too_large = [OffsetCommit("t", 1, 7, -1, "x" * 5000, T)]
        assert await c.commit_offsets("g", 2, "a", None, -1, too_large, 9) == (0, [ErrorCode.OFFSET_METADATA_TOO_LARGE])
        error, rows = c.fetch_offsets("g", [("t", 0), ("t", 1)])
        assert error == 0 and rows[0][2] is not None and rows[0][2].offset == 5 and rows[0][2].expire_timestamp == -1 and rows[1][2] is None
        assert await c.commit_offsets("g", 3, "a", None, -1, ok, 9) == (ErrorCode.STALE_MEMBER_EPOCH, [])
        assert await c.commit_offsets("g", 2, "zzz", None, -1, ok, 9) == (ErrorCode.UNKNOWN_MEMBER_ID, [])
        assert await c.commit_offsets("g", 2, "a", None, -1, ok, 8) == (ErrorCode.UNSUPPORTED_VERSION, [])
        assert await c.commit_offsets("g", -1, "", None, -1, ok, 9) == (ErrorCode.UNKNOWN_MEMBER_ID, [])
        # KIP-1251: after moving to epoch 3, an epoch-2 commit of a partition held since epoch 2 is fine.
        await h.hb("b", 0)
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        await h.hb("a", 2, owned=[(T, [0, 1])])
        assert h.group().members["a"].member_epoch == 3
        two = [OffsetCommit("t", 0, 6, -1, "", T), OffsetCommit("t", 3, 6, -1, "", T)]
        assert await c.commit_offsets("g", 2, "a", None, -1, two, 9) == (0, [0, ErrorCode.STALE_MEMBER_EPOCH])
        assert c.fetch_offsets("g", [("t", 0)], "a", 2) == (ErrorCode.STALE_MEMBER_EPOCH, [])
        error, rows = c.fetch_offsets("g", [("t", 0)], "a", 3)
        assert error == 0 and rows[0][2] is not None and rows[0][2].offset == 6

    run(scenario())


def test_classic_apis_on_a_consumer_group() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        c = h.coordinator
        join = JoinRequest("g", "", None, 10000, 10000, "consumer", [("range", b"")], "client", "/h", 9)
        # A classic member may join a consumer group with members (KIP-848 mixed
        # groups, test_migration.py): first the KIP-394 member id round trip.
        assert (await c.join_group(join)).error == ErrorCode.MEMBER_ID_REQUIRED
        other_type = JoinRequest("g", "", None, 10000, 10000, "connect", [("range", b"")], "client", "/h", 9)
        assert (await c.join_group(other_type)).error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        # a uses the consumer protocol: the classic heartbeat does not know it.
        assert c.heartbeat("g", 2, "a", None) == ErrorCode.UNKNOWN_MEMBER_ID
        assert await c.delete_groups(["g"]) == [ErrorCode.NON_EMPTY_GROUP]
        error, groups = c.list_groups({"stable"})
        assert error == 0 and [g.group_id for g in groups] == ["g"]
        # LeaveGroup removes members of either protocol (the admin client's removeMembersFromConsumerGroup).
        assert c.leave_group("g", [("a", None), ("nobody", None)]) == (0, [0, ErrorCode.UNKNOWN_MEMBER_ID])
        assert c.list_groups({"empty"})[1][0].group_id == "g"
        # An empty consumer group becomes a classic one on a classic JoinGroup (Kafka 4.4: MEMBER_ID_REQUIRED).
        assert (await c.join_group(join)).error == ErrorCode.MEMBER_ID_REQUIRED
        assert "g" not in h.consumer.groups and "g" in c.groups

    run(scenario())


def test_empty_classic_group_becomes_a_consumer_group_keeping_its_offsets() -> None:
    async def scenario() -> None:
        h = Harness()
        c = h.coordinator
        assert await c.commit_offsets("g", -1, "", None, -1, [OffsetCommit("t", 1, 42, -1, "m", T)], 9) == (0, [0])
        r = await h.hb("a", 0)
        assert r.error == 0 and "g" not in c.groups
        assert c.fetch_offsets("g", [("t", 1)])[1][0][2].offset == 42

    run(scenario())


def test_delete_an_empty_consumer_group() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        await h.coordinator.commit_offsets("g", 2, "a", None, -1, [OffsetCommit("t", 0, 5, -1, "", T)], 9)
        await h.hb("a", -1)
        assert await h.coordinator.delete_groups(["g"]) == [0]
        assert "g" not in h.consumer.groups
        assert h.coordinator.fetch_offsets("g", [("t", 0)])[1][0][2] is None

    run(scenario())


# -- durability ---------------------------------------------------------------------------------------


def test_replaying_the_records_restores_the_group() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        await h.hb("s", 0, instance="i1")
        await h.hb("a", 2, owned=[(T, [0, 1, 2, 3])])
        await h.hb("a", 2, owned=[(T, [0, 1])])
        await h.hb("s", 3, owned=[])
        await h.coordinator.commit_offsets("g", 3, "a", None, -1, [OffsetCommit("t", 0, 9, -1, "x", T)], 9)
        await h.hb("gone", 0)
        await h.hb("gone", -1)
        before = h.group()
        restored = Harness(log=h.log)
        after = restored.group()
        for name in ("group_epoch", "assignment_epoch", "metadata_hash", "target", "offsets", "static_members", "partition_owners"):
            assert getattr(after, name) == getattr(before, name), name
        assert after.members == before.members
        assert after.state == before.state
        # Sessions restart at load: a restored member that says nothing is fenced.
        await restored.advance(SESSION + 1)
        assert restored.group().members == {}

    run(scenario())


def test_records_are_kafkas_record_types() -> None:
    async def scenario() -> None:
        h = Harness()
        await h.hb("a", 0)
        await h.hb("a", -1)
        types = [int.from_bytes(k[:2], "big") for p in h.log.records for k, _ in h.log.pairs(p)]
        # join: member metadata, group epoch, target member, target metadata, current assignment;
        # leave: current, target, member tombstones, group epoch.
        assert types == [5, 3, 7, 6, 8, 8, 7, 5, 3]
        assert rec.partition_for("g", PARTITIONS) in h.log.records

    run(scenario())


# -- reconciliation as a plain function ----------------------------------------------------------------


def test_reconcile_waits_for_unreleased_partitions() -> None:
    member = ConsumerGroupMember("b", member_epoch=3, previous_member_epoch=0, state=MemberState.STABLE)
    held = {(T, 2): "a", (T, 3): "a"}
    step = reconcile(member.with_changes(member_epoch=2), 3, {T: frozenset({2, 3})}, [], lambda t, p: held.get((t, p)))
    assert (step.state, step.member_epoch, step.assigned) == (MemberState.UNRELEASED_PARTITIONS, 3, {})
    held.pop((T, 2))
    step = reconcile(step, 3, {T: frozenset({2, 3})}, [], lambda t, p: held.get((t, p)))
    assert (step.state, step.assigned) == (MemberState.UNRELEASED_PARTITIONS, {T: {2: 3}})
    held.clear()
    step = reconcile(step, 3, {T: frozenset({2, 3})}, [(T, [2])], lambda t, p: None)
    assert (step.state, step.assigned, step.previous_member_epoch) == (MemberState.STABLE, {T: {2: 3, 3: 3}}, 2)
