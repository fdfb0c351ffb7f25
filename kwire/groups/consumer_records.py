"""The __consumer_offsets records of KIP-848 consumer groups, in Kafka 4.4's formats.

Key: int16 record type, then the key fields (version 0, not flexible).
Value: int16 version (0), then the fields (flexible); null: tombstone.

    3  ConsumerGroupMetadata          group        -> group epoch, tagged metadata hash
    4  ConsumerGroupPartitionMetadata group        -> subscribed topic metadata (read only:
                                                      Kafka 4.1+ writes only its tombstone)
    5  ConsumerGroupMemberMetadata    group,member -> instance/rack/client ids, subscription,
                                                      rebalance timeout, server assignor
    6  ConsumerGroupTargetAssignmentMetadata group -> assignment epoch, tagged timestamp
    7  ConsumerGroupTargetAssignmentMember group,member -> target partitions by topic id
    8  ConsumerGroupCurrentMemberAssignment group,member -> member epoch, previous epoch,
                                                      state, assigned and pending-revocation
                                                      partitions (tagged assignment epochs, KIP-1251)
    16 ConsumerGroupRegularExpression group,regex  -> resolved topics (read and ignored:
                                                      kwire resolves regexes on each heartbeat)

Kafka's GroupCoordinatorRecordHelpers write every value at version 0. When a
member leaves, its records are removed in the order current assignment,
target assignment, member metadata, then the new group epoch; a deleted
group ends with the tombstones of the target assignment metadata, the
partition metadata and the group metadata.

The layouts are the JSON schema facts in kwire_protocol/schemas/
(ConsumerGroup*Key/Value.json), read by the message codec.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

from kwire_protocol import messages
from kwire_protocol.primitives import Reader

from kwire.groups.consumer_group import Assignment, ClassicMemberMetadata, ConsumerGroupMember, EpochAssignment, MemberState

CONSUMER_GROUP_METADATA = 3
CONSUMER_GROUP_PARTITION_METADATA = 4
CONSUMER_GROUP_MEMBER_METADATA = 5
CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA = 6
CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER = 7
CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT = 8
CONSUMER_GROUP_REGULAR_EXPRESSION = 16

RECORD_TYPES = {
    CONSUMER_GROUP_METADATA: "ConsumerGroupMetadata",
    CONSUMER_GROUP_PARTITION_METADATA: "ConsumerGroupPartitionMetadata",
    CONSUMER_GROUP_MEMBER_METADATA: "ConsumerGroupMemberMetadata",
    CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA: "ConsumerGroupTargetAssignmentMetadata",
    CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER: "ConsumerGroupTargetAssignmentMember",
    CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: "ConsumerGroupCurrentMemberAssignment",
    CONSUMER_GROUP_REGULAR_EXPRESSION: "ConsumerGroupRegularExpression",
}

VALUE_VERSION = 0
_INT16 = struct.Struct(">h")

CurrentValue = messages.ConsumerGroupCurrentMemberAssignmentValue
CurrentTopicPartitions = CurrentValue.cls.TopicPartitions
TargetMemberValue = messages.ConsumerGroupTargetAssignmentMemberValue
TargetTopicPartition = TargetMemberValue.cls.TopicPartition

Record = tuple[bytes, bytes | None]


@dataclass(frozen=True)
class ConsumerRecord:
    """A decoded consumer-group record: its type, key fields and value (None: tombstone)."""

    record_type: int
    group_id: str
    key: Any
    value: Any | None


def _key(record_type: int, **fields: Any) -> bytes:
    mtype = getattr(messages, RECORD_TYPES[record_type] + "Key")
    return _INT16.pack(record_type) + mtype.encode(mtype(**fields), 0)


def _value(record_type: int, **fields: Any) -> bytes:
    mtype = getattr(messages, RECORD_TYPES[record_type] + "Value")
    return _INT16.pack(VALUE_VERSION) + mtype.encode(mtype(**fields), VALUE_VERSION)


def group_epoch_record(group_id: str, epoch: int, metadata_hash: int) -> Record:
    return _key(CONSUMER_GROUP_METADATA, group_id=group_id), _value(CONSUMER_GROUP_METADATA, epoch=epoch, metadata_hash=metadata_hash)


def member_metadata_record(group_id: str, member: ConsumerGroupMember) -> Record:
    return _key(CONSUMER_GROUP_MEMBER_METADATA, group_id=group_id, member_id=member.member_id), _value(
        CONSUMER_GROUP_MEMBER_METADATA,
        instance_id=member.instance_id,
        rack_id=member.rack_id,
        client_id=member.client_id,
        client_host=member.client_host,
        subscribed_topic_names=list(member.subscribed_topic_names),
        subscribed_topic_regex=member.subscribed_topic_regex,
        rebalance_timeout_ms=member.rebalance_timeout_ms,
        server_assignor=member.server_assignor,
        classic_member_metadata=_classic_metadata(member.classic),
    )


ClassicMetadata = messages.ConsumerGroupMemberMetadataValue.cls.ClassicMemberMetadata
ClassicProtocol = ClassicMetadata.ClassicProtocol


def _classic_metadata(classic: ClassicMemberMetadata | None) -> Any:
    if classic is None:
        return None
    return ClassicMetadata(session_timeout_ms=classic.session_timeout_ms,
                           supported_protocols=[ClassicProtocol(name=n, metadata=m) for n, m in classic.protocols])


def classic_member_metadata(value: Any) -> ClassicMemberMetadata | None:
    """The member's classic metadata from a ConsumerGroupMemberMetadataValue (None: consumer protocol)."""
    classic = value.classic_member_metadata
    if classic is None:
        return None
    return ClassicMemberMetadata(classic.session_timeout_ms, tuple((p.name, bytes(p.metadata)) for p in classic.supported_protocols))


