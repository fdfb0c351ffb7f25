"""ListOffsets (api key 2), versions 1-11.

Per partition, by the requested timestamp:
  -2 earliest, -4 earliest local: the log start offset;
  -1 latest: the high watermark (read_uncommitted) or the last stable offset
     (read_committed), i.e. one past the last record a consumer may read;
  -3 max timestamp (v7+, KIP-734): the first record carrying the largest timestamp;
  -5 latest tiered, -6 earliest pending upload (v9+/v11+): no tiered
     storage here, so offset -1, as Kafka answers without remote storage;
  t >= 0: the first record whose timestamp is >= t, exactly, even inside a
     batch; none: offset -1 and timestamp -1.
A record found by timestamp (t >= 0 or -3) at or past the last fetchable
offset (the last stable offset for read_committed, else the high
watermark) is not answered: offset -1 and timestamp -1, as Kafka's
ReplicaManager filters it, so read_committed never learns of an open
transaction's records.
A special timestamp asked for below the version that introduced it, or any
other negative timestamp, answers UNSUPPORTED_VERSION, as Kafka 4.4 does.
v4+: `current_leader_epoch` is checked as in Fetch.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

ListOffsetsResponse = messages.ListOffsetsResponse
TopicResponse = ListOffsetsResponse.cls.ListOffsetsTopicResponse
PartitionResponse = TopicResponse.ListOffsetsPartitionResponse

LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL, LATEST_TIERED, EARLIEST_PENDING_UPLOAD = -1, -2, -3, -4, -5, -6
READ_COMMITTED = 1
# The first version that may ask for each special timestamp.
SINCE_VERSION = {LATEST: 0, EARLIEST: 0, MAX_TIMESTAMP: 7, EARLIEST_LOCAL: 8, LATEST_TIERED: 9, EARLIEST_PENDING_UPLOAD: 11}


@handles(ApiKey.LIST_OFFSETS)
def list_offsets(broker: Any, request: Any) -> Any:
    body = request.body
    image = broker.image
    topics = []
    for topic in body.topics:
        partitions = []
        for p in topic.partitions:
            partitions.append(_lookup(broker, image, topic.name, p, body.isolation_level, request.version))
        topics.append(TopicResponse(name=topic.name, partitions=partitions))
    return ListOffsetsResponse(throttle_time_ms=0, topics=topics)


def _lookup(broker: Any, image: Any, topic: str, p: Any, isolation: int, version: int) -> Any:
    def answer(error: int = ErrorCode.NONE, timestamp: int = -1, offset: int = -1, epoch: int = -1) -> Any:
        return PartitionResponse(partition_index=p.partition_index, error_code=error, timestamp=timestamp, offset=offset, leader_epoch=epoch)

    partition = image.partition(topic, p.partition_index)
    if partition is None:
        return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    if partition.leader != broker.node_id:
        return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    if p.current_leader_epoch >= 0 and p.current_leader_epoch != partition.leader_epoch:
        return answer(ErrorCode.FENCED_LEADER_EPOCH if p.current_leader_epoch < partition.leader_epoch else ErrorCode.UNKNOWN_LEADER_EPOCH)
    log = broker.partitions.get(topic, p.partition_index)
    if log is None:
        return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    timestamp = p.timestamp
    if timestamp < 0 and version < SINCE_VERSION.get(timestamp, 2**31):
        return answer(ErrorCode.UNSUPPORTED_VERSION)
    last_fetchable = log.last_stable_offset if isolation == READ_COMMITTED else log.high_watermark
    if timestamp == LATEST:
        return answer(offset=last_fetchable, epoch=partition.leader_epoch)
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        start = log.log_start_offset
        epoch = log.leader_epoch_cache.epoch_for_offset(start)
        return answer(offset=start, epoch=-1 if epoch is None else epoch)
    if timestamp in (LATEST_TIERED, EARLIEST_PENDING_UPLOAD):
        return answer()
    found = log.largest_timestamp() if timestamp == MAX_TIMESTAMP else log.offset_for_timestamp(timestamp)
    if found is None or found.offset >= last_fetchable:
        return answer()
    return answer(timestamp=found.timestamp, offset=found.offset, epoch=-1 if found.leader_epoch is None else found.leader_epoch)
