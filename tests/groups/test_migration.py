"""KIP-848 online migration in the coordinator, driven by an injected clock:
a classic group with members becomes a consumer group when a member joins
with ConsumerGroupHeartbeat; its classic members go on through JoinGroup,
SyncGroup and Heartbeat (mixed group); when the last consumer-protocol
member leaves, the group becomes a classic group again. Offsets stay; the
records replay to the same group.
"""

from __future__ import annotations

import asyncio
import struct

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode

from kwire.groups import migration
from kwire.groups.consumer_group import ConsumerGroupState
from kwire.groups.coordinator import JoinRequest, OffsetCommit
from kwire.groups.state import PREPARING_REBALANCE, STABLE

from tests.groups.test_consumer_coordinator import PARTITIONS, T, Harness, run

Subscription = messages.ConsumerProtocolSubscription
OwnedTopic = Subscription.cls.TopicPartition
SESSION = 5000
REBALANCE = 8000


def subscription(topics: list[str], owned: dict[str, list[int]] | None = None, version: int = 3) -> bytes:
    # rack "" as librdkafka sends it without client.rack
    message = Subscription(topics=topics, user_data=None, owned_partitions=[OwnedTopic(topic=t, partitions=p) for t, p in (owned or {}).items()],
                           generation_id=-1, rack_id="")
    return struct.pack(">h", version) + Subscription.encode(message, version)


def join_request(member_id: str, owned: dict[str, list[int]] | None = None, protocols: tuple[str, ...] = ("range",),
                 session: int = SESSION) -> JoinRequest:
    metadata = subscription(["t"], owned)
    return JoinRequest("g", member_id, None, session, REBALANCE, "consumer", [(p, metadata) for p in protocols], "classic-client", "/127.0.0.1", 9)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def classic_group(h: Harness, count: int) -> list[str]:
    """`count` classic members, Stable, with the range assignment of t's 4 partitions; returns ids, leader first."""
    c = h.coordinator
    ids = [(await c.join_group(join_request(""))).member_id for _ in range(count)]
    tasks = [asyncio.ensure_future(c.join_group(join_request(m))) for m in ids]
    await settle()
    h.timers.advance(0)
    results = [await t for t in tasks]
    assert all(r.error == 0 for r in results), results
    leader = results[0].leader_id
    generation = results[0].generation_id
    share = PARTITIONS // count
    assignments = {m: migration.encode_assignment({"t": list(range(i * share, (i + 1) * share))}, 1) for i, m in enumerate(ids)}
    followers = [asyncio.ensure_future(c.sync_group("g", generation, m, None, None, None, {})) for m in ids if m != leader]
    await settle()
    assert (await c.sync_group("g", generation, leader, None, None, None, assignments)).error == 0
    for f in followers:
        assert (await f).error == 0
    assert c.groups["g"].state == STABLE
    return [leader] + [m for m in ids if m != leader]


def owned_of(h: Harness, member_id: str) -> set[int]:
    return set(h.group().members[member_id].assigned.get(T, {}))


async def classic_rejoin(h: Harness, member_id: str) -> tuple[int, set[int]]:
    """An eager classic member's rejoin: revoke everything, JoinGroup, SyncGroup; returns (generation, partitions)."""
    c = h.coordinator
    joined = await c.join_group(join_request(member_id))
    assert joined.error == 0, joined
    assert (joined.leader_id, joined.members, joined.protocol_name) == ("", [], "range")
    synced = await c.sync_group("g", joined.generation_id, member_id, None, "consumer", "range", {})
    assert synced.error == 0, synced
    return joined.generation_id, set(migration.decode_assignment(synced.assignment).get("t", []))


