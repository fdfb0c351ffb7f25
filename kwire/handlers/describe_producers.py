"""DescribeProducers (api key 61), version 0 (KIP-664, kafka-transactions.sh describe-producers).

Per partition, the producers its log remembers (kwire_storage
producer_state.py): producer id and epoch, last sequence (-1 when only
markers were seen), timestamp of the last batch, coordinator epoch of the
last marker (-1 before any) and the first offset of the open transaction
(-1 when none), which is what `kafka-transactions.sh find-hanging` and
`abort` work from.

Errors as Kafka 4.4's KafkaApis and ReplicaManager: an invalid topic name
INVALID_TOPIC_EXCEPTION and an unknown topic UNKNOWN_TOPIC_OR_PARTITION, on
every partition asked for and with the error's message; a partition the
topic does not have UNKNOWN_TOPIC_OR_PARTITION, one not led here
NOT_LEADER_OR_FOLLOWER, both without a message.

Kafka updates a producer's last timestamp to its latest batch's; kwire keeps
the largest one seen (they differ only for out-of-order client timestamps).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles
from kwire.topics import invalid_topic_reason

DescribeProducersResponse = messages.DescribeProducersResponse
TopicResponse = DescribeProducersResponse.cls.TopicResponse
PartitionResponse = TopicResponse.PartitionResponse
ProducerState = PartitionResponse.ProducerState

# Kafka's default messages (Errors.X.message()), which ApiError carries for topic-level errors.
UNKNOWN_TOPIC_MESSAGE = "This server does not host this topic-partition."


@handles(ApiKey.DESCRIBE_PRODUCERS)
def describe_producers(broker: Any, request: Any) -> Any:
    image = broker.image
    topics = []
    for topic in request.body.topics:
        error, message = _topic_error(image, topic.name)
        if error != ErrorCode.NONE:
            partitions = [PartitionResponse(partition_index=index, error_code=error, error_message=message)
                          for index in topic.partition_indexes]
        else:
            partitions = [_partition(broker, image, topic.name, index) for index in topic.partition_indexes]
        topics.append(TopicResponse(name=topic.name, partitions=partitions))
    return DescribeProducersResponse(throttle_time_ms=0, topics=topics)


def _topic_error(image: Any, name: str) -> tuple[int, str | None]:
    reason = invalid_topic_reason(name)
    if reason is not None:
        return ErrorCode.INVALID_TOPIC_EXCEPTION, reason
    if image.topic(name) is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE
    return ErrorCode.NONE, None


def _partition(broker: Any, image: Any, topic: str, index: int) -> Any:
    partition = image.partition(topic, index)
    if partition is None:
        return PartitionResponse(partition_index=index, error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    log = broker.partitions.get(topic, index) if partition.leader == broker.node_id else None
    if log is None:
        return PartitionResponse(partition_index=index, error_code=ErrorCode.NOT_LEADER_OR_FOLLOWER)
    with log.lock:
        producers = [
            ProducerState(
                producer_id=entry.producer_id, producer_epoch=entry.epoch, last_sequence=entry.last_sequence,
                last_timestamp=entry.last_timestamp, coordinator_epoch=entry.coordinator_epoch,
                current_txn_start_offset=entry.current_txn_first_offset,
            )
            for entry in log.producer_state.producers.values()
        ]
    return PartitionResponse(partition_index=index, error_code=ErrorCode.NONE, active_producers=producers)
