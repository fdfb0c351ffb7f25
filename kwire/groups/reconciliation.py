"""Reconciliation: one step of a member from its current toward its target assignment.

Kafka's CurrentAssignmentBuilder (KIP-848). A plain function of the member,
the group's target (epoch and partitions), what the member says it owns,
and who holds each partition; the coordinator calls it on every heartbeat.

    STABLE                 at the target epoch: nothing to do. Behind it:
                           compute the next assignment (below).
    UNREVOKED_PARTITIONS   waits until the member's heartbeat no longer
                           lists the partitions to revoke, then computes
                           the next assignment. Its epoch does not move
                           meanwhile (its rebalance timeout bounds the wait).
    UNRELEASED_PARTITIONS  at the target epoch, but some of its partitions
                           are still held by other members: it gets them as
                           they are released.

Next assignment, per topic: partitions in both current and target are
kept; current-only ones are to be revoked; target-only ones are added
unless another member still holds them. Anything to revoke: the member
stays at its epoch with only the kept partitions (UNREVOKED_PARTITIONS).
Otherwise it moves to the target epoch, with what it could get
(UNRELEASED_PARTITIONS if something is still held elsewhere, else STABLE).
A partition newly given to the member records the epoch it was assigned at
(KIP-1251); kept partitions keep theirs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from kwire.groups.consumer_group import Assignment, ConsumerGroupMember, EpochAssignment, MemberState

Owner = Callable[[uuid.UUID, int], str | None]


def reconcile(
    member: ConsumerGroupMember,
    target_epoch: int,
    target: Assignment,
    owned: Iterable[tuple[uuid.UUID, Iterable[int]]] | None,
    owner: Owner,
) -> ConsumerGroupMember:
    if member.state == MemberState.UNREVOKED_PARTITIONS:
        # A heartbeat without owned partitions says nothing about revocation (KIP-848): wait.
        if owned is None or _still_owns(member.pending_revocation, owned):
            return member
        return next_assignment(member, member.member_epoch, target_epoch, target, owner)
    if member.state == MemberState.UNRELEASED_PARTITIONS or member.member_epoch != target_epoch:
        return next_assignment(member, member.member_epoch, target_epoch, target, owner)
    return member


def _still_owns(pending: EpochAssignment, owned: Iterable[tuple[uuid.UUID, Iterable[int]]]) -> bool:
    for topic_id, partitions in owned:
        revoking = pending.get(topic_id)
        if revoking and any(p in revoking for p in partitions):
            return True
    return False


def next_assignment(member: ConsumerGroupMember, member_epoch: int, target_epoch: int, target: Assignment, owner: Owner) -> ConsumerGroupMember:
    kept: dict[uuid.UUID, dict[int, int]] = {}
    added: dict[uuid.UUID, dict[int, int]] = {}
    revoking: dict[uuid.UUID, dict[int, int]] = {}
    unreleased = False
    for topic_id in set(member.assigned) | set(target):
        current = member.assigned.get(topic_id, {})
        wanted = target.get(topic_id, frozenset())
        for p, epoch in current.items():
            if p in wanted:
                kept.setdefault(topic_id, {})[p] = epoch
            else:
                revoking.setdefault(topic_id, {})[p] = epoch
        for p in wanted:
            if p in current:
                continue
            holder = owner(topic_id, p)
            if holder is not None and holder != member.member_id:
                unreleased = True
            else:
                added.setdefault(topic_id, {})[p] = target_epoch
    if revoking:
        return member.with_changes(
            state=MemberState.UNREVOKED_PARTITIONS,
            member_epoch=member_epoch,
            previous_member_epoch=member.member_epoch if member_epoch != member.member_epoch else member.previous_member_epoch,
            assigned=kept,
            pending_revocation=revoking,
        )
    assigned = {t: dict(p) for t, p in kept.items()}
    for topic_id, partitions in added.items():
        assigned.setdefault(topic_id, {}).update(partitions)
    return member.with_changes(
        state=MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE,
        member_epoch=target_epoch,
        previous_member_epoch=member.member_epoch if target_epoch != member.member_epoch else member.previous_member_epoch,
        assigned=assigned,
        pending_revocation={},
    )