def test_upgrade_then_mixed_group_then_downgrade() -> None:
    async def scenario() -> None:
        h = Harness()
        c = h.coordinator
        first, second = await classic_group(h, 2)
        generation = c.groups["g"].generation_id
        assert await c.commit_offsets("g", generation, first, None, -1, [OffsetCommit("t", 0, 7, -1, "", T)], 9) == (0, [0])

        # A consumer-protocol member joins: the group converts, its members keep their partitions.
        new = await h.hb("new", 0)
        assert new.error == 0 and "g" not in c.groups
        group = h.group()
        assert {m: (group.members[m].member_epoch, owned_of(h, m)) for m in (first, second)} == {first: (generation, {0, 1}), second: (generation, {2, 3})}
        assert group.group_epoch == generation + 1 and new.member_epoch == generation + 1
        assert new.assignment == {}, "its partitions are still held by the classic members"
        assert c.fetch_offsets("g", [("t", 0)])[1][0][2].offset == 7

        # The classic members learn of the rebalance by heartbeat and rejoin (a
        # member with partitions to revoke twice: revoke, then take), the new
        # member takes what they release.
        for member in (first, second):
            assert c.heartbeat("g", generation, member, None) == ErrorCode.REBALANCE_IN_PROGRESS
        epochs = {first: generation, second: generation}
        taken = new
        for _ in range(6):
            for member in (first, second):
                if c.heartbeat("g", epochs[member], member, None) == ErrorCode.REBALANCE_IN_PROGRESS:
                    epochs[member], partitions = await classic_rejoin(h, member)
                    assert partitions == owned_of(h, member)
            taken = await h.hb("new", taken.member_epoch, owned=[(T, sorted(owned_of(h, "new")))])
            if h.group().state == ConsumerGroupState.STABLE:
                break
        assert h.group().state == ConsumerGroupState.STABLE and epochs == {first: generation + 1, second: generation + 1}
        held = {m: owned_of(h, m) for m in (first, second, "new")}
        assert sorted(p for ps in held.values() for p in ps) == [0, 1, 2, 3], f"every partition once: {held}"
        assert all(held.values())
        # A classic member commits with its generation (its member epoch).
        assert (await c.commit_offsets("g", generation, first, None, -1, [OffsetCommit("t", 0, 8, -1, "", T)], 8))[0] == ErrorCode.ILLEGAL_GENERATION
        assert await c.commit_offsets("g", generation + 1, first, None, -1, [OffsetCommit("t", 0, 8, -1, "", T)], 8) == (0, [0])

        # The consumer-protocol member leaves: only classic members remain, the group is classic again.
        left = await h.hb("new", -1)
        assert left.error == 0 and "g" not in h.consumer.groups
        classic = c.groups["g"]
        assert (classic.state, classic.generation_id, classic.protocol_name, set(classic.members)) == (PREPARING_REBALANCE, generation + 1, "range", {first, second})
        assert c.fetch_offsets("g", [("t", 0)])[1][0][2].offset == 8
        assert c.heartbeat("g", generation + 1, first, None) == ErrorCode.REBALANCE_IN_PROGRESS

    run(scenario())