def target_member_record(group_id: str, member_id: str, assignment: Assignment) -> Record:
    return _key(CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER, group_id=group_id, member_id=member_id), _value(
        CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER,
        topic_partitions=[TargetTopicPartition(topic_id=t, partitions=sorted(p)) for t, p in sorted(assignment.items(), key=lambda i: str(i[0])) if p],
    )


def target_metadata_record(group_id: str, epoch: int, timestamp: int) -> Record:
    return _key(CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, group_id=group_id), _value(
        CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, assignment_epoch=epoch, assignment_timestamp=timestamp
    )


def _with_epochs(assignment: EpochAssignment) -> list[Any]:
    out = []
    for topic_id, partitions in sorted(assignment.items(), key=lambda i: str(i[0])):
        if partitions:
            ordered = sorted(partitions)
            out.append(CurrentTopicPartitions(topic_id=topic_id, partitions=ordered, assignment_epochs=[partitions[p] for p in ordered]))
    return out


def current_assignment_record(group_id: str, member: ConsumerGroupMember) -> Record:
    return _key(CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT, group_id=group_id, member_id=member.member_id), _value(
        CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT,
        member_epoch=member.member_epoch,
        previous_member_epoch=member.previous_member_epoch,
        state=int(member.state),
        assigned_partitions=_with_epochs(member.assigned),
        partitions_pending_revocation=_with_epochs(member.pending_revocation),
    )


def member_tombstones(group_id: str, member_id: str) -> list[Record]:
    """Kafka's order: current assignment, target assignment, member metadata."""
    return [
        (_key(CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT, group_id=group_id, member_id=member_id), None),
        (_key(CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER, group_id=group_id, member_id=member_id), None),
        (_key(CONSUMER_GROUP_MEMBER_METADATA, group_id=group_id, member_id=member_id), None),
    ]


def group_tombstones(group_id: str) -> list[Record]:
    """Kafka's ConsumerGroup.createGroupTombstoneRecords for a group without members."""
    return [
        (_key(CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA, group_id=group_id), None),
        (_key(CONSUMER_GROUP_PARTITION_METADATA, group_id=group_id), None),
        (_key(CONSUMER_GROUP_METADATA, group_id=group_id), None),
    ]


def decode(record_type: int, key: Reader, value: bytes | None) -> ConsumerRecord:
    name = RECORD_TYPES[record_type]
    k = getattr(messages, name + "Key").decode(key, 0)
    if value is None:
        return ConsumerRecord(record_type, k.group_id, k, None)
    (version,) = _INT16.unpack_from(value)
    v = getattr(messages, name + "Value").decode(Reader(memoryview(value)[2:]), version)
    return ConsumerRecord(record_type, k.group_id, k, v)


def epoch_assignment(topics: list[Any], default_epoch: int) -> dict[uuid.UUID, dict[int, int]]:
    """Partitions with their assignment epochs; records without epochs (before
    KIP-1251) get the member's epoch, never below 0, as Kafka reads them."""
    out: dict[uuid.UUID, dict[int, int]] = {}
    fallback = max(default_epoch, 0)
    for tp in topics:
        epochs = tp.assignment_epochs
        partitions = out.setdefault(tp.topic_id, {})
        for i, p in enumerate(tp.partitions):
            partitions[p] = epochs[i] if epochs is not None and i < len(epochs) else fallback
    return out


def member_state(value: int) -> MemberState:
    try:
        return MemberState(value)
    except ValueError:
        return MemberState.UNKNOWN
