"""OffsetFetch (api key 9), versions 1-10.

Committed offsets of one group (v1-7) or several (v8+, KIP-709). Topics
null (v2+) asks for every partition the group has committed. A partition
without a commit answers offset -1, leader epoch -1, metadata "" and no
error, as Kafka does; so does every partition of an unknown group.
v7+ require_stable: a partition with offsets of a transaction that has not
ended (TxnOffsetCommit, not yet followed by its marker) answers
UNSTABLE_OFFSET_COMMIT with offset -1, so a read_committed consumer retries
instead of starting from an offset that may still change; for topics null
only committed partitions are listed, as Kafka does. Without require_stable
the committed offset is answered. v9+ member id/epoch are checked for KIP-848
consumer groups (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH unless the epoch is
the member's current one), not for classic groups (nor does Kafka). v10 names topics by id
(UNKNOWN_TOPIC_ID for an unknown one).

Errors: v2+ carry a top-level (v8+: per group) error such as
COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR; v1 only per partition.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

OffsetFetchResponse = messages.OffsetFetchResponse
Topic = OffsetFetchResponse.cls.OffsetFetchResponseTopic
Partition = Topic.OffsetFetchResponsePartition
Group = OffsetFetchResponse.cls.OffsetFetchResponseGroup
GroupTopic = Group.OffsetFetchResponseTopics
GroupPartition = GroupTopic.OffsetFetchResponsePartitions


@handles(ApiKey.OFFSET_FETCH)
def offset_fetch(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    coordinator = broker.group_coordinator.coordinator
    if version < 8:
        topics = None if body.topics is None else [(t.name, None, list(t.partition_indexes)) for t in body.topics]
        error, rows = _fetch(broker, coordinator, body.group_id, topics, by_id=False, require_stable=version >= 7 and body.require_stable)
        if error != ErrorCode.NONE and version < 2:
            # v1 has no top-level error: every requested partition carries it.
            rows = [(name, None, [(p, -1, -1, "", error) for p in parts]) for name, _, parts in (topics or [])]
            error = ErrorCode.NONE
        return OffsetFetchResponse(
            throttle_time_ms=0,
            error_code=error,
            topics=[
                Topic(name=name, partitions=[Partition(partition_index=p, committed_offset=o, committed_leader_epoch=e, metadata=m, error_code=pe) for p, o, e, m, pe in parts])
                for name, _, parts in rows
            ],
        )
    groups = []
    by_id = version >= 10
    for g in body.groups:
        topics = None if g.topics is None else [(t.name, t.topic_id, list(t.partition_indexes)) for t in g.topics]
        member = (g.member_id, g.member_epoch) if version >= 9 else (None, -1)
        error, rows = _fetch(broker, coordinator, g.group_id, topics, by_id=by_id, member=member, require_stable=body.require_stable)
        groups.append(
            Group(
                group_id=g.group_id,
                error_code=error,
                topics=[
                    GroupTopic(
                        name=name,
                        topic_id=topic_id,
                        partitions=[GroupPartition(partition_index=p, committed_offset=o, committed_leader_epoch=e, metadata=m, error_code=pe) for p, o, e, m, pe in parts],
                    )
                    for name, topic_id, parts in rows
                ],
            )
        )
    return OffsetFetchResponse(throttle_time_ms=0, groups=groups)


Row = tuple[str, Any, list[tuple[int, int, int, str, int]]]  # topic, topic id, (partition, offset, epoch, metadata, error)


def _unstable(partition: int) -> tuple[int, int, int, str, int]:
    return (partition, -1, -1, "", ErrorCode.UNSTABLE_OFFSET_COMMIT)


def _fetch(broker: Any, coordinator: Any, group_id: str, topics: list[tuple[str, Any, list[int]]] | None, by_id: bool,
           member: tuple[str | None, int] = (None, -1), require_stable: bool = False) -> tuple[int, list[Row]]:
    image = broker.image
    unstable = coordinator.unstable_partitions(group_id) if require_stable else set()
    if topics is None:
        error, found = coordinator.fetch_offsets(group_id, None, *member)
        if error != ErrorCode.NONE:
            return error, []
        grouped: dict[str, list[tuple[int, int, int, str, int]]] = {}
        for topic, partition, value in found:
            stable = (topic, partition) not in unstable
            grouped.setdefault(topic, []).append((partition, value.offset, value.leader_epoch, value.metadata, ErrorCode.NONE) if stable else _unstable(partition))
        rows: list[Row] = []
        for topic, parts in grouped.items():
            known = image.topic(topic)
            if by_id and known is None:
                continue  # a deleted topic has no id to name it by
            rows.append((topic, known.topic_id if known is not None else None, parts))
        return ErrorCode.NONE, rows
    names: list[tuple[str | None, Any, list[int]]] = []
    for name, topic_id, parts in topics:
        if by_id:
            known = image.topic_by_id(topic_id)
            names.append((known.name if known is not None else None, topic_id, parts))
        else:
            names.append((name, topic_id, parts))
    wanted = [(n, p) for n, _, parts in names if n is not None for p in parts]
    error, found = coordinator.fetch_offsets(group_id, wanted, *member)
    if error != ErrorCode.NONE:
        return error, []
    values = {(t, p): v for t, p, v in found}
    rows = []
    for name, topic_id, parts in names:
        if name is None:
            rows.append(("", topic_id, [(p, -1, -1, "", ErrorCode.UNKNOWN_TOPIC_ID) for p in parts]))
            continue
        out = []
        for p in parts:
            v = values.get((name, p))
            if (name, p) in unstable:
                out.append(_unstable(p))
                continue
            out.append((p, v.offset, v.leader_epoch, v.metadata, ErrorCode.NONE) if v is not None else (p, -1, -1, "", ErrorCode.NONE))
        rows.append((name, topic_id, out))
    return ErrorCode.NONE, rows
