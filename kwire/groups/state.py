"""The classic group state machine, as a transition table.

Kafka's ClassicGroupState (and GroupMetadata.scala before it): a group is

    Empty                no members; may still hold committed offsets
    PreparingRebalance   members are (re)joining; JoinGroup answers wait
    CompletingRebalance  everyone joined; waiting for the leader's SyncGroup
    Stable               assignments handed out; heartbeats keep members
    Dead                 no members, no offsets; about to be removed

`VALID_PREVIOUS` lists, for each state, the states a group may come from.
Anything else is a bug in the coordinator, not something a client can
cause, so `check_transition` raises (IllegalStateException in Kafka).
"""

from __future__ import annotations

import enum


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


EMPTY = GroupState.EMPTY
PREPARING_REBALANCE = GroupState.PREPARING_REBALANCE
COMPLETING_REBALANCE = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE
DEAD = GroupState.DEAD

VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    EMPTY: frozenset({PREPARING_REBALANCE}),
    PREPARING_REBALANCE: frozenset({STABLE, COMPLETING_REBALANCE, EMPTY}),
    COMPLETING_REBALANCE: frozenset({PREPARING_REBALANCE}),
    STABLE: frozenset({COMPLETING_REBALANCE}),
    DEAD: frozenset({STABLE, PREPARING_REBALANCE, COMPLETING_REBALANCE, EMPTY, DEAD}),
}


class IllegalStateTransition(RuntimeError):
    """The coordinator tried a transition the table forbids (our bug)."""


def check_transition(group_id: str, current: GroupState, target: GroupState) -> None:
    if current not in VALID_PREVIOUS[target]:
        raise IllegalStateTransition(f"group {group_id}: {current.value} -> {target.value} is not a valid transition")
