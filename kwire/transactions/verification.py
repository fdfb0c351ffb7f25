"""Transactional produce checks (KIP-890), Kafka's ReplicaManager and
AddPartitionsToTxnManager reduced to a local coordinator call.

Before a transactional batch opens a transaction on a partition (the
partition has no ongoing transaction of that producer at that epoch), the
coordinator must know the partition is in the producer's transaction:

* Produce v12+ comes from transactions v2 clients, which never send
  AddPartitionsToTxn: the partition is added to the transaction here
  (implicitly, with the batch's producer id and epoch, so a late write of
  an earlier transaction, whose epoch the EndTxn bumped, is fenced).
* Older requests are verified when transaction.partition.verification.enable
  is on (default): a partition that is not in the ongoing transaction gets
  INVALID_TXN_STATE (TRANSACTION_ABORTABLE from v11, which those clients
  handle by aborting), so a write that raced an abort or a timeout never
  lands outside a transaction.

Coordinator answers become what producers retry or act on, as Kafka maps
them: PRODUCER_FENCED -> INVALID_PRODUCER_EPOCH; NOT_COORDINATOR,
COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS and
CONCURRENT_TRANSACTIONS -> NOT_ENOUGH_REPLICAS (retriable for every client).
Batches of one request with different producer ids get
INVALID_PRODUCER_ID_MAPPING.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import TRANSACTIONAL_MASK, split_batches

from kwire.transactions.metadata import TopicPartition

# The low byte of a v2 batch's int16 attributes (after base offset, length,
# leader epoch, magic and CRC).
_ATTRIBUTES_LOW_BYTE = 22
IMPLICIT_ADD_PRODUCE_VERSION = 12
ABORTABLE_PRODUCE_VERSION = 11

_RETRIABLE = {ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
              ErrorCode.CONCURRENT_TRANSACTIONS}


def _to_produce_error(error: int, version: int) -> int:
    if error == ErrorCode.PRODUCER_FENCED:
        return ErrorCode.INVALID_PRODUCER_EPOCH
    if error == ErrorCode.TRANSACTION_ABORTABLE and version < ABORTABLE_PRODUCE_VERSION:
        return ErrorCode.INVALID_TXN_STATE
    if error in _RETRIABLE:
        return ErrorCode.NOT_ENOUGH_REPLICAS
    return error


def _transactional_producer(records: Any) -> tuple[int, int] | None:
    """(producer id, epoch) of a transactional batch, from its header; None otherwise."""
    if not records:
        return None
    try:
        batch = next(iter(split_batches(records)), None)
    except CorruptRecordError:
        return None  # the append's own checks answer it
    if batch is None or not batch.is_transactional or batch.is_control or batch.producer_id < 0:
        return None  # Kafka verifies only batches that carry a producer id
    return batch.producer_id, batch.producer_epoch


def needs_verification(request: Any) -> bool:
    return request.body.transactional_id is not None


def transactional_without_id(request: Any) -> bool:
    """A transactional batch in a request without a transactional id: Kafka
    (KafkaApis.handleProduceRequest) refuses the whole request with
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Only the first batch's attributes
    byte is looked at: a request has one batch per partition, and this runs
    for every non-transactional produce."""
    for topic_data in request.body.topic_data:
        for data in topic_data.partition_data:
            records = data.records
            if records is not None and len(records) > _ATTRIBUTES_LOW_BYTE and records[_ATTRIBUTES_LOW_BYTE] & TRANSACTIONAL_MASK:
                return True
    return False


async def verify(broker: Any, request: Any) -> dict[TopicPartition, int]:
    """The produce errors of partitions whose transactional batch may not be appended."""
    body = request.body
    version = request.version
    runner = broker.transaction_coordinator
    implicit_add = version >= IMPLICIT_ADD_PRODUCE_VERSION
    if runner is None or not (implicit_add or broker.config["transaction.partition.verification.enable"]):
        return {}
    image = broker.image
    pending: dict[tuple[int, int], list[TopicPartition]] = {}
    for topic_data in body.topic_data:
        topic = image.topic(topic_data.name) if version < 13 else image.topic_by_id(topic_data.topic_id)
        if topic is None:
            continue
        for data in topic_data.partition_data:
            producer = _transactional_producer(data.records)
            if producer is None:
                continue
            partition_log = broker.partitions.get(topic.name, data.index)
            entry = partition_log.producer_state.producers.get(producer[0]) if partition_log is not None else None
            if entry is not None and entry.current_txn_first_offset >= 0 and entry.epoch == producer[1]:
                continue  # its transaction is open here already
            pending.setdefault(producer, []).append((topic.name, data.index))
    if not pending:
        return {}
    if len(pending) > 1:
        return {tp: ErrorCode.INVALID_PRODUCER_ID_MAPPING for partitions in pending.values() for tp in partitions}
    (producer_id, producer_epoch), partitions = next(iter(pending.items()))
    coordinator = runner.coordinator
    if implicit_add:
        error = await coordinator.add_partitions(body.transactional_id, producer_id, producer_epoch, set(partitions), 2)
        errors = dict.fromkeys(partitions, error)
    else:
        errors = coordinator.verify_partitions(body.transactional_id, producer_id, producer_epoch, partitions)
    return {tp: _to_produce_error(error, version) for tp, error in errors.items() if error != ErrorCode.NONE}
