"""The KIP-848 consumer group coordinator: ConsumerGroupHeartbeat and what it changes.

Theory of operation. `ConsumerGroupCoordinator` sits beside the classic
`GroupCoordinator` (which it is attached to as `coordinator.consumer`) and
shares its event loop, clock, timers, __consumer_offsets partitions and
loading; group ids are one namespace, so classic APIs that name a consumer
group are answered here (see `classic_*`, migration.py for classic members
inside consumer groups, and the offset checks).

One heartbeat, as Kafka's GroupMetadataManager.consumerGroupHeartbeat:

1. Validate the request (INVALID_REQUEST, UNSUPPORTED_ASSIGNOR,
   INVALID_REGULAR_EXPRESSION), find or create the group (a classic group
   of that id is converted: an empty one always, one with members as the
   migration policy allows, migration.py), find or create the member (static
   members by instance id: UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID;
   GROUP_MAX_SIZE_REACHED), and check its epoch (FENCED_MEMBER_EPOCH; a
   member one epoch behind that owns only what it was given is accepted).
2. A new member or a changed subscription bumps the group epoch; so does a
   change of the subscribed topics' metadata (a new matching topic, more
   partitions), tracked as a hash.
3. When the group epoch is ahead of the assignment epoch, the server-side
   assignor (the one most members ask for, else the first of
   group.consumer.assignors) computes a new target assignment at once.
4. The member takes one reconciliation step (reconciliation.py) and gets
   its assignment in the answer when it changed (or it is (re)joining).

Timers: a member's session (group.consumer.session.timeout.ms) restarts on
each heartbeat; when it ends, the member is fenced (removed, group epoch
bumped). A member that must revoke partitions gets its rebalance timeout to
do so, or is fenced. A member leaving (epoch -1) is removed at once; a
static member leaving with epoch -2 keeps its partitions until its session
ends or its instance id rejoins (epoch 0), taking them over.

Durability: each change is a list of records (consumer_records.py) appended
to the group's __consumer_offsets partition before the answer; `replay`
rebuilds the groups from them at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import ProtocolError

from kwire.groups import consumer_records as crec
from kwire.groups import migration
from kwire.groups import records as rec
from kwire.groups.assignors import ASSIGNORS, MemberSpec, resolve_names
from kwire.groups.consumer_group import (
    LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    ConsumerGroup,
    ConsumerGroupMember,
    MemberState,
)
from kwire.groups.reconciliation import reconcile
from kwire.topics import is_internal

log = logging.getLogger(__name__)

NONE = ErrorCode.NONE

# name -> (topic id, partition count)
TopicsView = Callable[[], Mapping[str, tuple[uuid.UUID, int]]]


@dataclass(frozen=True)
class ConsumerGroupConfig:
    session_timeout_ms: int = 45000  # group.consumer.session.timeout.ms
    heartbeat_interval_ms: int = 5000  # group.consumer.heartbeat.interval.ms
    max_size: int = 2**31 - 1  # group.consumer.max.size
    assignors: tuple[str, ...] = ("uniform", "range")  # group.consumer.assignors
    migration_policy: str = "bidirectional"  # group.consumer.migration.policy

    @classmethod
    def from_broker_config(cls, config: Any) -> ConsumerGroupConfig:
        session = config["group.consumer.session.timeout.ms"]
        interval = config["group.consumer.heartbeat.interval.ms"]
        # Kafka refuses to start with these out of their bounds; kwire says so the same way.
        if not config["group.consumer.min.session.timeout.ms"] <= session <= config["group.consumer.max.session.timeout.ms"]:
            raise ValueError("group.consumer.session.timeout.ms must be between group.consumer.min.session.timeout.ms and group.consumer.max.session.timeout.ms")
        if not config["group.consumer.min.heartbeat.interval.ms"] <= interval <= config["group.consumer.max.heartbeat.interval.ms"]:
            raise ValueError("group.consumer.heartbeat.interval.ms must be between group.consumer.min.heartbeat.interval.ms and group.consumer.max.heartbeat.interval.ms")
        if interval >= session:
            raise ValueError("group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms")
        return cls(session, interval, config["group.consumer.max.size"], tuple(resolve_names(config["group.consumer.assignors"])),
                   config["group.consumer.migration.policy"])

    @property
    def upgrade_enabled(self) -> bool:
        return self.migration_policy in ("upgrade", "bidirectional")

    @property
    def downgrade_enabled(self) -> bool:
        return self.migration_policy in ("downgrade", "bidirectional")


@dataclass
class HeartbeatRequest:
    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: list[str] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    topic_partitions: list[tuple[uuid.UUID, list[int]]] | None = None
    client_id: str = ""
    client_host: str = ""
    version: int = 1


@dataclass
class HeartbeatResult:
    error: int
    message: str | None = None
    member_id: str | None = None
    member_epoch: int = 0
    heartbeat_interval_ms: int = 0
    assignment: dict[uuid.UUID, list[int]] | None = None


class HeartbeatError(Exception):
    def __init__(self, error: int, message: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


# RE2/J (Kafka's regex engine) has no lookaround and no backreferences;
# Python's re does. Refuse them, so a pattern Kafka refuses is refused here.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=|\\g<")


def compile_regex(regex: str) -> re.Pattern[str]:
    if _NOT_RE2.search(regex):
        raise HeartbeatError(ErrorCode.INVALID_REGULAR_EXPRESSION,
                             f"SubscribedTopicRegex `{regex}` is not a valid regular expression: lookarounds and backreferences are not supported.")
    try:
        return re.compile(regex)
    except re.error as e:
        raise HeartbeatError(ErrorCode.INVALID_REGULAR_EXPRESSION, f"SubscribedTopicRegex `{regex}` is not a valid regular expression: {e.msg}.") from None


class ConsumerGroupCoordinator:
    def __init__(self, parent: Any, config: ConsumerGroupConfig, topics: TopicsView) -> None:
        self.parent = parent  # the classic GroupCoordinator: clock, timers, log, partitions
        self.config = config
        self.topics = topics
        self.groups: dict[str, ConsumerGroup] = {}
        self._regexes: dict[str, re.Pattern[str]] = {}
        parent.consumer = self

    # -- helpers -------------------------------------------------------------------

    def append(self, group_id: str, records: list[crec.Record]) -> Any:
        return self.parent.append_records(group_id, records)

    def _regex(self, regex: str) -> re.Pattern[str]:
        pattern = self._regexes.get(regex)
        if pattern is None:
            pattern = self._regexes[regex] = compile_regex(regex)
        return pattern

    def member_topics(self, member: ConsumerGroupMember, topics: Mapping[str, tuple[uuid.UUID, int]]) -> set[str]:
        """Existing topics the member subscribes to: its names and its regex's
        full matches (internal topics excluded, as Kafka)."""
        names = {n for n in member.subscribed_topic_names if n in topics}
        if member.subscribed_topic_regex:
            pattern = self._regex(member.subscribed_topic_regex)
            names.update(n for n in topics if not is_internal(n) and pattern.fullmatch(n))
        return names

    def subscribed_topic_names(self, group: ConsumerGroup) -> set[str]:
        topics = self.topics()
        out: set[str] = set()
        for member in group.members.values():
            out |= self.member_topics(member, topics)
            out.update(member.subscribed_topic_names)
        return out

    @staticmethod
    def metadata_hash(subscribed: Iterable[str], topics: Mapping[str, tuple[uuid.UUID, int]]) -> int:
        """A 64-bit hash of the subscribed topics' names, ids and partition
        counts (Kafka 4.1+, KIP-1101, hashes more: racks too, with murmur3)."""
        text = "|".join(f"{n}:{topics[n][0]}:{topics[n][1]}" for n in sorted(subscribed) if n in topics)
        if not text:
            return 0
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)

    # -- ConsumerGroupHeartbeat -----------------------------------------------------

    async def heartbeat(self, request: HeartbeatRequest) -> HeartbeatResult:
        try:
            self._validate(request)
            if request.version == 0 and not request.member_id and request.member_epoch == 0:
                request.member_id = _new_member_id()
            error = self.parent.coordinator_error(request.group_id)
            if error != NONE:
                return HeartbeatResult(error)
            if request.member_epoch in (LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH):
                records, result = self._leave(request)
            else:
                records, result = self._join_or_heartbeat(request)
        except HeartbeatError as e:
            return HeartbeatResult(e.error, e.message)
        if records:
            error = await self.append(request.group_id, records)
            if error != NONE:
                return HeartbeatResult(error)
        return result

    def _validate(self, r: HeartbeatRequest) -> None:
        """Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid, same order and messages."""
        def invalid(message: str) -> HeartbeatError:
            return HeartbeatError(ErrorCode.INVALID_REQUEST, message)

        if not r.group_id:
            raise invalid("GroupId can't be empty.")
        if r.instance_id == "":
            raise invalid("InstanceId can't be empty.")
        if r.rack_id == "":
            raise invalid("RackId can't be empty.")
        if (r.version >= 1 or r.member_epoch != 0) and not r.member_id:
            raise invalid("MemberId can't be empty.")
        if r.member_epoch == 0:
            if r.rebalance_timeout_ms == -1:
                raise invalid("RebalanceTimeoutMs must be provided in first request.")
            if r.topic_partitions is None or r.topic_partitions:
                raise invalid("TopicPartitions must be empty when (re-)joining.")
            if r.subscribed_topic_names is None and r.subscribed_topic_regex is None:
                raise invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
        elif r.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            if r.instance_id is None:
                raise invalid("InstanceId can't be null.")
        elif r.member_epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise invalid("MemberEpoch is invalid.")
        if r.server_assignor is not None and r.server_assignor not in self.config.assignors:
            raise HeartbeatError(ErrorCode.UNSUPPORTED_ASSIGNOR,
                                 f"ServerAssignor {r.server_assignor} is not supported. Supported assignors: {', '.join(self.config.assignors)}.")
        if r.subscribed_topic_regex:
            self._regex(r.subscribed_topic_regex)

    def _group_for_join(self, request: HeartbeatRequest, records: list[crec.Record]) -> ConsumerGroup:
        group_id = request.group_id
        group = self.groups.get(group_id)
        if group is not None:
            return group
        classic = self.parent.groups.get(group_id)
        if request.member_epoch != 0:
            raise HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND,
                                 f"Group {group_id} is not a consumer group." if classic is not None else f"Consumer group {group_id} not found.")
        group = ConsumerGroup(group_id)
        if classic is not None and not (classic.is_empty and not classic.pending_members):
            # A classic group with members converts (KIP-848 online upgrade, migration.py).
            converted: list[crec.Record] = [(rec.group_metadata_key(group_id), None)]
            reason = migration.upgrade_refusal(self, classic)
            if reason is None:
                try:
                    group = migration.consumer_group_from_classic(self, classic, converted)
                except ProtocolError as e:
                    reason = f"a member's consumer protocol data does not decode ({e})"
            if reason is not None:
                raise HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, f"Cannot upgrade classic group {group_id} to consumer group because {reason}.")
            records.extend(converted)
            self.parent.drop_classic_group(group_id)
            group.offsets = classic.offsets
            for member_id in group.members:
                self.schedule_session(group_id, member_id)
            log.info("group %s: the classic group with %d member(s) becomes a consumer group at epoch %d", group_id, len(group.members), group.group_epoch)
        elif classic is not None:
            # An empty classic group becomes a consumer group; its offsets stay.
            records.append((rec.group_metadata_key(group_id), None))
            self.parent.drop_classic_group(group_id)
            group.offsets = classic.offsets
            log.info("group %s: the empty classic group becomes a consumer group", group_id)
        self.groups[group_id] = group
        return group

    def _join_or_heartbeat(self, request: HeartbeatRequest) -> tuple[list[crec.Record], HeartbeatResult]:
        records: list[crec.Record] = []
        created = request.group_id not in self.groups
        group = self._group_for_join(request, records)
        try:
            return self._member_heartbeat(group, request, records)
        except HeartbeatError:
            if created and group.is_empty and not records:
                self.groups.pop(group.group_id, None)
            elif created and records:
                # The group was converted before the member was refused: the conversion stands.
                asyncio.ensure_future(self.append_logged(group.group_id, records))
            raise

    def _find_member(self, group: ConsumerGroup, r: HeartbeatRequest) -> tuple[ConsumerGroupMember, ConsumerGroupMember | None]:
        """The member this heartbeat is from, and the static member it replaces (if any)."""
        group_id = group.group_id
        if r.member_epoch == 0:
            if r.instance_id is None:
                member = group.members.get(r.member_id)
                if member is None:
                    self._check_size(group)
                    member = ConsumerGroupMember(r.member_id)
                return member, None
            existing = group.static_member(r.instance_id)
            if existing is None:
                self._check_size(group)
                return ConsumerGroupMember(r.member_id, instance_id=r.instance_id), None
            if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH:
                raise HeartbeatError(
                    ErrorCode.UNRELEASED_INSTANCE_ID,
                    f"Static member {r.member_id} with instance id {r.instance_id} cannot join the group because the instance id is owned by {existing.member_id} member.",
                )
            # The static member comes back under a new member id: it takes over
            # the old one's epoch and partitions, without a rebalance.
            return existing.with_changes(member_id=r.member_id), existing
        member = self._known_member(group, group_id, r)
        self._check_epoch(member, r.member_epoch, r.topic_partitions)
        return member, None

    @staticmethod
    def _known_member(group: ConsumerGroup, group_id: str, r: HeartbeatRequest) -> ConsumerGroupMember:
        """The member a heartbeat names, by member id or (static members) instance id."""
        if r.instance_id is None:
            member = group.members.get(r.member_id)
            if member is None:
                raise HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, f"Member {r.member_id} is not a member of group {group_id}.")
            return member
        member = group.static_member(r.instance_id)
        if member is None:
            raise HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, f"Instance id {r.instance_id} is unknown.")
        if member.member_id != r.member_id:
            raise HeartbeatError(ErrorCode.FENCED_INSTANCE_ID,
                                 f"Static member {r.member_id} with instance id {r.instance_id} was fenced by member {member.member_id}.")
        return member

    def _check_size(self, group: ConsumerGroup) -> None:
        if len(group.members) >= self.config.max_size:
            raise HeartbeatError(ErrorCode.GROUP_MAX_SIZE_REACHED, f"The consumer group has reached its maximum capacity of {self.config.max_size} members.")

    @staticmethod
    def _check_epoch(member: ConsumerGroupMember, received: int, owned: list[tuple[uuid.UUID, list[int]]] | None) -> None:
        """Kafka's throwIfMemberEpochIsInvalid."""
        if received > member.member_epoch:
            raise HeartbeatError(
                ErrorCode.FENCED_MEMBER_EPOCH,
                f"The consumer group member has a greater member epoch ({received}) than the one known by the group coordinator "
                f"({member.member_epoch}). The member must abandon all its partitions and rejoin.",
            )
        if received < member.member_epoch:
            # The member may have missed the answer that bumped its epoch: it is
            # fine if it is at the previous epoch and owns only what it was given.
            if received == member.previous_member_epoch and owned is not None and all(
                p in member.assigned.get(topic_id, {}) for topic_id, partitions in owned for p in partitions
            ):
                return
            raise HeartbeatError(
                ErrorCode.FENCED_MEMBER_EPOCH,
                f"The consumer group member has a smaller member epoch ({received}) than the one known by the group coordinator "
                f"({member.member_epoch}). The member must abandon all its partitions and rejoin.",
            )

    def _member_heartbeat(self, group: ConsumerGroup, r: HeartbeatRequest, records: list[crec.Record]) -> tuple[list[crec.Record], HeartbeatResult]:
        group_id = group.group_id
        member, replaced = self._find_member(group, r)
        is_new = member.member_id not in group.members and replaced is None
        regex = member.subscribed_topic_regex if r.subscribed_topic_regex is None else (r.subscribed_topic_regex or None)
        updated = member.with_changes(
            instance_id=r.instance_id if r.instance_id is not None else member.instance_id,
            rack_id=r.rack_id if r.rack_id is not None else member.rack_id,
            rebalance_timeout_ms=r.rebalance_timeout_ms if r.rebalance_timeout_ms != -1 else member.rebalance_timeout_ms,
            server_assignor=r.server_assignor if r.server_assignor is not None else member.server_assignor,
            subscribed_topic_names=tuple(r.subscribed_topic_names) if r.subscribed_topic_names is not None else member.subscribed_topic_names,
            subscribed_topic_regex=regex,
            client_id=r.client_id,
            client_host=r.client_host,
            classic=None,  # a member heartbeating this way uses the consumer protocol (again)
        )
        subscription_changed = is_new or updated.subscription() != member.subscription()
        if replaced is not None:
            records.extend(crec.member_tombstones(group_id, replaced.member_id))
            target = group.target.get(replaced.member_id, {})
            group.remove_member(replaced.member_id)
            self.cancel_timers(group_id, replaced.member_id)
            group.target[updated.member_id] = target
            records.append(crec.member_metadata_record(group_id, updated))
            records.append(crec.target_member_record(group_id, updated.member_id, target))
            log.info("group %s: static member %s takes over instance id %s from %s", group_id, updated.member_id, r.instance_id, replaced.member_id)
        elif subscription_changed or updated.client_id != member.client_id or updated.client_host != member.client_host \
                or updated.rebalance_timeout_ms != member.rebalance_timeout_ms or updated.instance_id != member.instance_id \
                or member.classic is not None:
            records.append(crec.member_metadata_record(group_id, updated))
        group.update_member(updated)
        self.bump_epoch_and_assign(group, updated.member_id, subscription_changed, records)

        reconciled = reconcile(updated, group.assignment_epoch, group.target.get(updated.member_id, {}), r.topic_partitions, group.owner)
        if replaced is not None or is_new or reconciled != updated:
            records.append(crec.current_assignment_record(group_id, reconciled))
        group.update_member(reconciled)
        self.schedule_session(group_id, reconciled.member_id)
        if reconciled.state == MemberState.UNREVOKED_PARTITIONS:
            self._schedule_rebalance_timeout(group_id, reconciled)
        else:
            self.parent.timers.cancel(("cg-rebalance", group_id, reconciled.member_id))

        full = r.rebalance_timeout_ms != -1 and (r.subscribed_topic_names is not None or r.subscribed_topic_regex is not None) and r.topic_partitions is not None
        send_assignment = r.member_epoch == 0 or full or reconciled.assigned != member.assigned or replaced is not None
        return records, HeartbeatResult(
            NONE,
            member_id=reconciled.member_id,
            member_epoch=reconciled.member_epoch,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            assignment={t: sorted(p) for t, p in sorted(reconciled.assigned.items(), key=lambda i: str(i[0])) if p} if send_assignment else None,
        )

    def bump_epoch_and_assign(self, group: ConsumerGroup, member_id: str, subscription_changed: bool, records: list[crec.Record]) -> None:
        """Group epoch: one bump for the membership or subscription change, one
        more when the subscribed topics' metadata changed (Kafka 4.4 answers a
        group's first member with epoch 2 this way); then a new target
        assignment if the group epoch is ahead of it."""
        group_id = group.group_id
        topics = self.topics()
        subscribed: set[str] = set()
        for m in group.members.values():
            subscribed |= self.member_topics(m, topics)
        metadata_hash = self.metadata_hash(subscribed, topics)
        epoch = group.group_epoch + (1 if subscription_changed else 0) + (1 if metadata_hash != group.metadata_hash else 0)
        if epoch != group.group_epoch:
            group.group_epoch, group.metadata_hash = epoch, metadata_hash
            records.append(crec.group_epoch_record(group_id, epoch, metadata_hash))
            log.info("group %s: epoch %d (%s)", group_id, epoch, f"member {member_id} joined or changed its subscription" if subscription_changed else "topic metadata changed")
        if group.group_epoch > group.assignment_epoch:
            self._assign(group, topics, records)

    def _assign(self, group: ConsumerGroup, topics: Mapping[str, tuple[uuid.UUID, int]], records: list[crec.Record]) -> None:
        name = group.preferred_assignor(self.config.assignors[0])
        specs: dict[str, MemberSpec] = {}
        partitions: dict[uuid.UUID, int] = {}
        for member_id, member in group.members.items():
            ids = set()
            for topic in self.member_topics(member, topics):
                topic_id, count = topics[topic]
                ids.add(topic_id)
                partitions[topic_id] = count
            specs[member_id] = MemberSpec(frozenset(ids), group.target.get(member_id, {}))
        target = ASSIGNORS[name](specs, partitions)
        group_id = group.group_id
        for member_id, assignment in target.items():
            if assignment != {t: p for t, p in group.target.get(member_id, {}).items() if p}:
                records.append(crec.target_member_record(group_id, member_id, assignment))
            group.target[member_id] = assignment
        group.assignment_epoch = group.group_epoch
        group.assignment_timestamp = self.parent.clock()
        records.append(crec.target_metadata_record(group_id, group.assignment_epoch, group.assignment_timestamp))
        log.info("group %s: target assignment of epoch %d by %s", group_id, group.assignment_epoch, name)

    # -- leaving and fencing --------------------------------------------------------

    def _leave(self, r: HeartbeatRequest) -> tuple[list[crec.Record], HeartbeatResult]:
        group_id = r.group_id
        group = self.groups.get(group_id)
        if group is None:
            message = f"Group {group_id} is not a consumer group." if group_id in self.parent.groups else f"Group {group_id} not found."
            raise HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, message)
        member = self._known_member(group, group_id, r)
        if r.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            # A static member leaving "temporarily": it keeps its partitions (and
            # its session timer) so that a restart can take them over.
            left = member.with_changes(member_epoch=LEAVE_GROUP_STATIC_MEMBER_EPOCH)
            group.update_member(left)
            self.parent.timers.cancel(("cg-rebalance", group_id, member.member_id))
            log.info("group %s: static member %s (instance id %s) left temporarily", group_id, member.member_id, member.instance_id)
            return [crec.current_assignment_record(group_id, left)], HeartbeatResult(NONE, member_id=member.member_id, member_epoch=LEAVE_GROUP_STATIC_MEMBER_EPOCH)
        records = self.remove_members(group, [member.member_id], "left")
        return records, HeartbeatResult(NONE, member_id=member.member_id, member_epoch=LEAVE_GROUP_MEMBER_EPOCH)

    def remove_members(self, group: ConsumerGroup, member_ids: list[str], why: str) -> list[crec.Record]:
        """Remove members and bump the group epoch; or, when only classic members
        remain and the policy allows it, turn the group into a classic group
        (KIP-848 online downgrade, migration.py). Returns the records to append."""
        group_id = group.group_id
        if migration.downgrade_allowed(self, group, set(member_ids)):
            return self.downgrade(group, set(member_ids), why)
        records: list[crec.Record] = []
        for member_id in member_ids:
            group.remove_member(member_id)
            self.cancel_timers(group_id, member_id)
            records.extend(crec.member_tombstones(group_id, member_id))
        group.group_epoch += 1
        log.info("group %s: member(s) %s %s; epoch %d", group_id, ", ".join(member_ids), why, group.group_epoch)
        return records + [crec.group_epoch_record(group_id, group.group_epoch, group.metadata_hash)]

    def downgrade(self, group: ConsumerGroup, leaving: set[str], why: str, rebalance: bool = True) -> list[crec.Record]:
        """The group becomes a classic group of its members but `leaving` (a rebalance
        follows unless a static member was just replaced); returns the records."""
        group_id = group.group_id
        classic = migration.classic_group_from_consumer(self, group, leaving)
        records: list[crec.Record] = []
        for member_id in list(group.members):
            records.extend(crec.member_tombstones(group_id, member_id))
            self.cancel_timers(group_id, member_id)
        records.extend(crec.group_tombstones(group_id))
        records.append(self.parent.group_metadata_record(classic))
        if self.groups.get(group_id) is group:
            del self.groups[group_id]
        group.deleted = True
        log.info("group %s: member(s) %s %s; the %d classic member(s) left make it a classic group at generation %d",
                 group_id, ", ".join(sorted(leaving)), why, len(classic.members), classic.generation_id)
        self.parent.adopt_classic_group(classic, f"downgrade of consumer group {group_id} to a classic group" if rebalance else None)
        return records

    def fence(self, group_id: str, member_id: str, why: str, epoch: int | None = None) -> None:
        group = self.groups.get(group_id)
        member = group.members.get(member_id) if group is not None else None
        if group is None or member is None:
            return
        if epoch is not None and (member.member_epoch != epoch or member.state != MemberState.UNREVOKED_PARTITIONS):
            return
        records = self.remove_members(group, [member_id], why)
        asyncio.ensure_future(self.append_logged(group_id, records))

    async def append_logged(self, group_id: str, records: list[crec.Record]) -> None:
        error = await self.append(group_id, records)
        if error != NONE:
            log.warning("group %s: writing records failed: %s", group_id, ErrorCode(error).name)

    def schedule_session(self, group_id: str, member_id: str) -> None:
        """The member's session restarts: group.consumer.session.timeout.ms, or a classic member's own timeout."""
        group = self.groups.get(group_id)
        member = group.members.get(member_id) if group is not None else None
        timeout = member.classic.session_timeout_ms if member is not None and member.classic is not None else self.config.session_timeout_ms
        self.parent.timers.schedule(("cg-session", group_id, member_id), timeout,
                                    lambda: self.fence(group_id, member_id, "was fenced: its session expired"))

    def _schedule_rebalance_timeout(self, group_id: str, member: ConsumerGroupMember) -> None:
        key = ("cg-rebalance", group_id, member.member_id)
        if self.parent.timers.is_scheduled(key):
            return
        epoch = member.member_epoch
        self.parent.timers.schedule(key, max(member.rebalance_timeout_ms, 0),
                                    lambda: self.fence(group_id, member.member_id, "was fenced: it did not revoke its partitions within its rebalance timeout", epoch))

    def cancel_timers(self, group_id: str, member_id: str) -> None:
        for kind in ("cg-session", "cg-rebalance", "cg-sync", "cg-join"):
            self.parent.timers.cancel((kind, group_id, member_id))

    # -- offsets -----------------------------------------------------------------------

    def validate_commit(self, group: ConsumerGroup, member_id: str, member_epoch: int, version: int,
                        partitions: list[tuple[uuid.UUID, int]]) -> tuple[int, list[int]]:
        """Kafka 4.4's ConsumerGroup.validateOffsetCommit: (group error, error per partition)."""
        ok = [NONE] * len(partitions)
        if member_epoch < 0 and group.is_empty:
            return NONE, ok  # the admin client, or a consumer without group management
        member = group.members.get(member_id)
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID, []
        if member.classic is not None:
            # A classic member commits with its generation, which is its member epoch.
            return (NONE, ok) if member_epoch == member.member_epoch else (ErrorCode.ILLEGAL_GENERATION, [])
        if version < 9:
            return ErrorCode.UNSUPPORTED_VERSION, []
        if member_epoch == member.member_epoch:
            return NONE, ok
        if member_epoch > member.member_epoch:
            return ErrorCode.STALE_MEMBER_EPOCH, []
        # KIP-1251: an older epoch may still commit the partitions it was given by then.
        errors = []
        for topic_id, partition in partitions:
            assigned_at = member.assigned.get(topic_id, {}).get(partition)
            if assigned_at is None:
                assigned_at = member.pending_revocation.get(topic_id, {}).get(partition)
            errors.append(NONE if assigned_at is not None and assigned_at <= member_epoch else ErrorCode.STALE_MEMBER_EPOCH)
        return NONE, errors

    def validate_transactional_commit(self, group: ConsumerGroup, member_id: str, member_epoch: int,
                                      partitions: list[tuple[uuid.UUID, int]]) -> tuple[int, list[int]]:
        """TxnOffsetCommit on a consumer group: OffsetCommit's checks, without the
        version check; a stale epoch fails the whole request with ILLEGAL_GENERATION
        (Kafka's OffsetMetadataManager.validateTransactionalOffsetCommit)."""
        error, errors = self.validate_commit(group, member_id, member_epoch, 9, partitions)
        if error == ErrorCode.STALE_MEMBER_EPOCH or ErrorCode.STALE_MEMBER_EPOCH in errors:
            return ErrorCode.ILLEGAL_GENERATION, []
        return error, errors

    async def commit_offsets(self, group: ConsumerGroup, member_id: str, member_epoch: int, version: int, commits: list[Any]) -> tuple[int, list[int]]:
        """OffsetCommit on a consumer group: (error for every partition, or NONE; per-commit errors)."""
        error, errors = self.validate_commit(group, member_id, member_epoch, version, [(c.topic_id, c.partition) for c in commits])
        if error != NONE:
            return error, []
        values = self.parent.offset_values(commits, errors)
        if values:
            append_error, values = await self.parent.append_offsets(group.group_id, values)
            if append_error != NONE:
                return NONE, [append_error if e == NONE else e for e in errors]
            for key, value in values:
                group.offsets[key] = value
        return NONE, errors

    async def expire_offsets(self, now: int, retention_ms: int) -> int:
        """Kafka's rule for consumer groups: an offset expires retention_ms after
        its commit once the group no longer subscribes to its topic (or has no
        members); an empty group left without offsets is deleted."""
        removed = 0
        for group in list(self.groups.values()):
            if self.parent.coordinator_error(group.group_id) != NONE:
                continue
            subscribed = self.subscribed_topic_names(group) if not group.is_empty else set()
            expired = [
                (t, p) for (t, p), v in group.offsets.items()
                if ((0 <= v.expire_timestamp <= now) or (v.expire_timestamp < 0 and t not in subscribed and now - v.commit_timestamp >= retention_ms))
                and not self.parent.transactional.is_pending(group.group_id, (t, p))
            ]
            if expired:
                error = await self.append(group.group_id, [(rec.offset_commit_key(group.group_id, t, p), None) for t, p in expired])
                if error != NONE:
                    continue
                for key in expired:
                    group.offsets.pop(key, None)
                removed += len(expired)
            if group.is_empty and not group.offsets and not self.parent.transactional.has_group(group.group_id) and self.groups.get(group.group_id) is group:
                await self.delete_group(group)
        return removed

    @staticmethod
    def validate_fetch(group: ConsumerGroup, member_id: str | None, member_epoch: int) -> int:
        if member_id is None or member_epoch < 0:
            return NONE
        member = group.members.get(member_id)
        if member is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        return NONE if member_epoch == member.member_epoch else ErrorCode.STALE_MEMBER_EPOCH

    # -- classic APIs on a consumer group ---------------------------------------------

    async def classic_join(self, group: ConsumerGroup) -> int:
        """A classic JoinGroup naming an empty consumer group: it becomes a
        classic group (its offsets stay), as Kafka does. (Into a group with
        members the member joins as a classic member: `classic_member_join`.)"""
        error = await self.append(group.group_id, crec.group_tombstones(group.group_id))
        if error != NONE:
            return error
        if self.groups.get(group.group_id) is group:
            del self.groups[group.group_id]
            self.parent.adopt_offsets(group.group_id, group.offsets)
            log.info("group %s: the empty consumer group becomes a classic group", group.group_id)
        return NONE

    # Classic members inside a consumer group (KIP-848 online migration, migration.py).

    async def classic_member_join(self, group: ConsumerGroup, request: Any) -> Any:
        return await migration.join(self, group, request)

    def classic_member_sync(self, group: ConsumerGroup, member_id: str, instance_id: str | None, generation_id: int,
                            protocol_type: str | None, protocol_name: str | None) -> Any:
        return migration.sync(self, group, member_id, instance_id, generation_id, protocol_type, protocol_name)

    def classic_member_heartbeat(self, group: ConsumerGroup, member_id: str, instance_id: str | None, generation_id: int) -> int:
        return migration.heartbeat(self, group, member_id, instance_id, generation_id)

    def classic_members_leave(self, group: ConsumerGroup, members: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
        return migration.leave(self, group, members)

    async def delete_group(self, group: ConsumerGroup) -> int:
        if not group.is_empty:
            return ErrorCode.NON_EMPTY_GROUP
        partitions = self.parent.offset_tombstones(group.group_id, group.offsets)
        records: list[crec.Record] = [(rec.offset_commit_key(group.group_id, t, p), None) for t, p in partitions]
        records += crec.group_tombstones(group.group_id)
        error = await self.append(group.group_id, records)
        if error != NONE:
            return error
        self.parent.offsets_deleted(group, partitions)
        if self.groups.get(group.group_id) is group:
            del self.groups[group.group_id]
        group.deleted = True
        return NONE

    # -- loading -----------------------------------------------------------------------

    def replay(self, record: crec.ConsumerRecord) -> None:
        group_id = record.group_id
        value = record.value
        kind = record.record_type
        if kind in (crec.CONSUMER_GROUP_PARTITION_METADATA, crec.CONSUMER_GROUP_REGULAR_EXPRESSION):
            return  # kwire keeps neither: topic metadata is hashed, regexes resolved live
        group = self.groups.get(group_id)
        if value is None:
            if group is None:
                return
            if kind == crec.CONSUMER_GROUP_METADATA:
                del self.groups[group_id]
                if group.offsets:
                    self.parent.adopt_offsets(group_id, group.offsets)
            elif kind == crec.CONSUMER_GROUP_MEMBER_METADATA:
                group.remove_member(record.key.member_id)
            elif kind == crec.CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER:
                group.target.pop(record.key.member_id, None)
            return
        if group is None:
            group = self.groups[group_id] = ConsumerGroup(group_id)
            classic = self.parent.drop_classic_group(group_id)
            if classic is not None:
                group.offsets = classic.offsets
        if kind == crec.CONSUMER_GROUP_METADATA:
            group.group_epoch, group.metadata_hash = value.epoch, value.metadata_hash
        elif kind == crec.CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA:
            group.assignment_epoch, group.assignment_timestamp = value.assignment_epoch, value.assignment_timestamp
        elif kind == crec.CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER:
            group.target[record.key.member_id] = {tp.topic_id: frozenset(tp.partitions) for tp in value.topic_partitions}
        elif kind == crec.CONSUMER_GROUP_MEMBER_METADATA:
            member = group.members.get(record.key.member_id) or ConsumerGroupMember(record.key.member_id)
            group.update_member(member.with_changes(
                instance_id=value.instance_id, rack_id=value.rack_id, client_id=value.client_id, client_host=value.client_host,
                subscribed_topic_names=tuple(value.subscribed_topic_names), subscribed_topic_regex=value.subscribed_topic_regex or None,
                rebalance_timeout_ms=value.rebalance_timeout_ms, server_assignor=value.server_assignor,
                classic=crec.classic_member_metadata(value),
            ))
        elif kind == crec.CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT:
            member = group.members.get(record.key.member_id) or ConsumerGroupMember(record.key.member_id)
            group.update_member(member.with_changes(
                member_epoch=value.member_epoch, previous_member_epoch=value.previous_member_epoch, state=crec.member_state(value.state),
                assigned=crec.epoch_assignment(value.assigned_partitions, value.member_epoch),
                pending_revocation=crec.epoch_assignment(value.partitions_pending_revocation, value.member_epoch),
            ))

    def loaded(self, partition: int) -> None:
        """After a partition's replay: every member's session starts now."""
        for group in self.groups.values():
            if self.parent.partition_for(group.group_id) == partition:
                for member_id in group.members:
                    self.schedule_session(group.group_id, member_id)


def _new_member_id() -> str:
    """ConsumerGroupHeartbeat v0: the coordinator names new members (v1+: the client does, KIP-1082)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
