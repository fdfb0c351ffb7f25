"""The records of __transaction_state, in Kafka's formats (TransactionLog).

    key   = int16 record type 0 | TransactionLogKey v0: transactional id
    value = int16 version       | TransactionLogValue   (null: tombstone, the id expired)

    TransactionLogValue v0: producer id, epoch, timeout, status (the state
    id), partitions (null when Empty), last update and start timestamps;
    v1 (flexible) adds tagged PreviousProducerId, NextProducerId and
    ClientTransactionVersion.

kwire writes v1, as Kafka 4.4 does with transaction.version 2 finalized, so
kafka-dump-log --transaction-log-decoder reads kwire's segments. The field
layouts are the schema facts in kwire_protocol/schemas/TransactionLogKey.json
and TransactionLogValue.json. A transactional id lives in partition
abs(String.hashCode) % partitions, as in Kafka.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kwire_protocol import messages
from kwire_protocol.errors import ProtocolError
from kwire_protocol.primitives import Reader

from kwire.groups.records import partition_for  # noqa: F401  (the same hash as groups)
from kwire.transactions.metadata import NO_PRODUCER_EPOCH, Transit
from kwire.transactions.state import TransactionState

TransactionLogKey = messages.TransactionLogKey
TransactionLogValue = messages.TransactionLogValue
PartitionsSchema = TransactionLogValue.cls.PartitionsSchema

TRANSACTION_LOG_TYPE = 0
VALUE_VERSION = 1

_INT16 = struct.Struct(">h")


@dataclass(frozen=True)
class TransactionRecord:
    transactional_id: str
    value: Transit | None  # None: tombstone


def key(transactional_id: str) -> bytes:
    return _INT16.pack(TRANSACTION_LOG_TYPE) + TransactionLogKey.encode(TransactionLogKey(transactional_id=transactional_id), 0)


def value(transit: Transit) -> bytes:
    if transit.state == TransactionState.EMPTY and transit.partitions:
        raise ValueError(f"an Empty transaction with partitions: {transit}")
    partitions = None
    if transit.state != TransactionState.EMPTY:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(transit.partitions):
            by_topic.setdefault(topic, []).append(partition)
        partitions = [PartitionsSchema(topic=topic, partition_ids=ids) for topic, ids in by_topic.items()]
    message = TransactionLogValue(
        producer_id=transit.producer_id,
        previous_producer_id=transit.previous_producer_id,
        next_producer_id=transit.next_producer_id,
        producer_epoch=transit.producer_epoch,
        transaction_timeout_ms=transit.txn_timeout_ms,
        transaction_status=transit.state.id,
        transaction_partitions=partitions,
        transaction_last_update_timestamp_ms=transit.txn_last_update_timestamp,
        transaction_start_timestamp_ms=transit.txn_start_timestamp,
        client_transaction_version=transit.client_transaction_version,
    )
    return _INT16.pack(VALUE_VERSION) + TransactionLogValue.encode(message, VALUE_VERSION)


def decode(key_bytes: bytes | None, value_bytes: bytes | None) -> TransactionRecord | None:
    """One record; None for a record type this coordinator does not know.
    Raises ProtocolError for bytes that do not decode."""
    if key_bytes is None or len(key_bytes) < 2:
        raise ProtocolError("__transaction_state record without a key")
    if _INT16.unpack_from(key_bytes)[0] != TRANSACTION_LOG_TYPE:
        return None
    transactional_id = TransactionLogKey.decode(Reader(memoryview(key_bytes)[2:]), 0).transactional_id
    if value_bytes is None:
        return TransactionRecord(transactional_id, None)
    if len(value_bytes) < 2:
        raise ProtocolError("__transaction_state value without a version")
    version = _INT16.unpack_from(value_bytes)[0]
    if not 0 <= version <= VALUE_VERSION:
        raise ProtocolError(f"__transaction_state value version {version}")
    v = TransactionLogValue.decode(Reader(memoryview(value_bytes)[2:]), version)
    try:
        state = TransactionState.from_id(v.transaction_status)
    except ValueError as e:
        raise ProtocolError(str(e)) from None
    partitions = frozenset() if state == TransactionState.EMPTY or v.transaction_partitions is None else frozenset(
        (p.topic, index) for p in v.transaction_partitions for index in p.partition_ids
    )
    # The last epoch is not stored (Kafka's TransactionLog.read sets it to -1 too).
    transit = Transit(v.producer_id, v.previous_producer_id, v.next_producer_id, v.producer_epoch, NO_PRODUCER_EPOCH,
                      v.transaction_timeout_ms, state, partitions, v.transaction_start_timestamp_ms,
                      v.transaction_last_update_timestamp_ms, v.client_transaction_version)
    return TransactionRecord(transactional_id, transit)
