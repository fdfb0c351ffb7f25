"""Topic administration: CreateTopics, DeleteTopics and CreatePartitions.

Shared by the handlers and by auto-creation (Metadata). What depends only on
the request and this broker's view of the metadata is checked here, in the
order Kafka 4.x's controller checks it (ReplicationControlManager), with its
error codes and messages (compared with Apache Kafka 4.4's answers). The
quorum's state machine checks again at apply time whatever depends on the
metadata then (does the name exist?), so concurrent creations of one name
resolve to exactly one winner.

A write waits for the quorum under the request's `timeout_ms` (a value <= 0
means the time is already up: REQUEST_TIMED_OUT, nothing changes, as Kafka
answers), and then until this broker has applied the new image, so the
logs of new partitions exist, and those of deleted topics are gone, before
the client hears back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kwire_protocol.error_codes import ErrorCode
from kwire_raft.commands import NewPartitions, NewTopic
from kwire_raft.errors import QuorumError
from kwire_raft.image import MetadataImage
from kwire.topic_configs import ConfigRejected, check_topic_overrides
from kwire.topics import colliding_topic, invalid_topic_reason

R = TypeVar("R", "TopicRequest", "PartitionsRequest")

QUORUM_WRITE_TIMEOUT = 30.0  # for callers without a timeout of their own (auto-creation)

# Kafka's default messages (Errors.X.message()), which its controller sends.
UNKNOWN_TOPIC_MESSAGE = "This server does not host this topic-partition."
UNKNOWN_TOPIC_ID_MESSAGE = "This server does not host this topic ID."
DUPLICATE_NAME_MESSAGE = "Duplicate topic name."
DUPLICATE_ID_MESSAGE = "Duplicate topic id."


class WriteFailed(Exception):
    """The quorum write did not happen (in time): one error for every item of it."""

    def __init__(self, error_code: int) -> None:
        super().__init__(error_code)
        self.error_code = error_code


def write_timeout(timeout_ms: int | None) -> float:
    """Seconds a request may wait for the quorum; raises WriteFailed when its time is already up."""
    if timeout_ms is None:
        return QUORUM_WRITE_TIMEOUT
    if timeout_ms <= 0:
        raise WriteFailed(ErrorCode.REQUEST_TIMED_OUT)
    return timeout_ms / 1000


async def quorum_write(broker: Any, submit: Callable[[float], Future[Any]], timeout_s: float) -> Any:
    """Submit a quorum write, await its result off the event loop's blocking path,
    then wait until this broker has applied the image that contains it."""
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(submit(timeout_s)), timeout_s)
    except asyncio.TimeoutError:
        raise WriteFailed(ErrorCode.REQUEST_TIMED_OUT) from None
    except QuorumError as e:
        raise WriteFailed(e.error_code) from None
    await broker.image_at_least(broker.quorum.image.offset)
    return result


def duplicates(names: Sequence[Any]) -> set[Any]:
    return {n for n, count in Counter(names).items() if count > 1}


def first_by_name(requests: Sequence[R]) -> Iterator[tuple[R, bool]]:
    """Each name's first request, in request order, and whether the name is
    repeated (Kafka answers a repeated name once, with INVALID_REQUEST)."""
    repeated = duplicates([r.name for r in requests])
    firsts: dict[str, R] = {}
    for request in requests:
        firsts.setdefault(request.name, request)
    for name, request in firsts.items():
        yield request, name in repeated


# -- replica placement -----------------------------------------------------------


def check_replicas(image: MetadataImage, replicas: Sequence[int], replication: int | None) -> str | None:
    """Kafka's validateManualPartitionAssignment: why a replica list is refused, or None.

    `replication` is the size the list must have (that of the other
    partitions), None for the first partition of a new topic.
    """
    if not replicas:
        return "The manual partition assignment includes an empty replica list."
    previous = None
    for node in sorted(replicas):
        if node not in image.brokers:
            return f"The manual partition assignment includes broker {node}, but no such broker is registered."
        if node == previous:
            return f"The manual partition assignment includes the broker {node} more than once."
        previous = node
    if replication is not None and len(replicas) != replication:
        return (
            f"The manual partition assignment includes a partition with {len(replicas)} replica(s), but this is not "
            f"consistent with previous partitions, which have {replication} replica(s)."
        )
    return None


def place_replicas(image: MetadataImage, count: int, replication: int, first_partition: int = 0) -> list[list[int]] | str:
    """Replica lists for `count` new partitions, or why they cannot be placed.

    Round robin over the unfenced brokers, like Kafka's StripedReplicaPlacer
    without racks; the starting broker rotates with the topic count so that
    leaders spread over brokers.
    """
    brokers = [b.node_id for b in image.unfenced_brokers()]
    if replication > len(brokers):
        return (
            f"Unable to replicate the partition {replication} time(s): The target replication factor of {replication} "
            f"cannot be reached because only {len(brokers)} broker(s) are registered or some brokers have all their "
            "log directories cordoned."
        )
    start = len(image.topics) + first_partition
    return [[brokers[(start + p + r) % len(brokers)] for r in range(replication)] for p in range(count)]


# -- CreateTopics ----------------------------------------------------------------


@dataclass
class TopicRequest:
    name: str
    num_partitions: int = -1  # -1: num.partitions
    replication_factor: int = -1  # -1: default.replication.factor
    assignments: dict[int, list[int]] = field(default_factory=dict)  # partition -> replicas, in request order
    configs: dict[str, str | None] = field(default_factory=dict)


@dataclass
class TopicResult:
    name: str
    error_code: int = ErrorCode.NONE
    error_message: str | None = None
    topic_id: Any = None
    num_partitions: int = -1
    replication_factor: int = -1
    configs: dict[str, str] = field(default_factory=dict)


def plan_topic(broker: Any, image: MetadataImage, request: TopicRequest) -> tuple[TopicResult, NewTopic | None]:
    """Validate one topic creation; returns its result and, if valid, what to create."""
    result = TopicResult(request.name)

    def fail(code: int, message: str) -> tuple[TopicResult, None]:
        result.error_code, result.error_message = code, message
        return result, None

    reason = invalid_topic_reason(request.name)
    if reason is not None:
        return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, reason)
    if image.topic(request.name) is not None:
        return fail(ErrorCode.TOPIC_ALREADY_EXISTS, f"Topic '{request.name}' already exists.")
    other = colliding_topic(request.name, image.topics)
    if other is not None:
        return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, f"Topic '{request.name}' collides with existing topic: {other}")
    # Configs are checked before partitions and replicas, as Kafka's
    # controller does (computeConfigChanges runs before createTopic).
    configs: dict[str, str] = {}
    for name, value in request.configs.items():
        if value is None:
            return fail(ErrorCode.INVALID_CONFIG, f"Null value not supported for topic configs: {name}")
        configs[name] = value
    try:
        check_topic_overrides(configs)
    except ConfigRejected as e:
        return fail(e.error_code, e.message or "")

    if request.assignments:
        if request.num_partitions != -1:
            return fail(ErrorCode.INVALID_REQUEST, "A manual partition assignment was specified, but numPartitions was not set to -1.")
        if request.replication_factor != -1:
            return fail(ErrorCode.INVALID_REQUEST, "A manual partition assignment was specified, but replication factor was not set to -1.")
        assignments: list[list[int]] = []
        for expected, (index, replicas) in enumerate(request.assignments.items()):
            if index != expected:
                return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "partitions should be a consecutive 0-based integer sequence")
            problem = check_replicas(image, replicas, len(assignments[0]) if assignments else None)
            if problem is not None:
                return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem)
            assignments.append(list(replicas))
    else:
        if request.replication_factor == 0 or request.replication_factor < -1:
            return fail(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0, or -1 to use the default value.")
        if request.num_partitions == 0 or request.num_partitions < -1:
            return fail(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value.")
        partitions = broker.config["num.partitions"] if request.num_partitions == -1 else request.num_partitions
        replication = broker.config["default.replication.factor"] if request.replication_factor == -1 else request.replication_factor
        placed = place_replicas(image, partitions, replication)
        if isinstance(placed, str):
            return fail(ErrorCode.INVALID_REPLICATION_FACTOR, placed)
        assignments = placed
    result.num_partitions = len(assignments)
    result.replication_factor = len(assignments[0])
    result.configs = configs
    return result, NewTopic(request.name, assignments, configs)


async def create_topics(broker: Any, requests: list[TopicRequest], validate_only: bool = False, timeout_ms: int | None = None) -> list[TopicResult]:
    """One result per distinct name, in request order (a repeated name gets one INVALID_REQUEST, as in Kafka)."""
    image = broker.image
    results: list[TopicResult] = []
    planned: list[tuple[TopicResult, NewTopic]] = []
    try:
        timeout_s = write_timeout(timeout_ms)
    except WriteFailed as e:
        timeout_s, expired = 0.0, e
    else:
        expired = None
    for request, repeated in first_by_name(requests):
        if repeated:
            results.append(TopicResult(request.name, ErrorCode.INVALID_REQUEST, DUPLICATE_NAME_MESSAGE))
            continue
        if expired is not None:
            results.append(TopicResult(request.name, expired.error_code))
            continue
        result, new_topic = plan_topic(broker, image, request)
        results.append(result)
        if new_topic is not None:
            planned.append((result, new_topic))
    if validate_only or not planned:
        return results
    new_topics = [t for _, t in planned]
    try:
        items = await quorum_write(broker, lambda t: broker.quorum.create_topics(new_topics, timeout=t), timeout_s)
    except WriteFailed as e:
        for result, _ in planned:
            result.error_code, result.error_message = e.error_code, None
        return results
    for (result, _), item in zip(planned, items):
        result.error_code, result.error_message, result.topic_id = item.error_code, item.error_message, item.topic_id
    return results


# -- DeleteTopics ----------------------------------------------------------------


@dataclass
class DeleteResult:
    name: str | None
    topic_id: uuid.UUID | None = None  # None: the all-zero id on the wire
    error_code: int = ErrorCode.NONE
    error_message: str | None = None


async def delete_topics(broker: Any, topics: list[tuple[str | None, uuid.UUID | None]], timeout_ms: int) -> list[DeleteResult]:
    """Delete topics given by name or by id (v6+); one result per distinct entry, in request order.

    Checks follow Kafka's ControllerApis.deleteTopics: an entry must name a
    topic by exactly one of name and id; a repeated name or id gets one
    INVALID_REQUEST; unknown ones UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID.
    Internal topics are deleted like any other: Apache Kafka 4.4 deletes
    __consumer_offsets when asked (KRaft has no such guard).
    """
    image = broker.image
    repeated_names = duplicates([n for n, i in topics if n is not None and i is None])
    repeated_ids = duplicates([i for n, i in topics if n is None and i is not None])
    results: list[DeleteResult] = []
    requested: list[tuple[str | None, uuid.UUID | None]] = []  # the entry behind each result
    targets: list[tuple[DeleteResult, uuid.UUID]] = []
    seen: set[Any] = set()
    for name, topic_id in topics:
        key = (name, topic_id)
        if key in seen and (name in repeated_names or topic_id in repeated_ids):
            continue
        seen.add(key)
        requested.append(key)
        if name is not None and topic_id is not None:
            results.append(DeleteResult(name, topic_id, ErrorCode.INVALID_REQUEST, "You may not specify both topic name and topic id."))
        elif name is None and topic_id is None:
            results.append(DeleteResult(None, None, ErrorCode.INVALID_REQUEST, "Neither topic name nor id were specified."))
        elif name is not None and name in repeated_names:
            results.append(DeleteResult(name, None, ErrorCode.INVALID_REQUEST, DUPLICATE_NAME_MESSAGE))
        elif topic_id is not None and topic_id in repeated_ids:
            results.append(DeleteResult(None, topic_id, ErrorCode.INVALID_REQUEST, DUPLICATE_ID_MESSAGE))
        elif name is not None:
            topic = image.topic(name)
            if topic is None:
                results.append(DeleteResult(name, None, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE))
            else:
                results.append(DeleteResult(name, topic.topic_id))
                targets.append((results[-1], topic.topic_id))
        else:
            assert topic_id is not None
            topic = image.topic_by_id(topic_id)
            if topic is None:
                results.append(DeleteResult(None, topic_id, ErrorCode.UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_ID_MESSAGE))
            else:
                results.append(DeleteResult(topic.name, topic_id))
                targets.append((results[-1], topic_id))
    try:
        timeout_s = write_timeout(timeout_ms)
        if not targets:
            return results
        # One topic named both ways in a request is deleted once.
        ids = list(dict.fromkeys(topic_id for _, topic_id in targets))
        items = await quorum_write(broker, lambda t: broker.quorum.delete_topics(topic_ids=ids, timeout=t), timeout_s)
    except WriteFailed as e:
        # The whole controller request failed in Kafka: every entry it got
        # says so, with the name or id as given (Kafka 4.4 answers a name
        # with the zero id here).
        for result, (name, topic_id) in zip(results, requested):
            if result.error_code != ErrorCode.INVALID_REQUEST:
                result.name, result.topic_id = name, topic_id
                result.error_code, result.error_message = e.error_code, None
        return results
    by_id = {item.topic_id: item for item in items}
    for result, topic_id in targets:
        item = by_id.get(topic_id)
        if item is not None and item.error_code != ErrorCode.NONE:
            # Deleted by someone else since we looked.
            result.error_code = item.error_code
            result.error_message = UNKNOWN_TOPIC_ID_MESSAGE if item.error_code == ErrorCode.UNKNOWN_TOPIC_ID else item.error_message
    return results


# -- CreatePartitions ------------------------------------------------------------


@dataclass
class PartitionsRequest:
    name: str
    count: int
    assignments: list[list[int]] | None = None  # replica lists of the new partitions


@dataclass
class PartitionsResult:
    name: str
    error_code: int = ErrorCode.NONE
    error_message: str | None = None


def plan_partitions(image: MetadataImage, request: PartitionsRequest) -> tuple[PartitionsResult, NewPartitions | None]:
    """Kafka's ReplicationControlManager.createPartitionsInner checks, in its order."""
    result = PartitionsResult(request.name)

    def fail(code: int, message: str | None) -> tuple[PartitionsResult, None]:
        result.error_code, result.error_message = code, message
        return result, None

    topic = image.topic(request.name)
    if topic is None:
        return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None)
    current = topic.num_partitions
    if request.count == current:
        return fail(ErrorCode.INVALID_PARTITIONS, f"Topic already has {current} partition(s).")
    if request.count < current:
        return fail(ErrorCode.INVALID_PARTITIONS, f"The topic {request.name} currently has {current} partition(s); {request.count} would not be an increase.")
    additional = request.count - current
    replication = len(topic.partitions[0].replicas) if 0 in topic.partitions else None
    if request.assignments is not None:
        if len(request.assignments) != additional:
            return fail(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                f"Attempted to add {additional} additional partition(s), but only {len(request.assignments)} assignment(s) were specified.",
            )
        for replicas in request.assignments:
            problem = check_replicas(image, replicas, replication)
            if problem is not None:
                return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem)
        assignments = [list(r) for r in request.assignments]
    else:
        placed = place_replicas(image, additional, replication or 1, first_partition=current)
        if isinstance(placed, str):
            return fail(ErrorCode.INVALID_REPLICATION_FACTOR, placed)
        assignments = placed
    return result, NewPartitions(request.name, request.count, assignments)


async def create_partitions(broker: Any, requests: list[PartitionsRequest], validate_only: bool, timeout_ms: int) -> list[PartitionsResult]:
    image = broker.image
    results: list[PartitionsResult] = []
    planned: list[tuple[PartitionsResult, NewPartitions]] = []
    for request, repeated in first_by_name(requests):
        if repeated:
            results.append(PartitionsResult(request.name, ErrorCode.INVALID_REQUEST, DUPLICATE_NAME_MESSAGE))
            continue
        result, change = plan_partitions(image, request)
        results.append(result)
        if change is not None:
            planned.append((result, change))
    try:
        timeout_s = write_timeout(timeout_ms)
        if validate_only or not planned:
            return results
        changes = [c for _, c in planned]
        items = await quorum_write(broker, lambda t: broker.quorum.create_partitions(changes, timeout=t), timeout_s)
    except WriteFailed as e:
        # The whole controller request timed out in Kafka: every topic says so.
        for result in results:
            if result.error_message != DUPLICATE_NAME_MESSAGE:
                result.error_code, result.error_message = e.error_code, None
        return results
    for (result, _), item in zip(planned, items):
        result.error_code, result.error_message = item.error_code, item.error_message
    return results
