"""Creating topics: the broker-side checks and the quorum write.

Shared by CreateTopics and auto-creation (Metadata). What depends only on
the request and this broker's configuration is checked here (name rules,
partition count, replication factor against live brokers, explicit
assignments, topic config values); what depends on the metadata at apply
time (does the name exist?) is checked by the quorum's state machine, so
concurrent creations of one name resolve to exactly one winner.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_raft.commands import NewTopic
from kwire_raft.image import MetadataImage
from kwire_storage.config import LogConfig
from kwire_storage.errors import InvalidConfigError

from kwire.topics import colliding_topic, invalid_topic_reason

QUORUM_WRITE_TIMEOUT = 30.0


@dataclass
class TopicRequest:
    name: str
    num_partitions: int = -1  # -1: num.partitions
    replication_factor: int = -1  # -1: default.replication.factor
    assignments: dict[int, list[int]] = field(default_factory=dict)  # partition -> replicas
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
    brokers = [b.node_id for b in image.unfenced_brokers()]
    if request.assignments:
        if request.num_partitions != -1 or request.replication_factor != -1:
            return fail(ErrorCode.INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
        indexes = sorted(request.assignments)
        if indexes != list(range(len(indexes))):
            return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "Partitions should be a consecutive 0-based integer sequence")
        assignments = [request.assignments[i] for i in indexes]
        sizes = {len(r) for r in assignments}
        if len(sizes) != 1 or 0 in sizes:
            return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, "All partitions should have the same number of replicas, at least one")
        for replicas in assignments:
            if len(set(replicas)) != len(replicas):
                return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"Duplicate brokers not allowed in replica assignment: {replicas}")
            missing = [r for r in replicas if r not in brokers]
            if missing:
                return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, f"The manual partition assignment includes broker(s) that are not registered: {missing}")
    else:
        partitions = broker.config["num.partitions"] if request.num_partitions == -1 else request.num_partitions
        replication = broker.config["default.replication.factor"] if request.replication_factor == -1 else request.replication_factor
        if partitions < 1:
            return fail(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value.")
        if replication < 1:
            return fail(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.")
        if replication > len(brokers):
            return fail(
                ErrorCode.INVALID_REPLICATION_FACTOR,
                f"Unable to replicate the partition {replication} time(s): The target replication factor of {replication} "
                f"cannot be reached because only {len(brokers)} broker(s) are registered.",
            )
        # Round-robin placement starting at a rotating broker, like Kafka's
        # StripedReplicaPlacer without racks.
        start = len(image.topics) % len(brokers)
        assignments = [[brokers[(start + p + r) % len(brokers)] for r in range(replication)] for p in range(partitions)]
    configs = {k: v for k, v in request.configs.items() if v is not None}
    try:
        LogConfig(configs)
    except InvalidConfigError as e:
        return fail(ErrorCode.INVALID_CONFIG, str(e))
    result.num_partitions = len(assignments)
    result.replication_factor = len(assignments[0])
    result.configs = configs
    return result, NewTopic(request.name, assignments, configs)


async def create_topics(broker: Any, requests: list[TopicRequest], validate_only: bool = False) -> list[TopicResult]:
    image = broker.image
    results: list[TopicResult] = []
    planned: list[tuple[TopicResult, NewTopic]] = []
    names = [r.name for r in requests]
    for request in requests:
        if names.count(request.name) > 1:
            results.append(TopicResult(request.name, ErrorCode.INVALID_REQUEST, "Duplicate topic name."))
            continue
        result, new_topic = plan_topic(broker, image, request)
        results.append(result)
        if new_topic is not None:
            planned.append((result, new_topic))
    if validate_only or not planned:
        return results
    future = broker.quorum.create_topics([t for _, t in planned])
    try:
        items = await asyncio.wait_for(asyncio.wrap_future(future), QUORUM_WRITE_TIMEOUT)
    except asyncio.TimeoutError:
        for result, _ in planned:
            result.error_code, result.error_message = ErrorCode.REQUEST_TIMED_OUT, "The metadata quorum did not commit the creation in time."
        return results
    for (result, _), item in zip(planned, items):
        result.error_code, result.error_message, result.topic_id = item.error_code, item.error_message, item.topic_id
    await broker.image_at_least(broker.quorum.image.offset)
    return results
