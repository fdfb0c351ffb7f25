"""Server-side assignors (uniform, range): complete, balanced, sticky; seeded random cases."""

from __future__ import annotations

import random
import uuid

import pytest

from kwire.groups.assignors import RANGE, UNIFORM, MemberSpec, range_, resolve_names, uniform

T1, T2, T3 = (uuid.UUID(int=i) for i in (1, 2, 3))


def flatten(assignment: dict[str, dict[uuid.UUID, frozenset[int]]]) -> dict[tuple[uuid.UUID, int], str]:
    owners: dict[tuple[uuid.UUID, int], str] = {}
    for member, topics in assignment.items():
        for topic, partitions in topics.items():
            for p in partitions:
                assert (topic, p) not in owners, f"{topic}-{p} given twice"
                owners[(topic, p)] = member
    return owners


def counts(assignment: dict[str, dict[uuid.UUID, frozenset[int]]]) -> dict[str, int]:
    return {m: sum(len(p) for p in t.values()) for m, t in assignment.items()}


def test_one_member_gets_everything() -> None:
    result = uniform({"a": MemberSpec(frozenset({T1, T2}))}, {T1: 3, T2: 2})
    assert result == {"a": {T1: frozenset({0, 1, 2}), T2: frozenset({0, 1})}}


def test_uniform_balances_and_keeps_the_start_of_the_first_members_ranges() -> None:
    # Kafka 4.4 gave the first member [0, 1] and the newcomer [2, 3] in this case.
    before = {"a": MemberSpec(frozenset({T1}), {T1: frozenset(range(4))}), "b": MemberSpec(frozenset({T1}))}
    assert uniform(before, {T1: 4}) == {"a": {T1: frozenset({0, 1})}, "b": {T1: frozenset({2, 3})}}


def test_uniform_is_sticky_when_a_member_leaves() -> None:
    members = {m: MemberSpec(frozenset({T1})) for m in "abc"}
    first = uniform(members, {T1: 9})
    assert counts(first) == {"a": 3, "b": 3, "c": 3}
    remaining = {m: MemberSpec(frozenset({T1}), first[m]) for m in "ab"}
    second = uniform(remaining, {T1: 9})
    for m in "ab":
        assert first[m][T1] <= second[m][T1], "a remaining member keeps what it had"
    assert sorted(counts(second).values()) == [4, 5]


def test_uniform_with_different_subscriptions() -> None:
    members = {"a": MemberSpec(frozenset({T1})), "b": MemberSpec(frozenset({T1, T2})), "c": MemberSpec(frozenset({T2}))}
    result = uniform(members, {T1: 4, T2: 4})
    owners = flatten(result)
    assert len(owners) == 8
    assert all(t == T1 for t in result["a"]) and all(t == T2 for t in result["c"])
    assert max(counts(result).values()) - min(counts(result).values()) <= 1


@pytest.mark.parametrize("seed", range(20))
def test_uniform_random_cases_are_complete_and_balanced(seed: int) -> None:
    rng = random.Random(seed)
    topics = {uuid.UUID(int=100 + i): rng.randint(1, 12) for i in range(rng.randint(1, 4))}
    members = {f"m{i}": MemberSpec(frozenset(topics)) for i in range(rng.randint(1, 7))}
    # a previous assignment, possibly stale (some members gone, partitions shuffled)
    previous = uniform(members, topics)
    survivors = {m: MemberSpec(frozenset(topics), previous[m]) for m in members if rng.random() < 0.7} or {"x": MemberSpec(frozenset(topics))}
    result = uniform(survivors, topics)
    owners = flatten(result)
    assert len(owners) == sum(topics.values()), f"seed {seed}: every partition assigned"
    loads = counts(result).values()
    assert max(loads) - min(loads) <= 1, f"seed {seed}: balanced"


def test_range_gives_contiguous_ranges_per_topic() -> None:
    members = {"b": MemberSpec(frozenset({T1, T2})), "a": MemberSpec(frozenset({T1, T2}))}
    result = range_(members, {T1: 5, T2: 2})
    assert result["a"] == {T1: frozenset({0, 1, 2}), T2: frozenset({0})}
    assert result["b"] == {T1: frozenset({3, 4}), T2: frozenset({1})}


def test_range_only_to_subscribers() -> None:
    result = range_({"a": MemberSpec(frozenset({T1})), "b": MemberSpec(frozenset({T3}))}, {T1: 2, T3: 1})
    assert result == {"a": {T1: frozenset({0, 1})}, "b": {T3: frozenset({0})}}


def test_configured_names() -> None:
    assert resolve_names(["org.apache.kafka.coordinator.group.assignor.RangeAssignor", "uniform"]) == [RANGE, UNIFORM]
    with pytest.raises(ValueError):
        resolve_names(["sticky"])
