"""Control batches: the transaction markers a broker writes into a partition.

A control batch has the control and transactional attribute bits set, the
producer id and epoch of the transaction it ends, no sequence number, and
exactly one record, the control record::

    key    version           int16   0
           type              int16   0 = abort, 1 = commit (KRaft uses 2 and up)
    value  (EndTxnMarker, for abort and commit)
           version           int16   0
           coordinator_epoch int32   epoch of the coordinator that wrote it

Consumers read the type to drop aborted transactions' records (with
read_committed) and never hand control records to applications.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import NO_SEQUENCE, RecordBatch
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

ABORT = 0
COMMIT = 1

_KEY = struct.Struct(">hh")
_END_TXN_MARKER = struct.Struct(">hi")
_CONTROL_KEY_VERSION = 0
_END_TXN_MARKER_VERSION = 0
# A control record is a few dozen bytes; anything beyond this is not one.
_MAX_CONTROL_RECORDS_SIZE = 64 * 1024


class EndTxnMarker(NamedTuple):
    control_type: int
    coordinator_epoch: int


def build_control_batch(
    commit: bool,
    *,
    producer_id: int,
    producer_epoch: int,
    coordinator_epoch: int,
    timestamp: int,
    base_offset: int = 0,
    partition_leader_epoch: int = -1,
) -> bytes:
    """A commit or abort marker batch for one producer's transaction."""
    key = _KEY.pack(_CONTROL_KEY_VERSION, COMMIT if commit else ABORT)
    value = _END_TXN_MARKER.pack(_END_TXN_MARKER_VERSION, coordinator_epoch)
    return build_batch(
        [NewRecord(key=key, value=value, timestamp=timestamp)],
        base_offset=base_offset,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=NO_SEQUENCE,
        is_transactional=True,
        is_control=True,
        partition_leader_epoch=partition_leader_epoch,
    )


def _control_record_key(batch: RecordBatch) -> tuple[bytes, bytes | None]:
    if not batch.is_control:
        raise CorruptRecordError(f"batch at offset {batch.base_offset} is not a control batch")
    records = batch.records(max_size=_MAX_CONTROL_RECORDS_SIZE)
    if len(records) != 1:
        raise CorruptRecordError(f"control batch at offset {batch.base_offset} holds {len(records)} records, not 1")
    key = records[0].key
    # Like Kafka, accept a longer key (a later key version may add fields)
    # but not a shorter one or a negative version.
    if key is None or len(key) < _KEY.size:
        raise CorruptRecordError(f"control record key at offset {batch.base_offset} is shorter than 4 bytes")
    version, _ = _KEY.unpack_from(key)
    if version < 0:
        raise CorruptRecordError(f"control record key at offset {batch.base_offset} has version {version}")
    return key, records[0].value


def control_type(batch: RecordBatch) -> int:
    """The control record type of a control batch (ABORT, COMMIT, or a KRaft type)."""
    key, _ = _control_record_key(batch)
    return _KEY.unpack_from(key)[1]


def read_end_txn_marker(batch: RecordBatch) -> EndTxnMarker:
    """The type and coordinator epoch of an abort or commit marker batch."""
    key, value = _control_record_key(batch)
    kind = _KEY.unpack_from(key)[1]
    if kind not in (ABORT, COMMIT):
        raise CorruptRecordError(f"control batch at offset {batch.base_offset} has type {kind}, not a transaction marker")
    if value is None or len(value) < _END_TXN_MARKER.size:
        raise CorruptRecordError(f"transaction marker value at offset {batch.base_offset} is shorter than 6 bytes")
    version, coordinator_epoch = _END_TXN_MARKER.unpack_from(value)
    if version < 0:
        raise CorruptRecordError(f"transaction marker at offset {batch.base_offset} has version {version}")
    return EndTxnMarker(kind, coordinator_epoch)
