"""Metadata commands: plain-data descriptions and the pure function that applies them.

A command is a dict of plain values (str, int, bool, None, lists, dicts),
with "op" naming it, for example

    {"op": "create_topics", "topics": [{"name": "t", "topic_id": "<uuid>",
                                        "assignments": [[1], [1]], "configs": {}}]}

`apply_command(image, command)` returns the next image and the command's
result. It is deterministic: it reads nothing but its arguments (no clock,
no randomness, no local config), so every voter that applies the same
commands in the same order reaches the same image. That is why anything
random (topic ids) is chosen by the caller before the command is
replicated, and why validation that depends on the current metadata (does
the name exist? is this broker registered?) happens here, at apply time,
and not in the caller: two brokers creating the same topic at once both
pass any check made before replication, but only the first of the two
commands applied finds the name free (KIP-631 ReplicationControlManager
does the same inside the controller).

Every applied command, even one refused item by item, yields a new image
with `offset + 1`, so the offset counts applied commands.

Results carry Kafka error codes (kwire_raft.errors) per item, in the order
of the items in the command. A command this version does not know (an op
added later, met while replaying a newer journal) changes nothing and
returns INVALID_REQUEST rather than stopping the quorum.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from . import errors
from .image import EMPTY, ZERO_UUID, _empty, BrokerRegistration, MetadataImage, PartitionImage, TopicImage

# Kafka's topic name rule (org.apache.kafka.common.internals.Topic).
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")


@dataclass(frozen=True, slots=True)
class ItemResult:
    """Result for one topic or config resource of a batch command."""

    name: str
    error_code: int = errors.NONE
    error_message: str | None = None
    topic_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """Result for one partition of `set_partition_leaders`, with the epochs after the change."""

    topic: str
    partition: int
    error_code: int = errors.NONE
    error_message: str | None = None
    leader_epoch: int = -1
    partition_epoch: int = -1


# ----------------------------------------------------------------------------
# What callers pass to MetadataQuorum; each becomes part of a command dict.

@dataclass(frozen=True, slots=True)
class NewTopic:
    """A topic to create. `assignments[i]` is the replica list of partition i
    (the broker chooses it); `topic_id` None lets the quorum pick a random one."""

    name: str
    assignments: Sequence[Sequence[int]]
    configs: Mapping[str, str] = field(default_factory=_empty)
    topic_id: uuid.UUID | None = None

    def to_dict(self, topic_id: uuid.UUID) -> dict[str, Any]:
        return {"name": self.name, "topic_id": str(topic_id),
                "assignments": [list(r) for r in self.assignments], "configs": dict(self.configs)}


@dataclass(frozen=True, slots=True)
class NewPartitions:
    """Grow topic `name` to `count` partitions; one replica list per new partition."""

    name: str
    count: int
    assignments: Sequence[Sequence[int]]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "assignments": [list(r) for r in self.assignments]}


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """Config change of one resource (a topic name, or "" / a broker id for broker configs).

    Incremental (IncrementalAlterConfigs, KIP-339): keys in `set` are set,
    keys in `delete` removed. `replace=True`: the resource's configs become
    exactly `set` (legacy AlterConfigs).
    """

    name: str
    set: Mapping[str, str] = field(default_factory=_empty)
    delete: Sequence[str] = ()
    replace: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "set": dict(self.set), "delete": list(self.delete), "replace": self.replace}


@dataclass(frozen=True, slots=True)
class LeaderChange:
    """Elect `leader` (-1: none) for one partition; see `_set_partition_leaders`."""

    topic: str
    partition: int
    leader: int
    isr: Sequence[int] | None = None
    partition_epoch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "leader": self.leader,
                "isr": None if self.isr is None else list(self.isr), "partition_epoch": self.partition_epoch}


def apply_command(image: MetadataImage, command: Mapping[str, Any]) -> tuple[MetadataImage, Any]:
    """Apply one command; returns (next image, result). Never raises for bad input."""
    handler = _HANDLERS.get(command.get("op", "")) if isinstance(command, Mapping) else None
    if handler is not None:
        try:
            return handler(image, image.offset + 1, command)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A malformed command fails the same way on every voter; raising
            # would instead stall pysyncobj, which retries the entry forever.
            pass
    return replace(image, offset=image.offset + 1), errors.INVALID_REQUEST


# ----------------------------------------------------------------------------
# brokers

def _register_broker(image: MetadataImage, offset: int, cmd: Mapping[str, Any]) -> tuple[MetadataImage, int]:
    """Result: the broker epoch (the offset of this registration)."""
    reg = BrokerRegistration(cmd["node_id"], cmd["host"], cmd["port"], cmd.get("rack"),
                             bool(cmd.get("fenced", False)), offset)
    brokers = dict(image.brokers)
    brokers[reg.node_id] = reg
    return replace(image, offset=offset, brokers=MappingProxyType(brokers)), offset


def _unregister_broker(image: MetadataImage, offset: int, cmd: Mapping[str, Any]) -> tuple[MetadataImage, int]:
    node_id = cmd["node_id"]
    if node_id not in image.brokers:
        return replace(image, offset=offset), errors.BROKER_ID_NOT_REGISTERED
    brokers = dict(image.brokers)
    del brokers[node_id]
    return replace(image, offset=offset, brokers=MappingProxyType(brokers)), errors.NONE


# ----------------------------------------------------------------------------
# topics

def _duplicates(names: Sequence[str]) -> set[str]:
    return {n for n, c in Counter(names).items() if c > 1}


def _check_assignments(image: MetadataImage, assignments: Any, replication: int | None) -> tuple[int, str] | None:
    """Validate partition replica lists; returns (error code, message) or None.

    `replication` is the replication factor the lists must have (that of
    the existing partitions), or None to take it from the first list.
    """
    if not isinstance(assignments, (list, tuple)):
        return errors.INVALID_REPLICA_ASSIGNMENT, "replica assignments must be a list"
    for replicas in assignments:
        if not isinstance(replicas, (list, tuple)) or not replicas:
            return errors.INVALID_REPLICATION_FACTOR, "every partition needs at least one replica"
        if replication is None:
            replication = len(replicas)
        if len(replicas) != replication:
            return errors.INVALID_REPLICA_ASSIGNMENT, "all partitions must have the same number of replicas"
        if len(set(replicas)) != len(replicas):
            return errors.INVALID_REPLICA_ASSIGNMENT, f"duplicate broker in replicas {list(replicas)}"
        for node in replicas:
            if not isinstance(node, int) or node not in image.brokers:
                return errors.INVALID_REPLICA_ASSIGNMENT, f"broker {node} is not registered"
    return None


def _new_partition(image: MetadataImage, index: int, replicas: Sequence[int]) -> PartitionImage:
    # As Kafka's controller does: the ISR is the replicas on unfenced brokers
    # and the leader the first of them; no live replica means no leader (-1).
    isr = tuple(r for r in replicas if not image.brokers[r].fenced)
    return PartitionImage(index, isr[0] if isr else -1, 0, 0, tuple(replicas), isr)


def _check_configs(configs: Any) -> str | None:
    if not isinstance(configs, Mapping):
        return "configs must be a mapping"
    for k, v in configs.items():
        if not isinstance(k, str) or not isinstance(v, str):
            return f"config {k!r} must map a string to a string"
    return None


def _with_topics(image: MetadataImage, offset: int, topics: dict[str, TopicImage],
                 by_id: dict[uuid.UUID, TopicImage]) -> MetadataImage:
    return replace(image, offset=offset, topics=MappingProxyType(topics), topics_by_id=MappingProxyType(by_id))


def _create_topics(image: MetadataImage, offset: int, cmd: Mapping[str, Any]) -> tuple[MetadataImage, list[ItemResult]]:
    items = cmd["topics"]
    dup = _duplicates([t["name"] for t in items])
    topics, by_id = dict(image.topics), dict(image.topics_by_id)
    results = []
    for t in items:
        name = t["name"]
        topic_id = uuid.UUID(t["topic_id"])
        error = None
        if name in dup:
            error = errors.INVALID_REQUEST, f"topic {name!r} appears more than once in the request"
        elif not isinstance(name, str) or not _LEGAL_TOPIC.fullmatch(name) or name in (".", ".."):
            error = errors.INVALID_TOPIC_EXCEPTION, f"illegal topic name {name!r}"
        elif name in topics:
            error = errors.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists."
        elif topic_id == ZERO_UUID or topic_id in by_id:
            error = errors.TOPIC_ALREADY_EXISTS, f"topic id {topic_id} is reserved or in use"
        elif not t["assignments"]:
            error = errors.INVALID_PARTITIONS, "a topic needs at least one partition"
        else:
            error = _check_assignments(image, t["assignments"], None)
            if error is None and (message := _check_configs(t.get("configs", {}))) is not None:
                error = errors.INVALID_CONFIG, message
        if error is not None:
            results.append(ItemResult(name, error[0], error[1]))
            continue
        partitions = {i: _new_partition(image, i, r) for i, r in enumerate(t["assignments"])}
        topic = TopicImage(name, topic_id, MappingProxyType(partitions), MappingProxyType(dict(t.get("configs", {}))))
        topics[name] = by_id[topic_id] = topic
        results.append(ItemResult(name, errors.NONE, None, topic_id))
    return _with_topics(image, offset, topics, by_id), results


def _delete_topics(image: MetadataImage, offset: int, cmd: Mapping[str, Any]) -> tuple[MetadataImage, list[ItemResult]]:
    """One result per requested name, then one per requested id; a topic named twice is deleted once."""
    topics, by_id = dict(image.topics), dict(image.topics_by_id)
    results = []

    def delete(topic: TopicImage) -> None:
        del topics[topic.name]
        del by_id[topic.topic_id]
        results.append(ItemResult(topic.name, errors.NONE, None, topic.topic_id))

    for name in cmd.get("names", ()):
        topic = topics.get(name)
        if topic is None:
            results.append(ItemResult(name, errors.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic."))
        else:
            delete(topic)
    for raw_id in cmd.get("topic_ids", ()):
        topic = by_id.get(uuid.UUID(raw_id))
        if topic is None:
            results.append(ItemResult("", errors.UNKNOWN_TOPIC_ID, f"unknown topic id {raw_id}", uuid.UUID(raw_id)))
        else:
            delete(topic)
    return _with_topics(image, offset, topics, by_id), results


def _create_partitions(image: MetadataImage, offset: int,
                       cmd: Mapping[str, Any]) -> tuple[MetadataImage, list[ItemResult]]:
    """Grow topics to `count` partitions; Kafka never shrinks a topic (INVALID_PARTITIONS)."""
    items = cmd["topics"]
    dup = _duplicates([t["name"] for t in items])
    topics, by_id = dict(image.topics), dict(image.topics_by_id)
    results = []
    for t in items:
        name, count, assignments = t["name"], t["count"], t["assignments"]
        topic = topics.get(name)
        error = None
        if name in dup:
            error = errors.INVALID_REQUEST, f"topic {name!r} appears more than once in the request"
        elif topic is None:
            error = errors.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic."
        elif count < topic.num_partitions:
            error = (errors.INVALID_PARTITIONS,
                     f"Topic currently has {topic.num_partitions} partitions, which is higher than the requested {count}.")
        elif count == topic.num_partitions:
            error = errors.INVALID_PARTITIONS, f"Topic already has {count} partitions."
        elif not isinstance(assignments, (list, tuple)) or len(assignments) != count - topic.num_partitions:
            error = (errors.INVALID_REPLICA_ASSIGNMENT,
                     f"expected replica lists for {count - topic.num_partitions} new partitions")
        else:
            error = _check_assignments(image, assignments, len(topic.partitions[0].replicas))
        if error is not None:
            results.append(ItemResult(name, error[0], error[1], topic.topic_id if topic else None))
            continue
        partitions = dict(topic.partitions)
        for i, replicas in enumerate(assignments, start=topic.num_partitions):
            partitions[i] = _new_partition(image, i, replicas)
        new_topic = replace(topic, partitions=MappingProxyType(partitions))
        topics[name] = by_id[topic.topic_id] = new_topic
        results.append(ItemResult(name, errors.NONE, None, topic.topic_id))
    return _with_topics(image, offset, topics, by_id), results


def _altered(current: Mapping[str, str], change: Mapping[str, Any]) -> dict[str, str]:
    """`replace` swaps the whole set (legacy AlterConfigs); otherwise set then delete keys (KIP-339)."""
    if change.get("replace"):
        return dict(change.get("set", {}))
    configs = dict(current)
    configs.update(change.get("set", {}))
    for key in change.get("delete", ()):
        configs.pop(key, None)
    return configs


def _alter_topic_configs(image: MetadataImage, offset: int,
                         cmd: Mapping[str, Any]) -> tuple[MetadataImage, list[ItemResult]]:
    items = cmd["topics"]
    dup = _duplicates([t["name"] for t in items])
    topics, by_id = dict(image.topics), dict(image.topics_by_id)
    results = []
    for change in items:
        name = change["name"]
        topic = topics.get(name)
        if name in dup:
            results.append(ItemResult(name, errors.INVALID_REQUEST, f"topic {name!r} appears more than once"))
        elif topic is None:
            results.append(ItemResult(name, errors.UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic."))
        elif (message := _check_configs(change.get("set", {}))) is not None:
            results.append(ItemResult(name, errors.INVALID_CONFIG, message, topic.topic_id))
        else:
            new_topic = replace(topic, configs=MappingProxyType(_altered(topic.configs, change)))
            topics[name] = by_id[topic.topic_id] = new_topic
            results.append(ItemResult(name, errors.NONE, None, topic.topic_id))
    return _with_topics(image, offset, topics, by_id), results


def _alter_broker_configs(image: MetadataImage, offset: int,
                          cmd: Mapping[str, Any]) -> tuple[MetadataImage, list[ItemResult]]:
    """Resources are named "" (cluster-wide default) or a broker id, as in Kafka's ConfigResource."""
    items = cmd["resources"]
    dup = _duplicates([r["name"] for r in items])
    configs = dict(image.broker_configs)
    results = []
    for change in items:
        name = change["name"]
        if name in dup:
            results.append(ItemResult(name, errors.INVALID_REQUEST, f"resource {name!r} appears more than once"))
        elif not isinstance(name, str) or not (name == "" or name.isdecimal()):
            results.append(ItemResult(name, errors.INVALID_REQUEST, f"invalid broker resource name {name!r}"))
        elif (message := _check_configs(change.get("set", {}))) is not None:
            results.append(ItemResult(name, errors.INVALID_CONFIG, message))
        else:
            new = _altered(configs.get(name, EMPTY), change)
            if new:
                configs[name] = MappingProxyType(new)
            else:
                configs.pop(name, None)
            results.append(ItemResult(name))
    return replace(image, offset=offset, broker_configs=MappingProxyType(configs)), results


