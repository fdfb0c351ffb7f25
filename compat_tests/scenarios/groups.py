"""Consumer groups through the client's own group member and admin API.

One member gets every partition; a member resumes exactly after the offsets
a previous member committed; two members split the partitions, eagerly
(range, roundrobin: the first member gives everything back) or cooperatively
(cooperative-sticky, and KIP-848's consumer protocol: the first member gives
up only the partitions that move); the admin calls list, describe (an empty
group), committed offsets and lag, and delete (then GROUP_ID_NOT_FOUND).

Members in child processes (Adapter.group_member): a member that leaves
(LeaveGroup on close) hands its partitions to the other member before its
session would have expired; a member killed with SIGKILL loses them once
the coordinator expires it (session.timeout.ms 6000, the lowest
group.min.session.timeout.ms lets through by default); a static member
(group.instance.id) closed and started again within its session timeout
gets its partitions back without a rebalance. Each checks that every
record produced was consumed by some member.
Results hold no member ids or partition choices an assignor may make
either way, only what Kafka's rules fix.
"""

from __future__ import annotations

import time
from typing import Any

from compat_tests.clients.base import MemberProcess
from compat_tests.scenarios import Context, Scenario

PER_PARTITION = 10
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_SECONDS = SESSION_TIMEOUT_MS / 3000  # the clients' default heartbeat.interval.ms: a third of the session
JOIN_SECONDS = 30.0  # a first join: the classic coordinator may wait group.initial.rebalance.delay.ms (3 s) and more


def _topic_with_records(ctx: Context, partitions: int) -> str:
    topic = ctx.new_topic(partitions=partitions)
    ctx.setup.produce(topic, [{"key": f"{p}-{i}", "value": f"{p}-{i}", "partition": p}
                              for p in range(partitions) for i in range(PER_PARTITION)])
    return topic


