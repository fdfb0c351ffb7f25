"""The records of __consumer_offsets, in Kafka's formats.

Every record is a key and a value, each prefixed by an int16:

    key   = int16 record type | key fields (schema version 0)
    value = int16 version     | value fields at that version   (null: tombstone)

    type 0, 1  OffsetCommitKey    group, topic, partition      (0: written before Kafka 4.0)
    type 2     GroupMetadataKey   group
    types 3-8, 16: KIP-848 consumer groups (consumer_records.py)

    OffsetCommitValue   v1: with expireTimestamp (a commit that asked for a retention time)
                        v3: leaderEpoch; v4: flexible, tagged topicId (tag 0)
    GroupMetadataValue  v0-v4: protocol type, generation, protocol, leader,
                        currentStateTimestamp (v2+), members with their
                        subscription and assignment bytes, groupInstanceId (v3+)

What kwire writes is what Kafka 4.4 writes (GroupCoordinatorRecordHelpers):
OffsetCommitValue v4 (v1 when an expire timestamp is set) and
GroupMetadataValue v3, so kafka-dump-log --offsets-decoder reads them. The
field layouts are the JSON schema facts in kwire_protocol/schemas/
(OffsetCommitKey/Value, GroupMetadataKey/Value), encoded by the schema codec.

A group id maps to partition abs(String.hashCode(group id)) % partitions,
Kafka's Utils.abs over Java's String.hashCode (UTF-16 code units), so a
group lands on the same partition number as in Kafka.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from kwire_protocol import messages
from kwire_protocol.errors import ProtocolError
from kwire_protocol.primitives import Reader

OffsetCommitKey = messages.OffsetCommitKey
OffsetCommitValue = messages.OffsetCommitValue
GroupMetadataKey = messages.GroupMetadataKey
GroupMetadataValue = messages.GroupMetadataValue
MemberMetadata = GroupMetadataValue.cls.MemberMetadata

LEGACY_OFFSET_COMMIT_TYPE = 0
OFFSET_COMMIT_TYPE = 1
GROUP_METADATA_TYPE = 2

OFFSET_COMMIT_VALUE_VERSION = 4
OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1
GROUP_METADATA_VALUE_VERSION = 3

_INT16 = struct.Struct(">h")
ZERO_UUID = uuid.UUID(int=0)


def java_string_hash(text: str) -> int:
    """Java's String.hashCode: s[0]*31^(n-1) + ... over UTF-16 code units, as an int32."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group_id: str, partitions: int) -> int:
    """Kafka's Utils.abs(groupId.hashCode()) % partitions (abs(MIN_VALUE) is 0)."""
    h = java_string_hash(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


@dataclass(frozen=True)
class OffsetAndMetadata:
    offset: int
    leader_epoch: int  # -1: none
    metadata: str
    commit_timestamp: int
    expire_timestamp: int = -1  # -1: none (only v1 values carry one)
    topic_id: uuid.UUID = ZERO_UUID
    # Where the record sits in __consumer_offsets (-1: not known). When a
    # transaction commits, its offset replaces the committed one only if
    # written later (Kafka's OffsetMetadataManager.replayEndTransactionMarker).
    record_offset: int = field(default=-1, compare=False)


@dataclass(frozen=True)
class OffsetRecord:
    group_id: str
    topic: str
    partition: int
    value: OffsetAndMetadata | None  # None: tombstone


@dataclass(frozen=True)
class LogRecord:
    """One record of __consumer_offsets as the loader reads it."""

    offset: int
    producer_id: int  # the batch's producer id if it is transactional, else -1
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class TransactionMarker:
    """A control batch's EndTransactionMarker: the producer's transaction ends here."""

    producer_id: int
    commit: bool


@dataclass(frozen=True)
class GroupRecord:
    group_id: str
    value: Any | None  # a GroupMetadataValue message, or None: tombstone


def _prefixed(prefix: int, body: bytes) -> bytes:
    return _INT16.pack(prefix) + body


def offset_commit_key(group_id: str, topic: str, partition: int) -> bytes:
    return _prefixed(OFFSET_COMMIT_TYPE, OffsetCommitKey.encode(OffsetCommitKey(group=group_id, topic=topic, partition=partition), 0))


def offset_commit_value(value: OffsetAndMetadata) -> bytes:
    version = OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY if value.expire_timestamp >= 0 else OFFSET_COMMIT_VALUE_VERSION
    message = OffsetCommitValue(
        offset=value.offset,
        leader_epoch=value.leader_epoch,
        metadata=value.metadata,
        commit_timestamp=value.commit_timestamp,
        expire_timestamp=value.expire_timestamp,
        topic_id=value.topic_id,
    )
    return _prefixed(version, OffsetCommitValue.encode(message, version))


def group_metadata_key(group_id: str) -> bytes:
    return _prefixed(GROUP_METADATA_TYPE, GroupMetadataKey.encode(GroupMetadataKey(group=group_id), 0))


def group_metadata_value(value: Any) -> bytes:
    return _prefixed(GROUP_METADATA_VALUE_VERSION, GroupMetadataValue.encode(value, GROUP_METADATA_VALUE_VERSION))


def _split(data: bytes, what: str) -> tuple[int, Reader]:
    if len(data) < 2:
        raise ProtocolError(f"__consumer_offsets {what} of {len(data)} bytes has no version")
    return _INT16.unpack_from(data)[0], Reader(memoryview(data)[2:])


def decode(key: bytes | None, value: bytes | None) -> Any:
    """One __consumer_offsets record: an OffsetRecord, a GroupRecord, a
    consumer_records.ConsumerRecord (KIP-848 consumer groups), or None for
    record types this coordinator does not keep (share and streams groups).
    Raises ProtocolError for bytes that do not decode."""
    if key is None:
        raise ProtocolError("__consumer_offsets record without a key")
    record_type, reader = _split(key, "key")
    if record_type in (LEGACY_OFFSET_COMMIT_TYPE, OFFSET_COMMIT_TYPE):
        k = OffsetCommitKey.decode(reader, 0)
        if value is None:
            return OffsetRecord(k.group, k.topic, k.partition, None)
        version, value_reader = _split(value, "value")
        v = OffsetCommitValue.decode(value_reader, version)
        return OffsetRecord(
            k.group,
            k.topic,
            k.partition,
            OffsetAndMetadata(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp, v.expire_timestamp, v.topic_id),
        )
    if record_type == GROUP_METADATA_TYPE:
        k = GroupMetadataKey.decode(reader, 0)
        if value is None:
            return GroupRecord(k.group, None)
        version, value_reader = _split(value, "value")
        return GroupRecord(k.group, GroupMetadataValue.decode(value_reader, version))
    # Imported here: consumer_records builds on this module's types.
    from kwire.groups import consumer_records

    if record_type in consumer_records.RECORD_TYPES:
        return consumer_records.decode(record_type, reader, value)
    return None