def _set_partition_leaders(image: MetadataImage, offset: int,
                           cmd: Mapping[str, Any]) -> tuple[MetadataImage, list[PartitionResult]]:
    """Elect leaders: each change bumps the leader epoch and the partition epoch.

    `partition_epoch`, when given, must equal the current one (the
    compare-and-set of KIP-497), else INVALID_UPDATE_VERSION. `isr` None
    keeps the ISR if it holds the new leader, else narrows it to the leader
    (an unclean election). Leader -1 records that no replica can lead.
    """
    topics, by_id = dict(image.topics), dict(image.topics_by_id)
    results = []
    for change in cmd["changes"]:
        name, index, leader = change["topic"], change["partition"], change["leader"]
        topic = topics.get(name)
        part = topic.partitions.get(index) if topic is not None else None
        if part is None:
            results.append(PartitionResult(name, index, errors.UNKNOWN_TOPIC_OR_PARTITION,
                                           "This server does not host this topic-partition."))
            continue
        expected = change.get("partition_epoch")
        isr = change.get("isr")
        if isr is None:
            isr = part.isr if (leader in part.isr or leader == -1) else (leader,)
        isr = tuple(isr)
        error = None
        if expected is not None and expected != part.partition_epoch:
            error = (errors.INVALID_UPDATE_VERSION,
                     f"partition epoch is {part.partition_epoch}, the change expected {expected}")
        elif leader != -1 and leader not in part.replicas:
            error = errors.INVALID_REPLICA_ASSIGNMENT, f"leader {leader} is not a replica of {name}-{index}"
        elif not set(isr) <= set(part.replicas) or len(set(isr)) != len(isr):
            error = errors.INVALID_REPLICA_ASSIGNMENT, f"ISR {list(isr)} is not a set of replicas of {name}-{index}"
        elif leader != -1 and leader not in isr:
            error = errors.INVALID_REPLICA_ASSIGNMENT, f"leader {leader} is not in the ISR {list(isr)}"
        if error is not None:
            results.append(PartitionResult(name, index, error[0], error[1], part.leader_epoch, part.partition_epoch))
            continue
        new_part = replace(part, leader=leader, isr=isr, leader_epoch=part.leader_epoch + 1,
                           partition_epoch=part.partition_epoch + 1)
        partitions = dict(topic.partitions)
        partitions[index] = new_part
        topic = replace(topic, partitions=MappingProxyType(partitions))
        topics[name] = by_id[topic.topic_id] = topic
        results.append(PartitionResult(name, index, errors.NONE, None, new_part.leader_epoch, new_part.partition_epoch))
    return _with_topics(image, offset, topics, by_id), results


# ----------------------------------------------------------------------------
# producer ids

def _allocate_producer_ids(image: MetadataImage, offset: int, cmd: Mapping[str, Any]) -> tuple[MetadataImage, int]:
    """Hand out [start, start + count); result: start, or -1 for a bad count.

    The block is part of the replicated state, so once a caller has seen
    the result no restart or failover can hand the same ids out again
    (Kafka's ProducerIdControlManager, KIP-730).
    """
    count = cmd["count"]
    if not isinstance(count, int) or count < 1:
        return replace(image, offset=offset), -1
    start = image.next_producer_id
    return replace(image, offset=offset, next_producer_id=start + count), start


_HANDLERS: dict[str, Callable[[MetadataImage, int, Mapping[str, Any]], tuple[MetadataImage, Any]]] = {
    "register_broker": _register_broker,
    "unregister_broker": _unregister_broker,
    "create_topics": _create_topics,
    "delete_topics": _delete_topics,
    "create_partitions": _create_partitions,
    "alter_topic_configs": _alter_topic_configs,
    "alter_broker_configs": _alter_broker_configs,
    "set_partition_leaders": _set_partition_leaders,
    "allocate_producer_ids": _allocate_producer_ids,
}
