"""OffsetCommit (api key 8), versions 2-10.

Checks as Kafka's classic group coordinator does: a member of the group
commits with its generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS while the group completes a
rebalance); generation -1 without a member id commits for a group without
members ("simple" commits, e.g. the admin client), creating the group if
needed; a commit with a generation for an unknown group gets
GROUP_ID_NOT_FOUND (v9+) or ILLEGAL_GENERATION. Topics that do not exist get
UNKNOWN_TOPIC_OR_PARTITION (v10, by topic id: UNKNOWN_TOPIC_ID). Metadata
longer than offset.metadata.max.bytes (4096) gets OFFSET_METADATA_TOO_LARGE.
v2-4 may ask for a retention time, which sets the offset's expire time.

KIP-848 consumer groups (v9+: the field is the member epoch): an unknown
member gets UNKNOWN_MEMBER_ID, a member committing below v9
UNSUPPORTED_VERSION, an epoch above the member's STALE_MEMBER_EPOCH; an
older epoch may commit the partitions it was assigned by then (KIP-1251,
Kafka 4.4), others get STALE_MEMBER_EPOCH each. Epoch -1 commits only to an
empty consumer group.

The answer is sent after the offsets are appended to __consumer_offsets.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.groups.coordinator import OffsetCommit
from kwire.handlers import handles

OffsetCommitResponse = messages.OffsetCommitResponse
Topic = OffsetCommitResponse.cls.OffsetCommitResponseTopic
Partition = Topic.OffsetCommitResponsePartition


@handles(ApiKey.OFFSET_COMMIT)
async def offset_commit(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    commits, errors = requested_commits(broker.image, body.topics, by_id=version >= 10)
    group_error, commit_errors = await broker.group_coordinator.coordinator.commit_offsets(
        body.group_id,
        body.generation_id_or_member_epoch,
        body.member_id or "",
        body.group_instance_id if version >= 7 else None,
        body.retention_time_ms if 2 <= version <= 4 else -1,
        commits,
        version,
    )
    topics = response_topics(body.topics, errors, group_error, commit_errors, Topic, Partition)
    return OffsetCommitResponse(throttle_time_ms=0, topics=topics)


def requested_commits(image: Any, topics: list[Any], by_id: bool) -> tuple[list[OffsetCommit], dict[tuple[int, int], int]]:
    """The commits of an OffsetCommit or TxnOffsetCommit request's topics that
    exist, and the errors of those that do not, by (topic index, partition
    index in the request). `by_id`: the request names topics by id."""
    commits: list[OffsetCommit] = []
    errors: dict[tuple[int, int], int] = {}
    for ti, topic in enumerate(topics):
        known = image.topic_by_id(topic.topic_id) if by_id else image.topic(topic.name)
        for pi, p in enumerate(topic.partitions):
            if known is None:
                errors[(ti, pi)] = ErrorCode.UNKNOWN_TOPIC_ID if by_id else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                continue
            commits.append(
                OffsetCommit(known.name, p.partition_index, p.committed_offset, p.committed_leader_epoch, p.committed_metadata, known.topic_id)
            )
    return commits, errors


def response_topics(topics: list[Any], errors: dict[tuple[int, int], int], group_error: int, commit_errors: list[int],
                    topic_cls: Any, partition_cls: Any) -> list[Any]:
    """The response topics for a request's `topics`: a partition's error from
    `errors`, else `group_error` if any, else the next of `commit_errors` (one
    per commit of `requested_commits`, in order)."""
    results = iter(commit_errors)
    out = []
    for ti, topic in enumerate(topics):
        partitions = []
        for pi, p in enumerate(topic.partitions):
            error = errors.get((ti, pi))
            if error is None:
                error = group_error if group_error != ErrorCode.NONE else next(results)
            partitions.append(partition_cls(partition_index=p.partition_index, error_code=error))
        out.append(topic_cls(name=topic.name, topic_id=topic.topic_id, partitions=partitions))
    return out
