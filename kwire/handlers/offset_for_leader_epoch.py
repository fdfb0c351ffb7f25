"""OffsetForLeaderEpoch (api key 23), versions 2-4.

For each partition, the end offset of the requested leader epoch: the start
offset of the first later epoch, from the partition's leader epoch cache
(kwire_storage/leader_epoch.py, Kafka's LeaderEpochFileCache.endOffsetFor).
Consumers use it to detect log truncation after a leader change (KIP-320),
followers to find where their log diverges (KIP-101).

- The current (latest) epoch ends at the log end offset.
- An epoch older than every cached one: the requested epoch and the start of
  the first cached epoch (the data in between is gone).
- Otherwise the largest cached epoch <= the requested one and the start of
  the next cached epoch.
- Requested epoch -1, or above every cached epoch: no error, leader epoch -1
  and end offset -1 (UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET).

Errors, in Kafka's order (ReplicaManager.lastOffsetForLeaderEpoch, then
Partition.getLocalLog): a partition not in the metadata (or of an unknown or
invalid topic) UNKNOWN_TOPIC_OR_PARTITION; one this node does not host
NOT_LEADER_OR_FOLLOWER; then `current_leader_epoch`, unless -1, is checked
against the partition's: older FENCED_LEADER_EPOCH, newer
UNKNOWN_LEADER_EPOCH (any other negative value counts as older, as in
Kafka); then a node that is not the leader NOT_LEADER_OR_FOLLOWER.

`replica_id` (v3+) changes nothing: Kafka answers every caller from the
leader only and reads no high watermark here, so followers, consumers (-1)
and the debug id (-2) get the same answer.

The cache has an entry for the current epoch even before anything is
written in it: the broker assigns it at the log end offset when the
partition's leadership is applied (Kafka's Partition.makeLeader).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_storage.leader_epoch import UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET

from kwire.handlers import handles

OffsetForLeaderEpochResponse = messages.OffsetForLeaderEpochResponse
TopicResult = OffsetForLeaderEpochResponse.cls.OffsetForLeaderTopicResult
EpochEndOffset = TopicResult.EpochEndOffset

NO_PARTITION_LEADER_EPOCH = -1  # RecordBatch.NO_PARTITION_LEADER_EPOCH: "do not check"


@handles(ApiKey.OFFSET_FOR_LEADER_EPOCH)
def offset_for_leader_epoch(broker: Any, request: Any) -> Any:
    image = broker.image
    return OffsetForLeaderEpochResponse(
        throttle_time_ms=0,
        topics=[
            TopicResult(topic=topic.topic, partitions=[_end_offset(broker, image, topic.topic, p) for p in topic.partitions])
            for topic in request.body.topics
        ],
    )


def _end_offset(broker: Any, image: Any, topic: str, requested: Any) -> Any:
    def answer(error: int, leader_epoch: int = UNDEFINED_EPOCH, end_offset: int = UNDEFINED_EPOCH_OFFSET) -> Any:
        return EpochEndOffset(error_code=error, partition=requested.partition, leader_epoch=leader_epoch, end_offset=end_offset)

    partition = image.partition(topic, requested.partition)
    if partition is None:
        return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    if broker.node_id not in partition.replicas:
        return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    current = requested.current_leader_epoch
    if current != NO_PARTITION_LEADER_EPOCH and current != partition.leader_epoch:
        return answer(ErrorCode.FENCED_LEADER_EPOCH if current < partition.leader_epoch else ErrorCode.UNKNOWN_LEADER_EPOCH)
    if partition.leader != broker.node_id:
        return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    log = broker.partitions.get(topic, requested.partition)
    if log is None:
        return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    epoch, end_offset = log.leader_epoch_cache.end_offset_for(requested.leader_epoch, log.log_end_offset)
    if end_offset == UNDEFINED_EPOCH_OFFSET:
        return answer(ErrorCode.NONE)
    return answer(ErrorCode.NONE, epoch, end_offset)
