"""Produce (api key 0), versions 3-13; v0-2 advertised, refused.

Each partition's records must be exactly one v2 batch (Kafka's
ProduceRequest.validateRecords for v3+; otherwise INVALID_RECORD). The batch
is checked by its header and CRC only and appended as bytes: no record is
decoded, except for compacted topics, where every record needs a key (as
Kafka checks), and when message.timestamp.before.max.ms is set, which needs
each record's timestamp.

acks: 0 sends no response, and closes the connection when a partition
failed, as Kafka does (KafkaApis.handleProduceRequest), since the producer
learns of the error no other way; 1 answers after the local append; -1 answers
once the high watermark covers the batch, which with one in-sync replica is
at once. Other values get INVALID_REQUIRED_ACKS.

KAFKA-18659: Kafka 4.x advertises Produce from v0 although it only serves
v3+, because librdkafka decides that compressed produce is possible from
the advertised minimum; v0-2 requests are then refused (the codec has no
v0-2 layout: the connection is closed, as Kafka does for versions it does
not serve).

Not implemented yet: idempotent and transactional producer state (issue 7):
batches carrying a producer id are appended without sequence checks.
"""

from __future__ import annotations

import logging
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.messages import ApiKey
from kwire_protocol.records.batch import MAGIC, split_batches
from kwire_protocol.records.compression import ZSTD
from kwire_storage.errors import KafkaStorageError, RecordBatchTooLargeError

from kwire.handlers import CLOSE_CONNECTION, handles
from kwire.topics import is_internal

log = logging.getLogger(__name__)

LONG_MAX = 2**63 - 1

ProduceResponse = messages.ProduceResponse
TopicResponse = ProduceResponse.cls.TopicProduceResponse
PartitionResponse = TopicResponse.PartitionProduceResponse


@handles(ApiKey.PRODUCE, advertised_min_version=0)
def produce(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    image = broker.image
    acks = body.acks
    responses = []
    for topic_data in body.topic_data:
        topic = image.topic(topic_data.name) if version < 13 else image.topic_by_id(topic_data.topic_id)
        partitions = []
        for data in topic_data.partition_data:
            if acks not in (0, 1, -1):
                error, result = ErrorCode.INVALID_REQUIRED_ACKS, None
            elif topic is None:
                error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if version < 13 else ErrorCode.UNKNOWN_TOPIC_ID
                result = None
            else:
                error, result = _append(broker, topic, data.index, data.records, version)
            partitions.append(_partition_response(data.index, error, result))
        responses.append(TopicResponse(name=topic_data.name, topic_id=topic_data.topic_id, partition_responses=partitions))
    if acks == 0:
        failed = any(p.error_code for t in responses for p in t.partition_responses)
        return CLOSE_CONNECTION if failed else None
    return ProduceResponse(responses=responses, throttle_time_ms=0)


def _append(broker: Any, topic: Any, index: int, records: Any, version: int) -> tuple[int, Any]:
    partition = topic.partition(index)
    if partition is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None
    if is_internal(topic.name):
        return ErrorCode.INVALID_TOPIC_EXCEPTION, None
    if partition.leader != broker.node_id:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER, None
    partition_log = broker.partitions.get(topic.name, index)
    if partition_log is None:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER, None
    error = _check_batch(records, version, partition_log.config, broker.clock_ms())
    if error != ErrorCode.NONE:
        return error, None
    try:
        info = broker.partitions.append(topic.name, index, records, partition.leader_epoch)
    except CorruptRecordError:
        return ErrorCode.CORRUPT_MESSAGE, None
    except RecordBatchTooLargeError:
        return ErrorCode.RECORD_LIST_TOO_LARGE, None
    except KafkaStorageError as e:
        log.error("append to %s-%d failed: %s", topic.name, index, e)
        return ErrorCode.KAFKA_STORAGE_ERROR, None
    return ErrorCode.NONE, info


def _check_batch(records: Any, version: int, config: Any, now_ms: int) -> int:
    """Kafka's per-partition checks (LogValidator), from the header where it suffices."""
    if records is None or len(records) == 0:
        return ErrorCode.INVALID_RECORD
    try:
        batches = list(split_batches(records))
    except CorruptRecordError as e:
        # A magic other than 2 is refused before the CRC is even looked at.
        return ErrorCode.INVALID_RECORD if "magic" in str(e) else ErrorCode.CORRUPT_MESSAGE
    if len(batches) != 1 or batches[0].magic != MAGIC:
        return ErrorCode.INVALID_RECORD
    batch = batches[0]
    if batch.compression == ZSTD and version < 7:
        return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
    if batch.size > config.max_message_bytes:
        return ErrorCode.MESSAGE_TOO_LARGE
    if not config.log_append_time and batch.max_timestamp > now_ms + config.message_timestamp_after_max_ms:
        return ErrorCode.INVALID_TIMESTAMP
    if config.compact or config.message_timestamp_before_max_ms < LONG_MAX:
        # Only here are records decoded: a compacted topic needs a key on
        # every record, and the lower timestamp bound needs every timestamp.
        try:
            decoded = batch.records()
        except CorruptRecordError:
            return ErrorCode.CORRUPT_MESSAGE
        if config.compact and not batch.is_control and any(r.key is None for r in decoded):
            return ErrorCode.INVALID_RECORD
        if not config.log_append_time and any(r.timestamp < now_ms - config.message_timestamp_before_max_ms for r in decoded):
            return ErrorCode.INVALID_TIMESTAMP
    return ErrorCode.NONE


def _partition_response(index: int, error: int, info: Any) -> Any:
    if info is None:
        return PartitionResponse(index=index, error_code=error, base_offset=-1, log_append_time_ms=-1, log_start_offset=-1)
    return PartitionResponse(
        index=index,
        error_code=ErrorCode.NONE,
        base_offset=info.first_offset,
        log_append_time_ms=info.log_append_time,
        log_start_offset=info.log_start_offset,
    )
