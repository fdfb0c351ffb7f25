"""A classic group and its members: the data the coordinator owns.

Only the coordinator changes these objects, on the event loop. A member
lists its protocols in its order of preference; the group's protocol is
chosen by vote among the protocols every member supports (Kafka's
ClassicGroup.selectProtocol). The first member to join leads; when the
leader goes, the next member in join order does.

`offsets` holds the committed offsets of the group, also for groups that
never had members (commits with generation -1, "simple" groups).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

from kwire.groups.records import OffsetAndMetadata
from kwire.groups.state import COMPLETING_REBALANCE, DEAD, EMPTY, PREPARING_REBALANCE, STABLE, GroupState, check_transition

CONSUMER_PROTOCOL_TYPE = "consumer"
GROUP_TYPE_CLASSIC = "classic"  # ListGroups v5+ group type


@dataclass
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]  # (name, metadata), most preferred first
    assignment: bytes = b""
    join_future: asyncio.Future[Any] | None = None
    sync_future: asyncio.Future[Any] | None = None

    @property
    def awaiting_join(self) -> bool:
        return self.join_future is not None and not self.join_future.done()

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_future is not None and not self.sync_future.done()

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str | None) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        return b""

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return [(n, bytes(m)) for n, m in protocols] == [(n, bytes(m)) for n, m in self.protocols]

    def vote(self, candidates: set[str]) -> str:
        for name, _ in self.protocols:
            if name in candidates:
                return name
        raise ValueError(f"member {self.member_id} supports none of {sorted(candidates)}")


@dataclass
class ClassicGroup:
    group_id: str
    state: GroupState = EMPTY
    previous_state: GroupState = EMPTY
    state_timestamp: int = -1  # when the current state began (GroupMetadataValue.currentStateTimestamp)
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, Member] = field(default_factory=dict)  # in join order
    static_members: dict[str, str] = field(default_factory=dict)  # group instance id -> member id
    pending_members: set[str] = field(default_factory=set)  # KIP-394: ids handed out, not yet joined
    pending_sync: set[str] = field(default_factory=set)  # members expected to send SyncGroup
    new_member_added: bool = False  # extends the initial rebalance delay
    offsets: dict[tuple[str, int], OffsetAndMetadata] = field(default_factory=dict)

    group_type = GROUP_TYPE_CLASSIC

    def transition_to(self, target: GroupState, now_ms: int) -> None:
        check_transition(self.group_id, self.state, target)
        self.previous_state = self.state
        self.state = target
        self.state_timestamp = now_ms

    @property
    def is_empty(self) -> bool:
        return not self.members

    # -- membership -----------------------------------------------------------

    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.pending_members.discard(member.member_id)

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        if member.group_instance_id is not None and self.static_members.get(member.group_instance_id) == member_id:
            del self.static_members[member.group_instance_id]
        self.pending_sync.discard(member_id)
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def replace_static_member(self, instance_id: str, old_member_id: str, new_member_id: str) -> Member:
        """Give a rejoining static member a new id, keeping its place, protocols and assignment."""
        member = self.members[old_member_id]
        member.member_id = new_member_id
        # Keep join order (it decides the next leader): the new id takes the old one's place.
        self.members = {(new_member_id if k == old_member_id else k): m for k, m in self.members.items()}
        self.static_members[instance_id] = new_member_id
        if self.leader_id == old_member_id:
            self.leader_id = new_member_id
        if old_member_id in self.pending_sync:
            self.pending_sync.discard(old_member_id)
            self.pending_sync.add(new_member_id)
        return member

    def static_member_id(self, instance_id: str | None) -> str | None:
        return None if instance_id is None else self.static_members.get(instance_id)

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def has_all_members_joined(self) -> bool:
        return all(m.awaiting_join for m in self.members.values()) and not self.pending_members

    def num_awaiting_join(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join)

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # -- protocols ------------------------------------------------------------

    def candidate_protocols(self) -> set[str]:
        members = list(self.members.values())
        if not members:
            return set()
        candidates = set(members[0].protocol_names())
        for member in members[1:]:
            candidates &= set(member.protocol_names())
        return candidates

    def supports_protocols(self, protocol_type: str, protocol_names: list[str]) -> bool:
        """Kafka's ClassicGroup.supportsProtocols: an empty group takes any
        non-empty type and protocol list; otherwise the type must match and
        one of the protocols must be one every member supports."""
        if not self.members:
            return bool(protocol_type) and bool(protocol_names)
        return protocol_type == self.protocol_type and bool(self.candidate_protocols() & set(protocol_names))

    def select_protocol(self) -> str:
        """Each member votes for its most preferred candidate; most votes
        wins, ties to the protocol the earliest-joined voter chose."""
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for member in self.members.values():
            choice = member.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        best = max(votes.values())
        return next(name for name, count in votes.items() if count == best)

    def subscribed_topics(self) -> set[str] | None:
        """Topics the members subscribe to, from consumer-protocol metadata;
        None when not known (another protocol type, or undecodable)."""
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE or self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            parsed = parse_subscription_topics(member.metadata(self.protocol_name))
            if parsed is None:
                return None
            topics.update(parsed)
        return topics


def parse_subscription_topics(metadata: bytes) -> list[str] | None:
    """The topics of a ConsumerProtocolSubscription (int16 version, then an
    array of topic strings in every version), or None if it does not decode."""
    try:
        view = memoryview(metadata)
        (count,) = struct.unpack_from(">i", view, 2)
        position = 6
        topics = []
        for _ in range(max(count, 0)):
            (length,) = struct.unpack_from(">h", view, position)
            position += 2
            topics.append(bytes(view[position : position + length]).decode())
            position += length
        return topics
    except (struct.error, UnicodeDecodeError):
        return None


__all__ = ["ClassicGroup", "Member", "EMPTY", "PREPARING_REBALANCE", "COMPLETING_REBALANCE", "STABLE", "DEAD"]
