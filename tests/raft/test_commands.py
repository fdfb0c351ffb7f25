"""apply_command: every command's results, its error codes, and determinism."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kwire_protocol.error_codes import ErrorCode
from kwire_raft import errors
from kwire_raft.commands import ConfigChange, LeaderChange, NewPartitions, NewTopic, apply_command
from kwire_raft.image import MetadataImage, image_from_dict, image_to_dict


def run(image: MetadataImage, command: dict[str, Any]) -> tuple[MetadataImage, Any]:
    new, result = apply_command(image, command)
    assert new.offset == image.offset + 1
    return new, result


def create(image: MetadataImage, *topics: NewTopic) -> tuple[MetadataImage, Any]:
    return run(image, {"op": "create_topics",
                       "topics": [t.to_dict(t.topic_id or uuid.uuid4()) for t in topics]})


def with_brokers(*ids: int, fenced: tuple[int, ...] = ()) -> MetadataImage:
    image = MetadataImage("cluster")
    for node in ids:
        image, epoch = run(image, {"op": "register_broker", "node_id": node, "host": "127.0.0.1",
                                   "port": 9090 + node, "rack": None, "fenced": node in fenced})
        assert epoch == image.offset
    return image


def test_error_codes_match_kafka() -> None:
    for name in ("NONE", "UNKNOWN_TOPIC_OR_PARTITION", "REQUEST_TIMED_OUT", "INVALID_TOPIC_EXCEPTION",
                 "TOPIC_ALREADY_EXISTS", "INVALID_PARTITIONS", "INVALID_REPLICATION_FACTOR",
                 "INVALID_REPLICA_ASSIGNMENT", "INVALID_CONFIG", "NOT_CONTROLLER", "INVALID_REQUEST",
                 "INVALID_UPDATE_VERSION", "UNKNOWN_TOPIC_ID", "BROKER_ID_NOT_REGISTERED"):
        assert getattr(errors, name) == ErrorCode[name].value, name


def test_register_and_unregister_broker() -> None:
    image = with_brokers(1)
    reg = image.brokers[1]
    assert (reg.host, reg.port, reg.fenced, reg.epoch) == ("127.0.0.1", 9091, False, 1)
    image, epoch = run(image, {"op": "register_broker", "node_id": 1, "host": "h2", "port": 1, "rack": "a",
                               "fenced": True})
    assert epoch == 2 and image.brokers[1] == reg.__class__(1, "h2", 1, "a", True, 2)
    image, code = run(image, {"op": "unregister_broker", "node_id": 1})
    assert code == errors.NONE and not image.brokers
    image, code = run(image, {"op": "unregister_broker", "node_id": 1})
    assert code == errors.BROKER_ID_NOT_REGISTERED


def test_create_topics() -> None:
    image = with_brokers(1, 2, 3, fenced=(2,))
    tid = uuid.uuid4()
    image, results = create(image, NewTopic("a", [[1, 2], [2, 3], [2, 1]], {"retention.ms": "5"}, tid))
    assert [(r.name, r.error_code, r.topic_id) for r in results] == [("a", 0, tid)]
    topic = image.topic("a")
    assert image.topic_by_id(tid) is topic and topic.configs == {"retention.ms": "5"}
    p0, p1, p2 = (topic.partitions[i] for i in range(3))
    assert (p0.replicas, p0.isr, p0.leader, p0.leader_epoch, p0.partition_epoch) == ((1, 2), (1,), 1, 0, 0)
    assert (p1.leader, p1.isr) == (3, (3,))
    assert (p2.leader, p2.isr) == (1, (1,))  # first unfenced replica leads


@pytest.mark.parametrize("topic, code", [
    (NewTopic("a", [[1]]), errors.TOPIC_ALREADY_EXISTS),
    (NewTopic("bad name!", [[1]]), errors.INVALID_TOPIC_EXCEPTION),
    (NewTopic("..", [[1]]), errors.INVALID_TOPIC_EXCEPTION),
    (NewTopic("x" * 250, [[1]]), errors.INVALID_TOPIC_EXCEPTION),
    (NewTopic("b", []), errors.INVALID_PARTITIONS),
    (NewTopic("b", [[]]), errors.INVALID_REPLICATION_FACTOR),
    (NewTopic("b", [[1], [1, 2]]), errors.INVALID_REPLICA_ASSIGNMENT),
    (NewTopic("b", [[1, 1]]), errors.INVALID_REPLICA_ASSIGNMENT),
    (NewTopic("b", [[7]]), errors.INVALID_REPLICA_ASSIGNMENT),
    (NewTopic("b", [[1]], {"k": 5}), errors.INVALID_CONFIG),  # type: ignore[dict-item]
    (NewTopic("b", [[1]], topic_id=uuid.UUID(int=0)), errors.TOPIC_ALREADY_EXISTS),
])
def test_create_topic_errors(topic: NewTopic, code: int) -> None:
    image, _ = create(with_brokers(1, 2), NewTopic("a", [[1]]))
    new, results = create(image, topic)
    assert results[0].error_code == code and results[0].error_message
    assert new.topics == image.topics


def test_create_topics_batch_with_duplicates_and_reused_id() -> None:
    image, results = create(with_brokers(1), NewTopic("a", [[1]]))
    used = results[0].topic_id
    image, results = create(image, NewTopic("d", [[1]]), NewTopic("ok", [[1]]), NewTopic("d", [[1]]),
                            NewTopic("other", [[1]], topic_id=used))
    assert [r.error_code for r in results] == [errors.INVALID_REQUEST, 0, errors.INVALID_REQUEST,
                                               errors.TOPIC_ALREADY_EXISTS]
    assert sorted(image.topics) == ["a", "ok"]


def test_delete_topics_by_name_and_id() -> None:
    image, results = create(with_brokers(1), NewTopic("a", [[1]]), NewTopic("b", [[1]]), NewTopic("c", [[1]]))
    ids = {r.name: r.topic_id for r in results}
    unknown = uuid.uuid4()
    image, results = run(image, {"op": "delete_topics", "names": ["a", "nope", "a"],
                                 "topic_ids": [str(ids["b"]), str(unknown)]})
    assert [(r.name, r.error_code) for r in results] == [
        ("a", 0), ("nope", errors.UNKNOWN_TOPIC_OR_PARTITION), ("a", errors.UNKNOWN_TOPIC_OR_PARTITION),
        ("b", 0), ("", errors.UNKNOWN_TOPIC_ID)]
    assert results[4].topic_id == unknown
    assert list(image.topics) == ["c"] and list(image.topics_by_id) == [ids["c"]]


def test_create_partitions() -> None:
    image, _ = create(with_brokers(1, 2), NewTopic("a", [[1, 2]]))
    image, results = run(image, {"op": "create_partitions", "topics": [NewPartitions("a", 3, [[2, 1], [1, 2]]).to_dict()]})
    assert results[0].error_code == 0
    topic = image.topic("a")
    assert topic.num_partitions == 3 and topic.partitions[1].leader == 2
    assert image.topic_by_id(topic.topic_id) is topic


@pytest.mark.parametrize("change, code", [
    (NewPartitions("a", 1, []), errors.INVALID_PARTITIONS),          # decrease
    (NewPartitions("a", 2, []), errors.INVALID_PARTITIONS),          # same count
    (NewPartitions("nope", 3, [[1]]), errors.UNKNOWN_TOPIC_OR_PARTITION),
    (NewPartitions("a", 4, [[1, 2]]), errors.INVALID_REPLICA_ASSIGNMENT),   # wrong number of lists
    (NewPartitions("a", 3, [[1]]), errors.INVALID_REPLICA_ASSIGNMENT),      # wrong replication factor
    (NewPartitions("a", 3, [[1, 9]]), errors.INVALID_REPLICA_ASSIGNMENT),   # unknown broker
])
def test_create_partitions_errors(change: NewPartitions, code: int) -> None:
    image, _ = create(with_brokers(1, 2), NewTopic("a", [[1, 2], [2, 1]]))
    new, results = run(image, {"op": "create_partitions", "topics": [change.to_dict()]})
    assert results[0].error_code == code
    assert new.topics == image.topics


def test_alter_topic_configs() -> None:
    image, _ = create(with_brokers(1), NewTopic("a", [[1]], {"x": "1", "y": "2"}))

    def alter(*changes: ConfigChange) -> list[int]:
        nonlocal image
        image, results = run(image, {"op": "alter_topic_configs", "topics": [c.to_dict() for c in changes]})
        return [r.error_code for r in results]

    assert alter(ConfigChange("a", {"y": "3", "z": "4"}, ["x", "missing"])) == [0]
    assert image.topic("a").configs == {"y": "3", "z": "4"}
    assert alter(ConfigChange("a", {"only": "1"}, replace=True)) == [0]
    assert image.topic("a").configs == {"only": "1"}
    assert alter(ConfigChange("nope", {"k": "v"})) == [errors.UNKNOWN_TOPIC_OR_PARTITION]
    assert alter(ConfigChange("a", {"k": None})) == [errors.INVALID_CONFIG]  # type: ignore[dict-item]
    assert alter(ConfigChange("a"), ConfigChange("a")) == [errors.INVALID_REQUEST] * 2
    assert image.topic("a").configs == {"only": "1"}
    assert image.topic_by_id(image.topic("a").topic_id) is image.topic("a")


def test_alter_broker_configs() -> None:
    image = MetadataImage("c")

    def alter(*changes: ConfigChange) -> list[int]:
        nonlocal image
        image, results = run(image, {"op": "alter_broker_configs", "resources": [c.to_dict() for c in changes]})
        return [r.error_code for r in results]

    assert alter(ConfigChange("", {"a": "1"}), ConfigChange("3", {"a": "2", "b": "1"})) == [0, 0]
    assert image.broker_config(3) == {"a": "2", "b": "1"} and image.broker_config(1) == {"a": "1"}
    assert alter(ConfigChange("3", delete=["a", "b"])) == [0]
    assert "3" not in image.broker_configs  # emptied resources disappear
    assert alter(ConfigChange("", {"z": "9"}, replace=True)) == [0]
    assert image.broker_configs == {"": {"z": "9"}}
    assert alter(ConfigChange("broker-x", {"a": "1"})) == [errors.INVALID_REQUEST]


def test_set_partition_leaders() -> None:
    image, _ = create(with_brokers(1, 2, 3), NewTopic("a", [[1, 2, 3]]))

    def elect(*changes: LeaderChange) -> list[tuple[int, int, int]]:
        nonlocal image
        image, results = run(image, {"op": "set_partition_leaders", "changes": [c.to_dict() for c in changes]})
        return [(r.error_code, r.leader_epoch, r.partition_epoch) for r in results]

    assert elect(LeaderChange("a", 0, 2)) == [(0, 1, 1)]
    p = image.partition("a", 0)
    assert (p.leader, p.isr) == (2, (1, 2, 3))
    assert elect(LeaderChange("a", 0, 3, isr=[3, 1], partition_epoch=1)) == [(0, 2, 2)]
    assert image.partition("a", 0).isr == (3, 1)
    assert elect(LeaderChange("a", 0, 2)) == [(0, 3, 3)]     # 2 not in ISR: unclean, ISR narrows to it
    assert image.partition("a", 0).isr == (2,)
    assert elect(LeaderChange("a", 0, -1)) == [(0, 4, 4)]    # no leader at all
    assert image.partition("a", 0).leader == -1
    before = image.partition("a", 0)
    assert elect(LeaderChange("a", 0, 1, partition_epoch=1),   # stale compare-and-set
                 LeaderChange("a", 0, 9),                      # not a replica
                 LeaderChange("a", 0, 1, isr=[2]),             # leader not in ISR
                 LeaderChange("a", 0, 1, isr=[1, 7]),          # ISR not within replicas
                 LeaderChange("a", 5, 1),
                 LeaderChange("nope", 0, 1)) == [
        (errors.INVALID_UPDATE_VERSION, 4, 4), (errors.INVALID_REPLICA_ASSIGNMENT, 4, 4),
        (errors.INVALID_REPLICA_ASSIGNMENT, 4, 4), (errors.INVALID_REPLICA_ASSIGNMENT, 4, 4),
        (errors.UNKNOWN_TOPIC_OR_PARTITION, -1, -1), (errors.UNKNOWN_TOPIC_OR_PARTITION, -1, -1)]
    assert image.partition("a", 0) == before


def test_allocate_producer_ids() -> None:
    image = MetadataImage("c")
    image, start = run(image, {"op": "allocate_producer_ids", "count": 1000})
    assert start == 0 and image.next_producer_id == 1000
    image, start = run(image, {"op": "allocate_producer_ids", "count": 5})
    assert start == 1000 and image.next_producer_id == 1005
    image, start = run(image, {"op": "allocate_producer_ids", "count": 0})
    assert start == -1 and image.next_producer_id == 1005


@pytest.mark.parametrize("command", [
    {"op": "from_the_future"}, {}, {"op": "create_topics"}, {"op": "create_topics", "topics": [{"name": "x"}]},
    {"op": "delete_topics", "topic_ids": ["not-a-uuid"]}, "not a dict",
])
def test_unknown_or_malformed_commands_change_nothing(command: Any) -> None:
    image = with_brokers(1)
    new, result = run(image, command)
    assert result == errors.INVALID_REQUEST
    assert new.topics == image.topics and new.brokers == image.brokers


# ----------------------------------------------------------------------------
# property: any command sequence keeps the image consistent, and a snapshot of
# it (the JSON form) reloads to the same image.

names = st.sampled_from(["a", "b", "c"])
replica_lists = st.lists(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=2, unique=True),
                         min_size=0, max_size=3)
commands = st.one_of(
    st.builds(lambda n, a: {"op": "create_topics", "topics": [NewTopic(n, a).to_dict(uuid.uuid4())]}, names, replica_lists),
    st.builds(lambda n: {"op": "delete_topics", "names": [n]}, names),
    st.builds(lambda n, c, a: {"op": "create_partitions", "topics": [NewPartitions(n, c, a).to_dict()]},
              names, st.integers(0, 5), replica_lists),
    st.builds(lambda n, k, v: {"op": "alter_topic_configs", "topics": [ConfigChange(n, {k: v}).to_dict()]},
              names, st.sampled_from(["x", "y"]), st.text(max_size=3)),
    st.builds(lambda n, p, l: {"op": "set_partition_leaders", "changes": [LeaderChange(n, p, l).to_dict()]},
              names, st.integers(0, 2), st.sampled_from([-1, 1, 2, 3])),
    st.builds(lambda c: {"op": "allocate_producer_ids", "count": c}, st.integers(1, 10)),
    st.builds(lambda node, fenced: {"op": "register_broker", "node_id": node, "host": "h", "port": 1,
                                    "fenced": fenced}, st.sampled_from([1, 2, 3]), st.booleans()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(commands, max_size=25))
def test_any_command_sequence_keeps_image_consistent(sequence: list[dict[str, Any]]) -> None:
    image = MetadataImage("c")
    for command in sequence:
        image, _ = apply_command(image, command)
    assert image.offset == len(sequence)
    assert {t.topic_id: t for t in image.topics.values()} == dict(image.topics_by_id)
    for topic in image.topics.values():
        assert sorted(topic.partitions) == list(range(topic.num_partitions))
        for p in topic.partitions.values():
            assert set(p.isr) <= set(p.replicas) and (p.leader == -1 or p.leader in p.isr)
    assert image_from_dict(image_to_dict(image)) == image
    # determinism: replaying the same commands gives an equal image
    again = MetadataImage("c")
    for command in sequence:
        again, _ = apply_command(again, command)
    assert again == image
