"""Produce (api key 0), versions 3-13; v0-2 advertised, refused.

Each partition's records must be exactly one v2 batch (Kafka's
ProduceRequest.validateRecords for v3+; otherwise INVALID_RECORD). The batch
is checked by its header and CRC only and appended as bytes: no record is
decoded, except for compacted topics, where every record needs a key (as
Kafka checks), when a timestamp may be out of bounds
(message.timestamp.before/after.max.ms), and when the topic's
compression.type names a codec other than the batch's: Kafka's LogValidator
then rebuilds the batch with that codec (compression levels are not applied
yet). Records that fail a check are answered as Kafka does (v8+): one
record error per bad record (its index in the batch and Kafka's message)
and a summary error message.

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

Idempotent producers (KIP-98, KIP-360): a batch with a producer id is
checked against the partition's producer state (kwire_storage
producer_state.py) from its header: a retry of one of the producer's last 5
batches is answered NONE with the original offsets (Kafka 2.x+, no
DUPLICATE_SEQUENCE_NUMBER), a sequence gap OUT_OF_ORDER_SEQUENCE_NUMBER, an
older epoch INVALID_PRODUCER_EPOCH; an unknown producer is accepted at any
sequence (KIP-360: no UNKNOWN_PRODUCER_ID). As Kafka's LogValidator, a
client may not write control batches (markers come from the transaction
coordinator), and a batch with a producer id needs a sequence: both
INVALID_RECORD, as is a batch whose record count disagrees with its offset
range. A producer with an open transaction that sends a non-transactional
batch gets INVALID_TXN_STATE. Refusals of the log (these, the producer
state's and the per-record errors) carry the log start offset and, but for
record errors, no message, as Kafka's ReplicaManager answers them.

Transactional batches first pass the transaction coordinator's checks
(KIP-890, kwire/transactions/verification.py): Produce v12+ adds the
partition to the producer's transaction, older versions are verified to be
in it (INVALID_TXN_STATE, TRANSACTION_ABORTABLE from v11).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.messages import ApiKey
from kwire_protocol.records.batch import MAGIC, NO_TIMESTAMP, RecordBatch, split_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.compression import GZIP, LZ4, NONE, SNAPPY, ZSTD
from kwire_protocol.records.record import NewRecord
from kwire_storage.errors import (
    InvalidProducerEpochError,
    InvalidTxnStateError,
    KafkaStorageError,
    OutOfOrderSequenceError,
    RecordBatchTooLargeError,
)

from kwire.handlers import CLOSE_CONNECTION, handles
from kwire.topics import is_internal
from kwire.transactions import verification

log = logging.getLogger(__name__)

LONG_MAX = 2**63 - 1
# Topic compression.type -> codec of the stored batch ("producer": the batch's own).
TARGET_CODECS = {"uncompressed": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}

ProduceResponse = messages.ProduceResponse
TopicResponse = ProduceResponse.cls.TopicProduceResponse
PartitionResponse = TopicResponse.PartitionProduceResponse
RecordError = PartitionResponse.BatchIndexAndErrorMessage


@handles(ApiKey.PRODUCE, advertised_min_version=0)
def produce(broker: Any, request: Any, refused: dict[tuple[str, int], int] | None = None) -> Any:
    """`refused`: partitions the transaction checks refused, with their errors."""
    if refused is None and verification.needs_verification(request):
        return _verified_produce(broker, request)
    if refused is None and verification.transactional_without_id(request):
        return _refuse_all(request, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
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
            elif refused and (topic.name, data.index) in refused:
                error, result = refused[(topic.name, data.index)], None
            else:
                error, result = _append(broker, topic, data.index, data.records, version)
            partitions.append(_partition_response(data.index, error, result))
        responses.append(TopicResponse(name=topic_data.name, topic_id=topic_data.topic_id, partition_responses=partitions))
    if acks == 0:
        failed = any(p.error_code for t in responses for p in t.partition_responses)
        return CLOSE_CONNECTION if failed else None
    return ProduceResponse(responses=responses, throttle_time_ms=0)


def _refuse_all(request: Any, error: int) -> Any:
    """Every partition answered `error` (Kafka's whole-request error response)."""
    if request.body.acks == 0:
        return CLOSE_CONNECTION
    return ProduceResponse(throttle_time_ms=0, responses=[
        TopicResponse(name=t.name, topic_id=t.topic_id, partition_responses=[_partition_response(d.index, error, None) for d in t.partition_data])
        for t in request.body.topic_data
    ])


async def _verified_produce(broker: Any, request: Any) -> Any:
    """Transactional batches pass the transaction coordinator's checks first (kwire/transactions/verification.py)."""
    return produce(broker, request, await verification.verify(broker, request))


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
    rejection, records, validated = _validate(records, version, partition_log.config, broker.clock_ms(), topic.name, index,
                                              partition_log.log_start_offset)
    if rejection is not None:
        return rejection.error, rejection
    try:
        info = broker.partitions.append(topic.name, index, records, partition.leader_epoch, validated=validated)
    except CorruptRecordError:
        return ErrorCode.CORRUPT_MESSAGE, None
    except RecordBatchTooLargeError:
        return ErrorCode.RECORD_LIST_TOO_LARGE, None
    except (OutOfOrderSequenceError, InvalidProducerEpochError, InvalidTxnStateError) as e:
        # Kafka (ReplicaManager.appendToLocalLog) answers these with the log
        # start offset and without a message.
        log.debug("%s-%d: %s", topic.name, index, e)
        error = PRODUCER_STATE_ERRORS[type(e)]
        return error, Rejection(error, log_start_offset=partition_log.log_start_offset)
    except KafkaStorageError as e:
        log.error("append to %s-%d failed: %s", topic.name, index, e)
        return ErrorCode.KAFKA_STORAGE_ERROR, None
    return ErrorCode.NONE, info


class Rejection(NamedTuple):
    """Why a partition's batch was refused: the error, and for bad records
    Kafka's summary message and (batch index, message) per record."""

    error: int
    message: str | None = None
    record_errors: tuple[tuple[int, str], ...] = ()
    log_start_offset: int = -1  # the log's, when the log refused it (as Kafka answers)


PRODUCER_STATE_ERRORS = {
    OutOfOrderSequenceError: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    InvalidProducerEpochError: ErrorCode.INVALID_PRODUCER_EPOCH,
    InvalidTxnStateError: ErrorCode.INVALID_TXN_STATE,
}


def _validate(records: Any, version: int, config: Any, now_ms: int, topic: str, partition: int,
              log_start_offset: int) -> tuple[Rejection | None, Any, list[RecordBatch] | None]:
    """Kafka's per-partition checks (LogValidator), from the header where it
    suffices. Returns a rejection, or the records to append: as sent, with
    their batches checked as validate_batches checks them (for Log.append,
    which then does not parse them again), or rebuilt with the topic's
    compression.type (without batches: Log.append checks those)."""
    if records is None or len(records) == 0:
        return Rejection(ErrorCode.INVALID_RECORD), None, None
    try:
        batches = list(split_batches(records))
    except CorruptRecordError as e:
        # A magic other than 2 is refused before the CRC is even looked at.
        return Rejection(ErrorCode.INVALID_RECORD if "magic" in str(e) else ErrorCode.CORRUPT_MESSAGE), None, None
    if len(batches) != 1 or batches[0].magic != MAGIC:
        return Rejection(ErrorCode.INVALID_RECORD), None, None
    batch = batches[0]
    if (batch.is_control or batch.records_count <= 0 or batch.records_count != batch.last_offset_delta + 1
            or (batch.producer_id >= 0 and batch.base_sequence < 0)):
        return Rejection(ErrorCode.INVALID_RECORD, log_start_offset=log_start_offset), None, None
    if batch.compression == ZSTD and version < 7:
        return Rejection(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE), None, None
    if batch.size > config.max_message_bytes:
        return Rejection(ErrorCode.MESSAGE_TOO_LARGE), None, None
    try:
        batch.validate()  # the CRC, as Log.append would check it; after the checks above, as before
    except CorruptRecordError:
        return Rejection(ErrorCode.CORRUPT_MESSAGE), None, None
    lowest = now_ms - config.message_timestamp_before_max_ms
    highest = now_ms + config.message_timestamp_after_max_ms
    check_timestamps = not config.log_append_time and (batch.max_timestamp > highest or config.message_timestamp_before_max_ms < LONG_MAX)
    target = TARGET_CODECS.get(config.compression_type, batch.compression)
    if not (config.compact or check_timestamps or target != batch.compression):
        return None, records, batches
    # Only here are records decoded.
    try:
        decoded = batch.records()
    except CorruptRecordError:
        return Rejection(ErrorCode.CORRUPT_MESSAGE), None, None
    errors: list[tuple[int, int, str]] = []  # (error code, batch index, message), as LogValidator.validateRecord
    for index, record in enumerate(decoded):
        if config.compact and not batch.is_control and record.key is None:
            errors.append((ErrorCode.INVALID_RECORD, index, f"Compacted topic cannot accept message without key in topic partition {topic}-{partition}"))
        elif check_timestamps and record.timestamp != NO_TIMESTAMP and not lowest <= record.timestamp <= highest:
            errors.append((ErrorCode.INVALID_TIMESTAMP, index, f"Timestamp {record.timestamp} of message with offset {record.offset} is out of range. "
                                                               f"The timestamp should be within [{lowest}, {highest}]"))
    if errors:
        return _record_errors_rejection(errors)._replace(log_start_offset=log_start_offset), None, None
    if target == batch.compression:
        return None, records, batches
    rebuilt = build_batch(
        [NewRecord(r.key, r.value, r.headers, r.timestamp) for r in decoded],
        compression=target, producer_id=batch.producer_id, producer_epoch=batch.producer_epoch, base_sequence=batch.base_sequence,
        is_transactional=batch.is_transactional, partition_leader_epoch=batch.partition_leader_epoch,
    )
    if len(rebuilt) > config.max_message_bytes:
        return Rejection(ErrorCode.MESSAGE_TOO_LARGE), None, None
    return None, rebuilt, None


def _record_errors_rejection(errors: list[tuple[int, int, str]]) -> Rejection:
    """LogValidator.processRecordErrors: any bad timestamp makes it INVALID_TIMESTAMP."""
    record_errors = tuple((index, message) for _, index, message in errors)
    if any(code == ErrorCode.INVALID_TIMESTAMP for code, _, _ in errors):
        return Rejection(ErrorCode.INVALID_TIMESTAMP, "One or more records have been rejected due to invalid timestamp", record_errors)
    shown = ", ".join(f"RecordError(batchIndex={index}, message='{message}')" for index, message in record_errors[:3])
    return Rejection(
        ErrorCode.INVALID_RECORD,
        f"One or more records have been rejected due to {len(errors)} record errors in total, "
        f"and only showing the first three errors at most: [{shown}]",
        record_errors,
    )


def _partition_response(index: int, error: int, info: Any) -> Any:
    """`info` is the AppendInfo of a success, a Rejection, or None."""
    if isinstance(info, Rejection):
        return PartitionResponse(
            index=index, error_code=error, base_offset=-1, log_append_time_ms=-1, log_start_offset=info.log_start_offset,
            error_message=info.message,
            record_errors=[RecordError(batch_index=i, batch_index_error_message=m) for i, m in info.record_errors],
        )
    if info is None:
        return PartitionResponse(index=index, error_code=error, base_offset=-1, log_append_time_ms=-1, log_start_offset=-1)
    return PartitionResponse(
        index=index,
        error_code=ErrorCode.NONE,
        base_offset=info.first_offset,
        log_append_time_ms=info.log_append_time,
        log_start_offset=info.log_start_offset,
    )