def _by_partition(records: list[dict[str, Any]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in records:
        out.setdefault(str(r["partition"]), []).append(r["offset"])
    return {p: sorted(offsets) for p, offsets in sorted(out.items())}


def one_member(ctx: Context) -> dict[str, Any]:
    topic = _topic_with_records(ctx, 3)
    got = ctx.client.group_consume(topic, ctx.topic_name("group"), 3 * PER_PARTITION, assigned=3)
    ctx.expect_equal("assigned", got["assigned"], [0, 1, 2])
    seen = _by_partition(got["records"])
    ctx.expect_equal("records", seen, {str(p): list(range(PER_PARTITION)) for p in range(3)})
    ctx.expect_equal("committed", got["committed"], {str(p): PER_PARTITION for p in range(3)})
    return {"assigned": got["assigned"], "records": seen, "committed": got["committed"]}


def commit_resume(ctx: Context) -> dict[str, Any]:
    topic = _topic_with_records(ctx, 2)
    group = ctx.topic_name("group")
    first = ctx.client.group_consume(topic, group, 6, assigned=2)
    ctx.expect_equal("first member's records", len(first["records"]), 6)
    # The second member (a restart) must start exactly after what the first committed.
    second = ctx.client.group_consume(topic, group, 2 * PER_PARTITION - 6, assigned=2)
    starts = {p: offsets[0] for p, offsets in _by_partition(second["records"]).items()}
    committed = {p: first["committed"].get(p) or 0 for p in starts}  # null: nothing committed there
    ctx.expect_equal("where the restarted member starts", starts, committed)
    both = _by_partition(first["records"] + second["records"])
    ctx.expect_equal("every record once", both, {str(p): list(range(PER_PARTITION)) for p in range(2)})
    ctx.expect_equal("committed at the end", second["committed"], {"0": PER_PARTITION, "1": PER_PARTITION})
    return {"first": len(first["records"]), "second": len(second["records"]), "resumed_at_commit": starts == committed,
            "committed": second["committed"]}


def _rebalance(ctx: Context, protocol: str, assignor: str | None, eager: bool) -> dict[str, Any]:
    topic = _topic_with_records(ctx, 4)
    group = ctx.topic_name("group")
    got = ctx.client.group_rebalance(topic, group, 4, protocol=protocol, assignor=assignor)
    ctx.expect_equal("first member alone", got["first"], [0, 1, 2, 3])
    ctx.expect_equal("split", [len(got["a"]), len(got["b"]), sorted(got["a"] + got["b"])], [2, 2, [0, 1, 2, 3]])
    moved = sorted(set(got["first"]) - set(got["a"]))
    ctx.expect_equal("moved to the second member", moved, got["b"])
    # Eager: everything is revoked before the new assignment; cooperative: only what moves.
    ctx.expect_equal("revoked from the first member", got["a_revoked"], got["first"] if eager else moved)
    ctx.expect_equal("lost by the first member", got["a_lost"], [])
    out: dict[str, Any] = {"split": [len(got["a"]), len(got["b"])], "revoked": len(got["a_revoked"])}
    if protocol == "consumer":
        listed = ctx.client.list_groups().get(group, {})
        ctx.expect_equal("group type", listed.get("group_type"), "consumer")
        out["group_type"] = listed.get("group_type")
    return out


def two_members_range(ctx: Context) -> dict[str, Any]:
    return _rebalance(ctx, "classic", "range", eager=True)


def two_members_roundrobin(ctx: Context) -> dict[str, Any]:
    return _rebalance(ctx, "classic", "roundrobin", eager=True)


def two_members_cooperative(ctx: Context) -> dict[str, Any]:
    return _rebalance(ctx, "classic", "cooperative-sticky", eager=False)


def two_members_consumer_protocol(ctx: Context) -> dict[str, Any]:
    return _rebalance(ctx, "consumer", "uniform", eager=False)


def admin(ctx: Context) -> dict[str, Any]:
    topic = _topic_with_records(ctx, 2)
    group = ctx.topic_name("group")
    ctx.client.group_consume(topic, group, 2 * PER_PARTITION, assigned=2)
    ctx.setup.produce(topic, [{"key": "late", "value": "late", "partition": 0} for _ in range(3)])
    listed = ctx.client.list_groups().get(group)
    ctx.expect_equal("listed", listed is not None, True)
    # ListGroups answers a group's state from v4 and its type from v5: a client on an older
    # version (kafkajs: v2) reports neither, so only what the client reports is checked.
    wanted = {"state": "Empty", "group_type": "classic"}
    ctx.expect_equal("listed state and type", {k: listed.get(k) for k in wanted if k in (listed or {})},
                     {k: v for k, v in wanted.items() if k in (listed or {})})
    described = ctx.client.describe_groups([group])[group]
    ctx.expect_equal("described", [described.get("state"), described.get("members")], ["Empty", []])
    offsets = ctx.client.group_offsets(group, topic)
    ctx.expect_equal("offsets and lag", offsets, {"committed": {"0": PER_PARTITION, "1": PER_PARTITION}, "lag": {"0": 3, "1": 0}})
    deleted = ctx.client.delete_groups([group])
    ctx.expect_equal("delete", deleted, {group: None})
    again = ctx.client.delete_groups([group])
    ctx.expect_equal("delete again", again, {group: "GROUP_ID_NOT_FOUND"})
    gone = group not in ctx.client.list_groups()
    ctx.expect_equal("gone", gone, True)
    return {"listed": listed, "described": described, "offsets": offsets, "delete": deleted[group],
            "delete_again": again[group], "gone": gone}


def _produce_round(ctx: Context, topic: str, partitions: int, number: int) -> None:
    ctx.setup.produce(topic, [{"key": f"{number}-{p}-{i}", "value": f"{number}-{p}-{i}", "partition": p}
                              for p in range(partitions) for i in range(PER_PARTITION)])


def _split(a: MemberProcess, b: MemberProcess, partitions: int) -> bool:
    mine, theirs = a.assignment(), b.assignment()
    return bool(mine) and bool(theirs) and not set(mine) & set(theirs) and len(set(mine) | set(theirs)) == partitions


def _join_two(ctx: Context, topic: str, group: str, partitions: int, ids: tuple[str | None, str | None] = (None, None)
              ) -> tuple[MemberProcess, MemberProcess]:
    """Member a alone owns every partition, then member b joins and they split them."""
    a = ctx.client.group_member(topic, group, session_timeout_ms=SESSION_TIMEOUT_MS, instance_id=ids[0])
    try:
        a.wait_for("the first member owns every partition", lambda: len(a.assignment()) == partitions, JOIN_SECONDS)
        b = ctx.client.group_member(topic, group, session_timeout_ms=SESSION_TIMEOUT_MS, instance_id=ids[1])
    except BaseException:
        a.kill()
        raise
    try:
        b.wait_for("the two members split the partitions", lambda: _split(a, b, partitions), JOIN_SECONDS)
    except BaseException:
        a.kill()
        b.kill()
        raise
    return a, b


def _consumed(members: list[MemberProcess]) -> dict[str, list[int]]:
    """Every offset some member consumed, by partition (each once)."""
    out: dict[str, set[int]] = {}
    for m in members:
        for r in m.records():
            out.setdefault(str(r["partition"]), set()).add(r["offset"])
    return {p: sorted(offsets) for p, offsets in sorted(out.items())}


def _wait_all_consumed(ctx: Context, members: list[MemberProcess], partitions: int, rounds: int) -> dict[str, list[int]]:
    everything = {str(p): list(range(rounds * PER_PARTITION)) for p in range(partitions)}
    members[0].wait_for("every record produced consumed by some member", lambda: _consumed(members) == everything, JOIN_SECONDS)
    return _consumed(members)


def _member_goes(ctx: Context, how: str) -> dict[str, Any]:
    partitions = 4
    topic = _topic_with_records(ctx, partitions)
    a, b = _join_two(ctx, topic, ctx.topic_name("group"), partitions)
    try:
        split = sorted([len(a.assignment()), len(b.assignment())])
        _produce_round(ctx, topic, partitions, 1)
        if how == "leave":
            b.close()
            # LeaveGroup: the partitions move at the other member's next heartbeat, well before
            # the leaver's session would have expired.
            bound = SESSION_TIMEOUT_MS / 1000
        else:
            b.kill()
            # The coordinator expires the dead member after its session timeout; the other
            # member hears of the rebalance at its next heartbeat, and rejoins.
            bound = SESSION_TIMEOUT_MS / 1000 + 2 * HEARTBEAT_SECONDS + 5
        a.wait_for(f"the remaining member owns every partition within {bound:.0f} s", lambda: len(a.assignment()) == partitions, bound)
        records = _wait_all_consumed(ctx, [a, b], partitions, 2)
        return {"split": split, "after": a.assignment(), "records": records}
    finally:
        a.kill()
        b.kill()


def member_leaves(ctx: Context) -> dict[str, Any]:
    return _member_goes(ctx, "leave")


def member_killed(ctx: Context) -> dict[str, Any]:
    return _member_goes(ctx, "kill")


def static_member_restart(ctx: Context) -> dict[str, Any]:
    partitions = 4
    topic = _topic_with_records(ctx, partitions)
    group = ctx.topic_name("group")
    a, b = _join_two(ctx, topic, group, partitions, ids=("member-a", "member-b"))
    again = None
    try:
        kept = b.assignment()
        a_seen = (len(a.assignments()), len(a.revocations()))
        # A static member's close sends no LeaveGroup: the coordinator keeps its place for the
        # session timeout, and the same group.instance.id coming back takes it over.
        b.close()
        again = ctx.client.group_member(topic, group, session_timeout_ms=SESSION_TIMEOUT_MS, instance_id="member-b")
        again.wait_for("the restarted static member is assigned", lambda: bool(again.assignments()), SESSION_TIMEOUT_MS / 1000)
        _produce_round(ctx, topic, partitions, 1)
        records = _wait_all_consumed(ctx, [a, b, again], partitions, 2)
        # No rebalance: the other member hears of one at its next heartbeat, so it is given two.
        time.sleep(2 * HEARTBEAT_SECONDS)
        ctx.expect_equal("the restarted member's assignments", again.assignments(), [kept])
        ctx.expect_equal("the other member's assignments and revocations since", (len(a.assignments()), len(a.revocations())), a_seen)
        generations = [b.generations()[-1], again.generations()[-1]]
        ctx.expect_equal("generation before and after the restart", generations[1], generations[0])
        # The generation as the client tells it (null when it does not): Kafka 4.4 answers 2 to Java
        # (a joins, b joins) and 3 to franz-go (its cooperative join takes a second rebalance).
        return {"kept": again.assignment() == kept, "other_rebalanced": (len(a.assignments()), len(a.revocations())) != a_seen,
                "generation": generations[1], "records": records}
    finally:
        for m in (a, b, again):
            if m is not None:
                m.kill()


SCENARIOS = [
    Scenario("group-one-member", one_member, "one member of a group is assigned every partition and commits"),
    Scenario("group-commit-resume", commit_resume, "a restarted member resumes exactly after the committed offsets"),
    Scenario("group-two-members-range", two_members_range, "two members split the partitions (range, eager rebalance)"),
    Scenario("group-two-members-roundrobin", two_members_roundrobin,
             "two members split the partitions (roundrobin, eager: the assignor every client ships)"),
    Scenario("group-two-members-cooperative", two_members_cooperative,
             "cooperative-sticky: the first member keeps the partitions that do not move"),
    Scenario("group-two-members-consumer-protocol", two_members_consumer_protocol,
             "KIP-848 consumer protocol (server-side uniform assignor): split incrementally, group type consumer"),
    Scenario("group-admin-list-describe-lag-delete", admin, "list, describe, committed offsets and lag, delete of an empty group"),
    Scenario("group-member-leaves", member_leaves,
             "a member closes (LeaveGroup): the other owns every partition before a session timeout, no record lost"),
    Scenario("group-member-killed", member_killed,
             "a member's process is SIGKILLed: the other owns every partition once the session expires, no record lost"),
    Scenario("group-static-member-restart", static_member_restart,
             "a static member restarts within its session timeout: same assignment, same generation, no rebalance"),
]
