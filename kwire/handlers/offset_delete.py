"""OffsetDelete (api key 47), version 0.

Deletes committed offsets of a group (tombstones in __consumer_offsets).
GROUP_ID_NOT_FOUND for an unknown group; for a consumer group with members,
partitions of topics the members subscribe to get GROUP_SUBSCRIBED_TO_TOPIC;
a group with members of another protocol type gets NON_EMPTY_GROUP. Topics
that do not exist get UNKNOWN_TOPIC_OR_PARTITION.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

OffsetDeleteResponse = messages.OffsetDeleteResponse
Topic = OffsetDeleteResponse.cls.OffsetDeleteResponseTopic
Partition = Topic.OffsetDeleteResponsePartition


@handles(ApiKey.OFFSET_DELETE)
async def offset_delete(broker: Any, request: Any) -> Any:
    body = request.body
    image = broker.image
    wanted = [(t.name, p.partition_index) for t in body.topics if image.topic(t.name) is not None for p in t.partitions]
    error, results = await broker.group_coordinator.coordinator.delete_offsets(body.group_id, wanted)
    if error != ErrorCode.NONE:
        return OffsetDeleteResponse(error_code=error, throttle_time_ms=0, topics=[])
    by_partition = dict(zip(wanted, results))
    return OffsetDeleteResponse(
        error_code=ErrorCode.NONE,
        throttle_time_ms=0,
        topics=[
            Topic(
                name=t.name,
                partitions=[
                    Partition(partition_index=p.partition_index, error_code=by_partition.get((t.name, p.partition_index), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
                    for p in t.partitions
                ],
            )
            for t in body.topics
        ],
    )
