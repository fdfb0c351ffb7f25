"""DeleteRecords (api key 21), versions 0-2.

Moves a partition's log start offset (Log.delete_records): records below it
are no longer readable (ListOffsets earliest answers the new start, a fetch
below it OFFSET_OUT_OF_RANGE) and whole segments below it go at the next
retention run. Per partition, as Kafka's ReplicaManager answers:
- offset -1 means the high watermark; any other negative offset, or one
  above the high watermark, is OFFSET_OUT_OF_RANGE;
- an offset at or below the current start changes nothing and succeeds;
- internal topics are refused (INVALID_TOPIC_EXCEPTION), and so are topics
  whose cleanup.policy lacks "delete" (POLICY_VIOLATION);
- `low_watermark` is the log start offset afterwards, -1 on any error.
With one replica the low watermark is reached at once, so `timeout_ms`
never expires. The log start offsets are checkpointed before answering, so
a deletion survives even a crash right after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_storage.errors import OffsetOutOfRangeError

from kwire.handlers import handles
from kwire.topics import is_internal

DeleteRecordsResponse = messages.DeleteRecordsResponse
TopicResult = DeleteRecordsResponse.cls.DeleteRecordsTopicResult
PartitionResult = TopicResult.DeleteRecordsPartitionResult

HIGH_WATERMARK = -1


@handles(ApiKey.DELETE_RECORDS)
async def delete_records(broker: Any, request: Any) -> Any:
    # Kafka keys the request by topic-partition: a partition named twice is
    # answered once, with the last offset given.
    wanted: dict[str, dict[int, int]] = {}
    for topic in request.body.topics:
        partitions = wanted.setdefault(topic.name, {})
        for p in topic.partitions:
            partitions[p.partition_index] = p.offset
    answers = {name: {index: _delete(broker, name, index, offset) for index, offset in partitions.items()} for name, partitions in wanted.items()}
    if any(code == ErrorCode.NONE for partitions in answers.values() for code, _ in partitions.values()):
        await asyncio.get_running_loop().run_in_executor(None, broker.log_manager.checkpoint)
    return DeleteRecordsResponse(
        throttle_time_ms=0,
        topics=[
            TopicResult(
                name=name,
                partitions=[PartitionResult(partition_index=index, error_code=code, low_watermark=low) for index, (code, low) in partitions.items()],
            )
            for name, partitions in answers.items()
        ],
    )


def _delete(broker: Any, topic: str, index: int, offset: int) -> tuple[int, int]:
    """(error code, low watermark) for one partition."""
    partition = broker.image.partition(topic, index)
    if partition is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1
    if is_internal(topic):
        return ErrorCode.INVALID_TOPIC_EXCEPTION, -1
    log = broker.partitions.get(topic, index)
    if partition.leader != broker.node_id or log is None:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER, -1
    if not log.config.delete:
        return ErrorCode.POLICY_VIOLATION, -1
    target = log.high_watermark if offset == HIGH_WATERMARK else offset
    try:
        return ErrorCode.NONE, log.delete_records(target)
    except OffsetOutOfRangeError:
        return ErrorCode.OFFSET_OUT_OF_RANGE, -1
