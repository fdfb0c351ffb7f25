"""The metadata image: an immutable snapshot of the cluster metadata.

Kafka's brokers read cluster metadata from a `MetadataImage` that the
metadata log's listener replaces wholesale after each batch of records
(KIP-500, KIP-631). kwire does the same: the state machine never mutates an
image; every applied command builds a new one that shares all unchanged
parts with the previous (a topic that did not change is the same
`TopicImage` object in both), and publishes it with one attribute store.
Readers on any thread take `quorum.image` once and use it without locks; a
reader never sees half of a command.

Immutability: frozen dataclasses, tuples, and `types.MappingProxyType` over
dicts that nothing else references. `__post_init__` converts plain dicts and
lists given by callers (tests, snapshot loading) into those forms, copying
them so that the caller's objects cannot change the image afterwards.

`image_to_dict` / `image_from_dict` give the JSON form used by snapshots
(docs/raft.md). `controller_id` is not part of it: it is this node's view of
who leads the quorum, not replicated state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping

EMPTY: Mapping[Any, Any] = MappingProxyType({})


def _empty() -> Mapping[Any, Any]:
    return EMPTY  # dataclasses refuse an unhashable default; a factory may return it

# Kafka reserves the all-zero topic id as "no id" (Uuid.ZERO_UUID).
ZERO_UUID = uuid.UUID(int=0)


def freeze_map(value: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """A read-only mapping. A proxy is taken as is; anything else is copied first."""
    if value is None:
        return EMPTY
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value))


def _freeze(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class BrokerRegistration:
    """A registered broker (KIP-631 BrokerRegistrationRecord, reduced).

    `epoch` is the image offset of the registration: Kafka's broker epoch,
    which a re-registration bumps so that stale requests can be fenced.
    """

    node_id: int
    host: str
    port: int
    rack: str | None = None
    fenced: bool = False
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class PartitionImage:
    """One partition's replica set and leadership (KIP-631 PartitionRecord).

    `leader_epoch` changes only when a leader is elected; `partition_epoch`
    on every change to the partition (leader or ISR), as in KIP-497's
    AlterPartition compare-and-set.
    """

    partition: int
    leader: int
    leader_epoch: int
    partition_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.replicas, tuple):
            _freeze(self, "replicas", tuple(self.replicas))
        if not isinstance(self.isr, tuple):
            _freeze(self, "isr", tuple(self.isr))


@dataclass(frozen=True, slots=True)
class TopicImage:
    """A topic: name, id, partitions by index, and its config overrides (str -> str)."""

    name: str
    topic_id: uuid.UUID
    partitions: Mapping[int, PartitionImage] = field(default_factory=_empty)
    configs: Mapping[str, str] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if not isinstance(self.topic_id, uuid.UUID):
            raise TypeError("topic_id must be a uuid.UUID")
        _freeze(self, "partitions", freeze_map(self.partitions))
        _freeze(self, "configs", freeze_map(self.configs))

    @property
    def num_partitions(self) -> int:
        return len(self.partitions)

    def partition(self, index: int) -> PartitionImage | None:
        return self.partitions.get(index)


@dataclass(frozen=True, slots=True)
class MetadataImage:
    """Everything a broker needs to answer Metadata, DescribeConfigs and friends.

    `offset` counts the commands applied so far (0 for an empty quorum): it
    only grows, is the same on every voter for the same state, and survives
    restarts, like the offset of Kafka's __cluster_metadata log.
    `broker_configs` is keyed by the ConfigResource name of a broker
    resource: "" for the cluster-wide default, str(node_id) for one broker.
    `next_producer_id` is the first id that `allocate_producer_ids` has not
    handed out yet.
    """

    cluster_id: str
    controller_id: int = -1
    offset: int = 0
    brokers: Mapping[int, BrokerRegistration] = field(default_factory=_empty)
    topics: Mapping[str, TopicImage] = field(default_factory=_empty)
    topics_by_id: Mapping[uuid.UUID, TopicImage] = field(default_factory=_empty)
    broker_configs: Mapping[str, Mapping[str, str]] = field(default_factory=_empty)
    next_producer_id: int = 0

    def __post_init__(self) -> None:
        _freeze(self, "brokers", freeze_map(self.brokers))
        _freeze(self, "topics", freeze_map(self.topics))
        if self.topics and not self.topics_by_id:
            _freeze(self, "topics_by_id", MappingProxyType({t.topic_id: t for t in self.topics.values()}))
        else:
            _freeze(self, "topics_by_id", freeze_map(self.topics_by_id))
        configs = self.broker_configs
        if not isinstance(configs, MappingProxyType) or any(
                not isinstance(v, MappingProxyType) for v in configs.values()):
            _freeze(self, "broker_configs", MappingProxyType({k: freeze_map(v) for k, v in configs.items()}))

    def topic(self, name: str) -> TopicImage | None:
        return self.topics.get(name)

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicImage | None:
        return self.topics_by_id.get(topic_id)

    def partition(self, topic: str, index: int) -> PartitionImage | None:
        t = self.topics.get(topic)
        return None if t is None else t.partitions.get(index)

    def broker(self, node_id: int) -> BrokerRegistration | None:
        return self.brokers.get(node_id)

    def unfenced_brokers(self) -> tuple[BrokerRegistration, ...]:
        """Brokers that may lead partitions and appear in Metadata responses, by id."""
        return tuple(b for _, b in sorted(self.brokers.items()) if not b.fenced)

    def broker_config(self, node_id: int) -> dict[str, str]:
        """Dynamic configs in force for one broker: its own over the cluster-wide default."""
        merged = dict(self.broker_configs.get("", EMPTY))
        merged.update(self.broker_configs.get(str(node_id), EMPTY))
        return merged

    def with_controller(self, controller_id: int) -> MetadataImage:
        return self if controller_id == self.controller_id else replace(self, controller_id=controller_id)


# ----------------------------------------------------------------------------
# JSON form (snapshots). Plain dicts/lists/str/int only, so any JSON reader
# can inspect a snapshot; field names match the dataclasses.

def image_to_dict(image: MetadataImage) -> dict[str, Any]:
    return {
        "cluster_id": image.cluster_id,
        "offset": image.offset,
        "next_producer_id": image.next_producer_id,
        "brokers": [
            {"node_id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack,
             "fenced": b.fenced, "epoch": b.epoch}
            for _, b in sorted(image.brokers.items())
        ],
        "topics": [
            {
                "name": t.name,
                "topic_id": str(t.topic_id),
                "configs": dict(t.configs),
                "partitions": [
                    {"partition": p.partition, "leader": p.leader, "leader_epoch": p.leader_epoch,
                     "partition_epoch": p.partition_epoch, "replicas": list(p.replicas), "isr": list(p.isr)}
                    for _, p in sorted(t.partitions.items())
                ],
            }
            for _, t in sorted(image.topics.items())
        ],
        "broker_configs": {k: dict(v) for k, v in sorted(image.broker_configs.items())},
    }


def _partitions(items: Iterable[dict[str, Any]]) -> Mapping[int, PartitionImage]:
    return MappingProxyType({
        p["partition"]: PartitionImage(p["partition"], p["leader"], p["leader_epoch"], p["partition_epoch"],
                                       tuple(p["replicas"]), tuple(p["isr"]))
        for p in items
    })


def image_from_dict(data: Mapping[str, Any]) -> MetadataImage:
    topics = {
        t["name"]: TopicImage(t["name"], uuid.UUID(t["topic_id"]), _partitions(t["partitions"]),
                              MappingProxyType(dict(t["configs"])))
        for t in data["topics"]
    }
    brokers = {
        b["node_id"]: BrokerRegistration(b["node_id"], b["host"], b["port"], b["rack"], b["fenced"], b["epoch"])
        for b in data["brokers"]
    }
    return MetadataImage(
        cluster_id=data["cluster_id"],
        offset=data["offset"],
        brokers=brokers,
        topics=topics,
        broker_configs=data["broker_configs"],
        next_producer_id=data["next_producer_id"],
    )