def test_classic_member_checks_in_a_consumer_group() -> None:
    async def scenario() -> None:
        h = Harness()
        c = h.coordinator
        await h.hb("a", 0)
        first = await c.join_group(join_request(""))
        assert first.error == ErrorCode.MEMBER_ID_REQUIRED
        joined = await c.join_group(join_request(first.member_id, protocols=("range", "roundrobin")))
        member = first.member_id
        assert (joined.error, joined.member_id, joined.protocol_type) == (0, member, "consumer")
        # Every later classic member must share a protocol with it.
        assert (await c.join_group(join_request("other", protocols=("sticky",)))).error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        epoch = joined.generation_id
        # Rejoining with the same subscription changes nothing (no new group epoch).
        group_epoch = h.group().group_epoch
        assert (await c.join_group(join_request(member, protocols=("range", "roundrobin")))).generation_id == epoch
        assert h.group().group_epoch == group_epoch
        assert (await c.sync_group("g", epoch + 5, member, None, None, None, {})).error == ErrorCode.ILLEGAL_GENERATION
        assert (await c.sync_group("g", epoch, member, None, "consumer", "roundrobin", {})).error == ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        assert (await c.sync_group("g", epoch, "nobody", None, None, None, {})).error == ErrorCode.UNKNOWN_MEMBER_ID
        assert (await c.sync_group("g", h.group().members["a"].member_epoch, "a", None, None, None, {})).error == ErrorCode.UNKNOWN_MEMBER_ID
        assert c.heartbeat("g", epoch + 5, member, None) == ErrorCode.ILLEGAL_GENERATION
        # Without SyncGroup within its rebalance timeout, the member is fenced (a keeps heartbeating).
        for _ in range(REBALANCE // 2000):
            h.timers.advance(2000)
            await settle()
            assert (await h.hb("a", h.group().members["a"].member_epoch, owned=[(T, sorted(owned_of(h, "a")))])).error == 0
        assert member not in h.group().members and "a" in h.group().members

    run(scenario())


def test_classic_member_session_ends_by_its_own_timeout() -> None:
    async def scenario() -> None:
        h = Harness()
        c = h.coordinator
        await h.hb("a", 0)
        member = (await c.join_group(join_request("", session=1000))).member_id
        joined = await c.join_group(join_request(member, session=1000))
        assert (await c.sync_group("g", joined.generation_id, member, None, None, None, {})).error == 0
        h.timers.advance(999)
        await settle()
        assert member in h.group().members
        h.timers.advance(1)
        await settle()
        assert member not in h.group().members and "a" in h.group().members

    run(scenario())


def test_upgrade_refused_by_policy_or_protocol_type() -> None:
    async def scenario() -> None:
        h = Harness(migration_policy="downgrade")
        await classic_group(h, 1)
        refused = await h.hb("new", 0)
        assert (refused.error, refused.message) == (ErrorCode.GROUP_ID_NOT_FOUND, "Cannot upgrade classic group g to consumer group because online upgrade is disabled.")
        assert "g" in h.coordinator.groups

    run(scenario())


def test_downgrade_refused_by_policy_keeps_a_consumer_group() -> None:
    async def scenario() -> None:
        h = Harness(migration_policy="upgrade")
        c = h.coordinator
        await classic_group(h, 1)
        new = await h.hb("new", 0)
        assert new.error == 0
        assert (await h.hb("new", -1)).error == 0
        assert "g" in h.consumer.groups and "g" not in c.groups and len(h.group().members) == 1

    run(scenario())


def test_mixed_group_and_conversions_replay() -> None:
    async def scenario() -> None:
        h = Harness()
        c = h.coordinator
        first, = await classic_group(h, 1)
        await c.commit_offsets("g", c.groups["g"].generation_id, first, None, -1, [OffsetCommit("t", 1, 3, -1, "", T)], 9)
        await h.hb("new", 0)
        await settle()
        live = {m: (v.member_epoch, v.state, dict(v.assigned), v.classic) for m, v in h.group().members.items()}
        fresh = Harness(log=h.log)
        group = fresh.group()
        assert {m: (v.member_epoch, v.state, dict(v.assigned), v.classic) for m, v in group.members.items()} == live
        assert group.members[first].classic is not None and group.members[first].classic.session_timeout_ms == SESSION
        assert fresh.coordinator.fetch_offsets("g", [("t", 1)])[1][0][2].offset == 3
        # Downgrade, then replay again: a classic group with the member and the offsets.
        assert (await h.hb("new", -1)).error == 0
        await settle()
        again = Harness(log=h.log)
        assert "g" not in again.consumer.groups and set(again.coordinator.groups["g"].members) == {first}
        assert again.coordinator.fetch_offsets("g", [("t", 1)])[1][0][2].offset == 3

    run(scenario())


def test_embedded_protocol_round_trip() -> None:
    data = migration.encode_assignment({"t": [3, 1], "u": [0]}, 3)
    assert struct.unpack_from(">h", data)[0] == 3
    assert migration.decode_assignment(data) == {"t": [1, 3], "u": [0]}
    decoded = migration.decode_subscription(subscription(["t", "u"], {"t": [1]}, version=1))
    assert (list(decoded.topics), [(tp.topic, list(tp.partitions)) for tp in decoded.owned_partitions]) == (["t", "u"], [("t", [1])])
    assert migration.decode_assignment(b"") == {}


def test_a_classic_static_member_replacing_the_last_consumer_member_downgrades_at_once() -> None:
    async def scenario() -> None:
        h = Harness()
        c = h.coordinator
        static = await h.hb("s", 0, instance="i")
        dynamic = (await c.join_group(join_request(""))).member_id
        assert (await c.join_group(join_request(dynamic))).error == 0
        taken_over = set(h.group().target["s"].get(T, ()))  # what s keeps of its partitions in the new assignment
        # The static member restarts as a classic consumer: same instance id, no member id.
        request = JoinRequest("g", "", "i", SESSION, REBALANCE, "consumer", [("range", subscription(["t"]))], "classic-client", "/127.0.0.1", 9)
        joined = await c.join_group(request)
        assert joined.error == 0 and joined.generation_id == static.member_epoch
        assert "g" not in h.consumer.groups
        classic = c.groups["g"]
        assert classic.state == STABLE, "no rebalance"
        assert set(classic.members) == {dynamic, joined.member_id} and classic.static_members == {"i": joined.member_id}
        synced = await c.sync_group("g", classic.generation_id, joined.member_id, "i", None, None, {})
        assert synced.error == 0 and set(migration.decode_assignment(synced.assignment).get("t", [])) == taken_over

    run(scenario())
