"""Server-side partition assignors of KIP-848 consumer groups: uniform and range.

An assignor is a plain function from the members (what each subscribes to,
by topic id, and its previous target assignment) and the partition counts of
the subscribed topics to a new target assignment. The coordinator decides
when to call it (when the group epoch moves past the assignment epoch).

    uniform  Kafka's default (UniformAssignor): every partition of a
             subscribed topic goes to one of its subscribers, counts per
             member differ by at most one among members that could take the
             partition, and partitions stay where they were when balance
             allows (sticky). Works for members with different subscriptions.
    range    Kafka's RangeAssignor: per topic, the subscribers in member-id
             order get contiguous ranges, the first (partitions % members)
             one partition more.

Kafka's uniform assignor may pick other members for the same partitions
(its exact choice is not part of the protocol; clients accept any valid
assignment); balance, completeness and stickiness are what it guarantees,
and what this one does too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kwire.groups.consumer_group import Assignment

UNIFORM = "uniform"
RANGE = "range"

# group.consumer.assignors accepts Kafka's class names too.
CLASS_NAMES = {
    "org.apache.kafka.coordinator.group.assignor.UniformAssignor": UNIFORM,
    "org.apache.kafka.coordinator.group.assignor.RangeAssignor": RANGE,
}


@dataclass(frozen=True)
class MemberSpec:
    topics: frozenset[uuid.UUID]
    current: Assignment = field(default_factory=dict)  # the previous target assignment


TopicPartition = tuple[uuid.UUID, int]
Assignor = Callable[[Mapping[str, MemberSpec], Mapping[uuid.UUID, int]], dict[str, dict[uuid.UUID, frozenset[int]]]]


def _as_assignment(members: Mapping[str, MemberSpec], owned: Mapping[str, set[TopicPartition]]) -> dict[str, dict[uuid.UUID, frozenset[int]]]:
    out: dict[str, dict[uuid.UUID, frozenset[int]]] = {}
    for member_id in members:
        by_topic: dict[uuid.UUID, set[int]] = {}
        for topic_id, partition in owned.get(member_id, ()):
            by_topic.setdefault(topic_id, set()).add(partition)
        out[member_id] = {t: frozenset(p) for t, p in by_topic.items()}
    return out


def uniform(members: Mapping[str, MemberSpec], partitions: Mapping[uuid.UUID, int]) -> dict[str, dict[uuid.UUID, frozenset[int]]]:
    order = sorted(members)
    owned: dict[str, set[TopicPartition]] = {m: set() for m in order}
    taken: set[TopicPartition] = set()
    # 1. Stickiness: keep what each member had, where it still subscribes and the partition exists.
    for member_id in order:
        spec = members[member_id]
        for topic_id, previous in spec.current.items():
            if topic_id not in spec.topics or topic_id not in partitions:
                continue
            for p in sorted(previous):
                if p < partitions[topic_id] and (topic_id, p) not in taken:
                    owned[member_id].add((topic_id, p))
                    taken.add((topic_id, p))
    # 2. Every free partition to the least loaded subscriber.
    for topic_id in sorted(partitions, key=str):
        subscribers = [m for m in order if topic_id in members[m].topics]
        if not subscribers:
            continue
        for p in range(partitions[topic_id]):
            if (topic_id, p) in taken:
                continue
            chosen = min(subscribers, key=lambda m: (len(owned[m]), m))
            owned[chosen].add((topic_id, p))
            taken.add((topic_id, p))
    # 3. Balance: move a partition from a member to a subscriber holding at
    #    least two fewer, until none can move. Each move lowers the sum of
    #    squared counts, so this ends; highest partitions move first, so a
    #    member keeps the start of its ranges.
    moved = True
    while moved:
        moved = False
        for member_id in sorted(order, key=lambda m: (-len(owned[m]), m)):
            load = len(owned[member_id])
            for topic_id, p in sorted(owned[member_id], key=lambda tp: (str(tp[0]), -tp[1])):
                candidates = [o for o in order if topic_id in members[o].topics and len(owned[o]) + 1 < load]
                if candidates:
                    target = min(candidates, key=lambda m: (len(owned[m]), m))
                    owned[member_id].discard((topic_id, p))
                    owned[target].add((topic_id, p))
                    moved = True
                    break
            if moved:
                break
    return _as_assignment(members, owned)


def range_(members: Mapping[str, MemberSpec], partitions: Mapping[uuid.UUID, int]) -> dict[str, dict[uuid.UUID, frozenset[int]]]:
    owned: dict[str, set[TopicPartition]] = {m: set() for m in members}
    for topic_id in sorted(partitions, key=str):
        subscribers = sorted(m for m in members if topic_id in members[m].topics)
        if not subscribers:
            continue
        count = partitions[topic_id]
        quota, extra = divmod(count, len(subscribers))
        start = 0
        for i, member_id in enumerate(subscribers):
            size = quota + (1 if i < extra else 0)
            owned[member_id].update((topic_id, p) for p in range(start, start + size))
            start += size
    return _as_assignment(members, owned)


ASSIGNORS: dict[str, Assignor] = {UNIFORM: uniform, RANGE: range_}


def resolve_names(configured: list[str]) -> list[str]:
    """group.consumer.assignors as short names; ValueError for an unknown one."""
    names = []
    for name in configured:
        short = CLASS_NAMES.get(name, name)
        if short not in ASSIGNORS:
            raise ValueError(f"group.consumer.assignors: unknown assignor {name!r} (kwire has {', '.join(ASSIGNORS)})")
        names.append(short)
    return names
