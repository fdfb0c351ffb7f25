"""A KIP-848 consumer group and its members: the data the consumer coordinator owns.

Kafka's names (ConsumerGroup, ConsumerGroupMember, MemberState): a group has

    group epoch        bumped whenever membership or what members subscribe to changes
    assignment epoch   the group epoch the target assignment was computed for
    target assignment  per member, the partitions the server-side assignor gave it
    current assignment per member, what it owns now (with each partition's
                       assignment epoch, KIP-1251) and what it must revoke

A member converges from its current to its target assignment through the
reconciliation in reconciliation.py; a partition is handed to its new owner
only once no other member holds it (`partition_owners`).

Members using the classic protocol (KIP-848 online migration, see
migration.py) carry their `ClassicMemberMetadata`: session timeout and
JoinGroup protocols.

The group state is derived, as Kafka's ConsumerGroup.maybeUpdateGroupState:
Empty without members; Assigning while the group epoch is ahead of the
assignment epoch; Reconciling while a member is not yet stable at the
assignment epoch; Stable otherwise.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from kwire.groups.records import OffsetAndMetadata

GROUP_TYPE_CONSUMER = "consumer"
CONSUMER_PROTOCOL_TYPE = "consumer"

LEAVE_GROUP_MEMBER_EPOCH = -1
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2

# The partitions of a target assignment, by topic id.
Assignment = Mapping[uuid.UUID, frozenset[int]]
# A current assignment: topic id -> partition -> the epoch it was assigned at (KIP-1251).
EpochAssignment = Mapping[uuid.UUID, Mapping[int, int]]


class MemberState(enum.IntEnum):
    """Kafka's MemberState; the value is what ConsumerGroupCurrentMemberAssignmentValue.State stores."""

    STABLE = 0
    UNREVOKED_PARTITIONS = 1
    UNRELEASED_PARTITIONS = 2
    UNKNOWN = 127


class ConsumerGroupState(enum.Enum):
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"


def without_epochs(assignment: EpochAssignment) -> dict[uuid.UUID, frozenset[int]]:
    return {t: frozenset(p) for t, p in assignment.items() if p}


@dataclass(frozen=True)
class ClassicMemberMetadata:
    """What a member joining with JoinGroup brings (ConsumerGroupMemberMetadataValue.ClassicMemberMetadata)."""

    session_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]  # (name, ConsumerProtocolSubscription bytes), most preferred first

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]


@dataclass(frozen=True)
class ConsumerGroupMember:
    """One member; immutable, so a reconciliation step returns a new one."""

    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    rebalance_timeout_ms: int = -1
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = 0
    state: MemberState = MemberState.STABLE
    assigned: EpochAssignment = field(default_factory=dict)
    pending_revocation: EpochAssignment = field(default_factory=dict)
    classic: ClassicMemberMetadata | None = None  # set for members using the classic protocol

    @property
    def uses_classic_protocol(self) -> bool:
        return self.classic is not None

    def with_changes(self, **changes: object) -> ConsumerGroupMember:
        return replace(self, **changes)  # type: ignore[arg-type]

    def subscription(self) -> tuple[object, ...]:
        """What, when changed, bumps the group epoch (Kafka's hasMemberSubscriptionChanged)."""
        return (self.subscribed_topic_names, self.subscribed_topic_regex, self.server_assignor, self.rack_id)

    def assigned_partitions(self) -> dict[uuid.UUID, frozenset[int]]:
        return without_epochs(self.assigned)

    def holds(self) -> Iterable[tuple[uuid.UUID, int]]:
        """Every partition this member holds: assigned or still to be revoked."""
        for assignment in (self.assigned, self.pending_revocation):
            for topic_id, partitions in assignment.items():
                for p in partitions:
                    yield topic_id, p


@dataclass
class ConsumerGroup:
    group_id: str
    group_epoch: int = 0
    metadata_hash: int = 0
    assignment_epoch: int = 0
    assignment_timestamp: int = 0
    members: dict[str, ConsumerGroupMember] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    target: dict[str, Assignment] = field(default_factory=dict)  # member id -> target assignment
    offsets: dict[tuple[str, int], OffsetAndMetadata] = field(default_factory=dict)
    partition_owners: dict[tuple[uuid.UUID, int], str] = field(default_factory=dict)
    deleted: bool = False

    protocol_type = CONSUMER_PROTOCOL_TYPE
    group_type = GROUP_TYPE_CONSUMER

    @property
    def is_empty(self) -> bool:
        return not self.members

    @property
    def state(self) -> ConsumerGroupState:
        if self.deleted:
            return ConsumerGroupState.DEAD
        if not self.members:
            return ConsumerGroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ConsumerGroupState.ASSIGNING
        for member in self.members.values():
            if member.state != MemberState.STABLE or member.member_epoch != self.assignment_epoch:
                return ConsumerGroupState.RECONCILING
        return ConsumerGroupState.STABLE

    # -- membership -------------------------------------------------------------

    def update_member(self, member: ConsumerGroupMember) -> None:
        """Add or replace a member, keeping the static-member index and partition owners."""
        old = self.members.get(member.member_id)
        if old is not None:
            self._release(old)
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id
        for key in member.holds():
            self.partition_owners[key] = member.member_id

    def remove_member(self, member_id: str) -> ConsumerGroupMember | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        self._release(member)
        if member.instance_id is not None and self.static_members.get(member.instance_id) == member_id:
            del self.static_members[member.instance_id]
        self.target.pop(member_id, None)
        return member

    def _release(self, member: ConsumerGroupMember) -> None:
        for key in member.holds():
            if self.partition_owners.get(key) == member.member_id:
                del self.partition_owners[key]

    def static_member(self, instance_id: str | None) -> ConsumerGroupMember | None:
        member_id = self.static_members.get(instance_id) if instance_id is not None else None
        return self.members.get(member_id) if member_id is not None else None

    def owner(self, topic_id: uuid.UUID, partition: int) -> str | None:
        return self.partition_owners.get((topic_id, partition))

    def classic_members(self) -> list[ConsumerGroupMember]:
        return [m for m in self.members.values() if m.classic is not None]

    def supports_classic_protocols(self, protocol_type: str, names: Iterable[str]) -> bool:
        """Kafka's ConsumerGroup.supportsClassicProtocols: the consumer protocol
        type, and (with classic members) a protocol every one of them supports."""
        if protocol_type != CONSUMER_PROTOCOL_TYPE:
            return False
        wanted = set(names)
        classic = self.classic_members()
        if not classic:
            return bool(wanted)
        return any(all(name in m.classic.protocol_names() for m in classic if m.classic is not None) for name in wanted)

    def only_classic_members_remain_without(self, member_ids: Iterable[str]) -> bool:
        """After removing `member_ids`, does at least one member remain, all of them classic?"""
        leaving = set(member_ids)
        remaining = [m for m in self.members.values() if m.member_id not in leaving]
        return bool(remaining) and all(m.classic is not None for m in remaining)

    def preferred_assignor(self, default: str) -> str:
        """The server assignor most members ask for (ties: the name first in
        sorted order), else the default (Kafka's computePreferredServerAssignor)."""
        counts: dict[str, int] = {}
        for member in self.members.values():
            if member.server_assignor is not None:
                counts[member.server_assignor] = counts.get(member.server_assignor, 0) + 1
        if not counts:
            return default
        best = max(counts.values())
        return min(name for name, count in counts.items() if count == best)
