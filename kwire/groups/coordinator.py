"""The group coordinator: every classic group, its members and its offsets.

Theory of operation. One `GroupCoordinator` owns all groups whose
__consumer_offsets partition this broker leads; everything runs on the
event loop, so there are no locks. Handlers call its methods; JoinGroup and
SyncGroup answers are futures that rebalances complete. Time comes from an
injected `clock()` and `Timers` (see timers.py), so tests drive session
expiry and rebalance timeouts without sleeping.

A rebalance (Kafka's classic protocol, KIP-62/KIP-394/KIP-345):

1. A join by a new member, a member whose protocols changed, the leader, a
   leave or an expired session moves the group to PreparingRebalance. The
   join phase ends when every member has rejoined (and no KIP-394 pending
   member is outstanding), or at the largest rebalance timeout; members
   that did not rejoin are removed. A group's first rebalance (from Empty)
   waits group.initial.rebalance.delay.ms instead, extended while new
   members keep arriving, up to the rebalance timeout; with a delay of 0 it
   completes on the next turn of the loop.
2. The generation is bumped, the protocol chosen by vote, and every waiting
   JoinGroup is answered (the leader gets the members' metadata). The group
   is CompletingRebalance until the leader's SyncGroup arrives; its
   assignments are written to __consumer_offsets, then every waiting
   SyncGroup is answered and the group is Stable. Members that do not send
   SyncGroup within the rebalance timeout are removed (Kafka's pending-sync
   timeout).
3. Heartbeats refresh a member's session; a member whose session expires
   is removed and the group rebalances. LeaveGroup removes at once.

Durability: offsets and the group's metadata (after each completed sync,
and when a group becomes empty) are records in __consumer_offsets
(records.py); an answer is sent after its records are appended. At start
the records are replayed (`load_partition`) before the partition's groups
answer: until then COORDINATOR_LOAD_IN_PROGRESS.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kwire_protocol.error_codes import ErrorCode

from kwire.groups import records as rec
from kwire.groups.consumer_group import ConsumerGroup
from kwire.groups.group import ClassicGroup, Member
from kwire.groups.records import OffsetAndMetadata
from kwire.groups.state import COMPLETING_REBALANCE, DEAD, EMPTY, PREPARING_REBALANCE, STABLE
from kwire.groups.transactional_offsets import TransactionalOffsets

log = logging.getLogger(__name__)

NONE = ErrorCode.NONE


class OffsetsLog(Protocol):
    """Where the coordinator's records go: the partitions of __consumer_offsets."""

    async def append(self, partition: int, records: list[tuple[bytes, bytes | None]],
                     producer: tuple[int, int] | None = None) -> tuple[int, int]:
        """Append as one batch (transactional for `producer`: its id and epoch);
        returns (error code, offset of the first record). NONE once the records
        are durable as acks=-1 requires."""
        ...


@dataclass(frozen=True)
class GroupConfig:
    num_partitions: int = 50  # offsets.topic.num.partitions
    initial_rebalance_delay_ms: int = 3000  # group.initial.rebalance.delay.ms
    min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    max_size: int = 2**31 - 1  # group.max.size
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000  # offsets.retention.minutes
    offset_metadata_max_bytes: int = 4096  # offset.metadata.max.bytes

    @classmethod
    def from_broker_config(cls, config: Any) -> GroupConfig:
        return cls(
            num_partitions=config["offsets.topic.num.partitions"],
            initial_rebalance_delay_ms=config["group.initial.rebalance.delay.ms"],
            min_session_timeout_ms=config["group.min.session.timeout.ms"],
            max_session_timeout_ms=config["group.max.session.timeout.ms"],
            max_size=config["group.max.size"],
            offsets_retention_ms=config["offsets.retention.minutes"] * 60_000,
            offset_metadata_max_bytes=config["offset.metadata.max.bytes"],
        )


@dataclass
class JoinResult:
    error: int
    member_id: str = ""
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)  # for the leader
    skip_assignment: bool = False


@dataclass
class SyncResult:
    error: int
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


@dataclass
class JoinRequest:
    group_id: str
    member_id: str
    group_instance_id: str | None
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    client_id: str
    client_host: str
    version: int


@dataclass
class OffsetCommit:
    topic: str
    partition: int
    offset: int
    leader_epoch: int
    metadata: str | None
    topic_id: uuid.UUID = rec.ZERO_UUID


# Kafka's mapping of append errors to what group clients understand
# (CoordinatorRuntime / GroupMetadataManager.storeGroup).
def _append_error(error: int) -> int:
    if error in (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.KAFKA_STORAGE_ERROR):
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if error == ErrorCode.NOT_LEADER_OR_FOLLOWER:
        return ErrorCode.NOT_COORDINATOR
    if error in (ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE, ErrorCode.INVALID_FETCH_SIZE):
        return ErrorCode.UNKNOWN_SERVER_ERROR
    return error


class GroupCoordinator:
    def __init__(self, config: GroupConfig, offsets_log: OffsetsLog, clock: Callable[[], int], timers: Any) -> None:
        self.config = config
        self.log = offsets_log
        self.clock = clock
        self.timers = timers
        self.groups: dict[str, ClassicGroup] = {}
        # __consumer_offsets partitions this coordinator owns: True once loaded.
        self.partitions: dict[int, bool] = {}
        # The KIP-848 ConsumerGroupCoordinator, once attached (consumer_coordinator.py):
        # group ids are one namespace, so classic APIs naming its groups go to it.
        self.consumer: Any = None
        # TxnOffsetCommit offsets awaiting their transaction's marker (transactional_offsets.py).
        self.transactional = TransactionalOffsets()
        # Markers reported while their partition loads: (producer id, commit), applied after the replay.
        self._markers_while_loading: dict[int, list[tuple[int, bool]]] = {}

    # -- ownership and loading --------------------------------------------------

    def partition_for(self, group_id: str) -> int:
        return rec.partition_for(group_id, self.config.num_partitions)

    def consumer_group(self, group_id: str) -> ConsumerGroup | None:
        return self.consumer.groups.get(group_id) if self.consumer is not None else None

    async def append_records(self, group_id: str, records: list[tuple[bytes, bytes | None]]) -> int:
        return (await self._append(group_id, records))[0]

    async def _append(self, group_id: str, records: list[tuple[bytes, bytes | None]],
                      producer: tuple[int, int] | None = None) -> tuple[int, int]:
        """(error, offset of the first record)."""
        error, base_offset = await self.log.append(self.partition_for(group_id), records, producer)
        return _append_error(error), base_offset

    def drop_classic_group(self, group_id: str) -> ClassicGroup | None:
        """Forget a classic group (it becomes a consumer group); returns it. Its
        timers stop; waiting JoinGroup/SyncGroup calls get REBALANCE_IN_PROGRESS
        (Kafka's convertToConsumerGroup), so their members rejoin the consumer group."""
        group = self.groups.pop(group_id, None)
        if group is not None:
            for member_id in group.pending_members:
                self.timers.cancel(("pending", group_id, member_id))
            self.timers.cancel(("join", group_id))
            self.timers.cancel(("sync", group_id))
            for member in group.members.values():
                self.timers.cancel(("heartbeat", group_id, member.member_id))
                if member.awaiting_join:
                    assert member.join_future is not None
                    member.join_future.set_result(JoinResult(ErrorCode.REBALANCE_IN_PROGRESS, member.member_id))
                if member.awaiting_sync:
                    assert member.sync_future is not None
                    member.sync_future.set_result(SyncResult(ErrorCode.REBALANCE_IN_PROGRESS))
        return group

    def adopt_classic_group(self, group: ClassicGroup, reason: str | None) -> None:
        """A consumer group became this classic group (KIP-848 online downgrade):
        its members heartbeat the classic way from now on; it rebalances for `reason`, if any."""
        self.groups[group.group_id] = group
        for member in group.members.values():
            self._schedule_heartbeat(group, member)
        if reason is not None:
            self._prepare_rebalance(group, reason)

    def group_metadata_record(self, group: ClassicGroup) -> tuple[bytes, bytes]:
        return rec.group_metadata_key(group.group_id), rec.group_metadata_value(self._group_value(group))

    def adopt_offsets(self, group_id: str, offsets: dict[tuple[str, int], OffsetAndMetadata]) -> None:
        """Offsets of a consumer group that stopped being one live on in an empty classic group."""
        if offsets and group_id not in self.groups:
            self.groups[group_id] = ClassicGroup(group_id, state_timestamp=self.clock(), offsets=offsets)

    def coordinator_error(self, group_id: str) -> int:
        loaded = self.partitions.get(self.partition_for(group_id))
        if loaded is None:
            return ErrorCode.NOT_COORDINATOR
        return NONE if loaded else ErrorCode.COORDINATOR_LOAD_IN_PROGRESS

    def group_error(self, group_id: str) -> int:
        """INVALID_GROUP_ID for an empty id, else the coordinator's error for it."""
        return self.coordinator_error(group_id) if group_id else ErrorCode.INVALID_GROUP_ID

    @property
    def loading(self) -> bool:
        return not all(self.partitions.values())

    def begin_loading(self, partition: int) -> None:
        self.partitions[partition] = False

    def load_partition(self, partition: int, entries: Iterable[rec.LogRecord | rec.TransactionMarker]) -> None:
        """Replay a partition's records and transaction markers (in log order) and start answering for its groups."""
        for entry in entries:
            if isinstance(entry, rec.TransactionMarker):
                self._end_transaction(partition, entry.producer_id, entry.commit)
                continue
            try:
                record = rec.decode(entry.key, entry.value)
            except Exception as e:  # a record we cannot read must not stop the others
                log.error("__consumer_offsets-%d: skipping a record that does not decode: %s", partition, e)
                continue
            if isinstance(record, rec.OffsetRecord):
                self._replay_offset(record, entry.offset, entry.producer_id)
            elif isinstance(record, rec.GroupRecord):
                consumer_group = self.consumer.groups.pop(record.group_id, None) if self.consumer is not None else None
                if consumer_group is not None and consumer_group.offsets:
                    self.adopt_offsets(record.group_id, consumer_group.offsets)
                if record.value is None:
                    dropped = self.groups.pop(record.group_id, None)
                    if dropped is not None and dropped.offsets:
                        # Offsets outlive the group's record (a group converted to a consumer group).
                        self.adopt_offsets(record.group_id, dropped.offsets)
                else:
                    self._restore_group(record.group_id, record.value)
            elif record is not None and self.consumer is not None:
                self.consumer.replay(record)
        now = self.clock()
        for group in self.groups.values():
            if self.partition_for(group.group_id) != partition:
                continue
            for member in group.members.values():
                self._schedule_heartbeat(group, member)
            if group.state_timestamp < 0:
                group.state_timestamp = now
        # A marker written while the log was being read may be missing from it;
        # ending a transaction twice is harmless (no TxnOffsetCommit is accepted meanwhile).
        for producer_id, commit in self._markers_while_loading.pop(partition, []):
            self._end_transaction(partition, producer_id, commit)
        if self.consumer is not None:
            self.consumer.loaded(partition)
        self.partitions[partition] = True

    def _replay_offset(self, record: rec.OffsetRecord, record_offset: int, producer_id: int) -> None:
        """Kafka's OffsetMetadataManager.replay: a transactional offset waits for its marker."""
        key = (record.topic, record.partition)
        group = self.groups.get(record.group_id) or self.consumer_group(record.group_id)
        if record.value is None:
            if group is not None:
                group.offsets.pop(key, None)
            self.transactional.discard(record.group_id, key)
            return
        if group is None:
            group = self.groups[record.group_id] = ClassicGroup(record.group_id)
        value = dataclasses.replace(record.value, record_offset=record_offset)
        if producer_id >= 0:
            self.transactional.add(producer_id, record.group_id, key, value)
        else:
            group.offsets[key] = value

    def complete_transaction(self, partition: int, producer_id: int, commit: bool) -> None:
        """The transaction marker of `producer_id` is in __consumer_offsets-`partition`:
        its pending offsets there become the committed ones (COMMIT) or go (ABORT)."""
        loaded = self.partitions.get(partition)
        if loaded is False:
            self._markers_while_loading.setdefault(partition, []).append((producer_id, commit))
        elif loaded:
            self._end_transaction(partition, producer_id, commit)

    def _end_transaction(self, partition: int, producer_id: int, commit: bool) -> None:
        """A committed offset written after the transactional one wins, as in Kafka
        (compaction must not be able to change which one counts)."""
        ended = self.transactional.end(producer_id, lambda group_id: self.partition_for(group_id) == partition)
        if not commit:
            return
        for group_id, offsets in ended.items():
            group = self.groups.get(group_id) or self.consumer_group(group_id)
            if group is None:
                group = self.groups[group_id] = ClassicGroup(group_id, state_timestamp=self.clock())
            for key, value in offsets.items():
                existing = group.offsets.get(key)
                if existing is None or value.record_offset > existing.record_offset:
                    group.offsets[key] = value

    def _restore_group(self, group_id: str, value: Any) -> None:
        previous = self.groups.get(group_id)
        group = ClassicGroup(group_id)
        if previous is not None:
            group.offsets = previous.offsets
            for member_id in previous.members:
                self.timers.cancel(("heartbeat", group_id, member_id))
        group.generation_id = value.generation
        group.protocol_type = value.protocol_type or None
        group.protocol_name = value.protocol
        group.state_timestamp = value.current_state_timestamp
        for m in value.members:
            member = Member(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                rebalance_timeout_ms=m.rebalance_timeout if m.rebalance_timeout > 0 else m.session_timeout,
                session_timeout_ms=m.session_timeout,
                protocol_type=value.protocol_type,
                protocols=[(value.protocol or "", bytes(m.subscription))],
                assignment=bytes(m.assignment),
            )
            group.members[member.member_id] = member
            if member.group_instance_id is not None:
                group.static_members[member.group_instance_id] = member.member_id
        group.leader_id = value.leader if value.leader in group.members else next(iter(group.members), None)
        group.state = STABLE if group.members else EMPTY
        self.groups[group_id] = group

    def shutdown(self) -> None:
        self.timers.cancel_all()
        for group in self.groups.values():
            for member in group.members.values():
                for future in (member.join_future, member.sync_future):
                    if future is not None and not future.done():
                        future.set_result(None)

    # -- JoinGroup ----------------------------------------------------------------

    async def join_group(self, request: JoinRequest) -> JoinResult:
        error = self._validate_join(request)
        if error != NONE:
            return JoinResult(error, request.member_id)
        consumer_group = self.consumer_group(request.group_id)
        if consumer_group is not None and not consumer_group.is_empty:
            return await self.consumer.classic_member_join(consumer_group, request)  # type: ignore[no-any-return]
        if consumer_group is not None:
            error = await self.consumer.classic_join(consumer_group)
            if error != NONE:
                return JoinResult(error, "")
        group = self.groups.get(request.group_id)
        if group is None:
            if request.member_id:
                return JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, request.member_id)
            group = self.groups[request.group_id] = ClassicGroup(request.group_id, state_timestamp=self.clock())
        if group.state == DEAD:
            # The group is being deleted or migrated; the client finds the coordinator again.
            return JoinResult(ErrorCode.COORDINATOR_NOT_AVAILABLE, request.member_id)
        if not self._accept_joining_member(group, request.member_id):
            return JoinResult(ErrorCode.GROUP_MAX_SIZE_REACHED, request.member_id)
        if not group.supports_protocols(request.protocol_type, [name for name, _ in request.protocols]):
            return JoinResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, request.member_id)
        if not request.member_id:
            return await self._join_unknown_member(group, request)
        return await self._join_known_member(group, request)

    def _validate_join(self, request: JoinRequest) -> int:
        if not request.group_id:
            return ErrorCode.INVALID_GROUP_ID
        error = self.coordinator_error(request.group_id)
        if error != NONE:
            return error
        if not self.config.min_session_timeout_ms <= request.session_timeout_ms <= self.config.max_session_timeout_ms:
            return ErrorCode.INVALID_SESSION_TIMEOUT
        return NONE

    def _accept_joining_member(self, group: ClassicGroup, member_id: str) -> bool:
        """Kafka's acceptJoiningMember: existing members are kept; new ones up
        to group.max.size (counting those awaiting join while rebalancing, so
        a lowered limit evicts the last to rejoin)."""
        existing = group.members.get(member_id)
        if group.state in (EMPTY, DEAD):
            return True
        if group.state == PREPARING_REBALANCE:
            return (existing is not None and existing.awaiting_join) or group.num_awaiting_join() < self.config.max_size
        return existing is not None or len(group.members) < self.config.max_size

    async def _join_unknown_member(self, group: ClassicGroup, request: JoinRequest) -> JoinResult:
        new_member_id = f"{request.client_id}-{uuid.uuid4()}"
        instance_id = request.group_instance_id
        if instance_id is not None:
            existing = group.static_member_id(instance_id)
            if existing is not None:
                return await self._replace_static_member(group, existing, new_member_id, request)
            return await self._add_member_and_rebalance(group, new_member_id, request)
        if request.version >= 4:
            # KIP-394: hand out the id first; the member joins with it, so a
            # client that times out never leaves an unknown member behind.
            group.pending_members.add(new_member_id)
            self.timers.schedule(
                ("pending", group.group_id, new_member_id),
                request.session_timeout_ms,
                lambda: self._expire_pending_member(group.group_id, new_member_id),
            )
            return JoinResult(ErrorCode.MEMBER_ID_REQUIRED, new_member_id)
        return await self._add_member_and_rebalance(group, new_member_id, request)

    async def _join_known_member(self, group: ClassicGroup, request: JoinRequest) -> JoinResult:
        member_id = request.member_id
        if member_id in group.pending_members:
            self.timers.cancel(("pending", group.group_id, member_id))
            return await self._add_member_and_rebalance(group, member_id, request)
        error = self._validate_member(group, member_id, request.group_instance_id)
        if error != NONE:
            return JoinResult(error, member_id)
        member = group.members[member_id]
        if group.state == PREPARING_REBALANCE:
            return await self._update_member_and_rebalance(group, member, request)
        if group.state == COMPLETING_REBALANCE:
            if member.matches(request.protocols):
                # The member lost our JoinGroup answer and asks again: same answer.
                return self._join_answer(group, member)
            return await self._update_member_and_rebalance(group, member, request)
        if group.state == STABLE:
            if group.is_leader(member_id) or not member.matches(request.protocols):
                return await self._update_member_and_rebalance(group, member, request)
            return JoinResult(NONE, member_id, group.generation_id, group.protocol_type, group.protocol_name, group.leader_id or "")
        return JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, member_id)

    def _validate_member(self, group: ClassicGroup, member_id: str, instance_id: str | None) -> int:
        """Kafka's ClassicGroup.validateMember."""
        if instance_id is not None:
            known = group.static_member_id(instance_id)
            if known is None:
                return ErrorCode.UNKNOWN_MEMBER_ID
            if known != member_id:
                return ErrorCode.FENCED_INSTANCE_ID
        elif member_id not in group.members:
            return ErrorCode.UNKNOWN_MEMBER_ID
        return NONE

    def _new_member(self, member_id: str, request: JoinRequest) -> Member:
        return Member(
            member_id=member_id,
            group_instance_id=request.group_instance_id,
            client_id=request.client_id,
            client_host=request.client_host,
            rebalance_timeout_ms=request.rebalance_timeout_ms if request.rebalance_timeout_ms >= 0 else request.session_timeout_ms,
            session_timeout_ms=request.session_timeout_ms,
            protocol_type=request.protocol_type,
            protocols=[(name, bytes(metadata)) for name, metadata in request.protocols],
        )

    async def _add_member_and_rebalance(self, group: ClassicGroup, member_id: str, request: JoinRequest) -> JoinResult:
        member = self._new_member(member_id, request)
        future = member.join_future = asyncio.get_running_loop().create_future()
        group.add(member)
        if group.state == PREPARING_REBALANCE and group.previous_state == EMPTY:
            group.new_member_added = True
        self._maybe_prepare_rebalance(group, f"member {member_id} joined")
        result: JoinResult | None = await future
        return result or JoinResult(ErrorCode.COORDINATOR_NOT_AVAILABLE, member_id)

    async def _update_member_and_rebalance(self, group: ClassicGroup, member: Member, request: JoinRequest) -> JoinResult:
        member.protocols = [(name, bytes(metadata)) for name, metadata in request.protocols]
        member.session_timeout_ms = request.session_timeout_ms
        member.rebalance_timeout_ms = request.rebalance_timeout_ms if request.rebalance_timeout_ms >= 0 else request.session_timeout_ms
        member.client_id, member.client_host = request.client_id, request.client_host
        if member.awaiting_join:
            # A second JoinGroup while the first waits: the first gets no answer of its own.
            assert member.join_future is not None
            member.join_future.set_result(JoinResult(ErrorCode.REBALANCE_IN_PROGRESS, member.member_id))
        future = member.join_future = asyncio.get_running_loop().create_future()
        self._maybe_prepare_rebalance(group, f"member {member.member_id} rejoined")
        result: JoinResult | None = await future
        return result or JoinResult(ErrorCode.COORDINATOR_NOT_AVAILABLE, member.member_id)

    async def _replace_static_member(self, group: ClassicGroup, old_member_id: str, new_member_id: str, request: JoinRequest) -> JoinResult:
        """KIP-345: a static member rejoining with no member id takes over its
        instance id; the old member id is fenced (FENCED_INSTANCE_ID)."""
        old = group.members[old_member_id]
        for future in (old.join_future, old.sync_future):
            if future is not None and not future.done():
                future.set_result(JoinResult(ErrorCode.FENCED_INSTANCE_ID, old_member_id) if future is old.join_future else SyncResult(ErrorCode.FENCED_INSTANCE_ID))
        old.join_future = old.sync_future = None
        self.timers.cancel(("heartbeat", group.group_id, old_member_id))
        previous_protocols = old.protocols
        member = group.replace_static_member(request.group_instance_id or "", old_member_id, new_member_id)
        member.session_timeout_ms = request.session_timeout_ms
        member.rebalance_timeout_ms = request.rebalance_timeout_ms if request.rebalance_timeout_ms >= 0 else request.session_timeout_ms
        member.client_id, member.client_host = request.client_id, request.client_host
        if group.state == STABLE:
            member.protocols = [(name, bytes(metadata)) for name, metadata in request.protocols]
            if group.select_protocol() == group.protocol_name:
                # Same protocol next generation: no rebalance, only persist the new id.
                error = await self._store_group(group)
                if error != NONE:
                    # Undo, so that the old member keeps working (Kafka reverts too).
                    group.replace_static_member(request.group_instance_id or "", new_member_id, old_member_id)
                    member.protocols = previous_protocols
                    return JoinResult(error, "")
                self._schedule_heartbeat(group, member)
                is_leader = group.is_leader(new_member_id)
                return JoinResult(
                    NONE,
                    new_member_id,
                    group.generation_id,
                    group.protocol_type,
                    group.protocol_name,
                    group.leader_id or "",
                    self._member_list(group) if is_leader else [],
                    # KIP-814: a static leader that rejoins learns the members
                    # but must not compute a new assignment.
                    skip_assignment=is_leader,
                )
            return await self._update_member_and_rebalance(group, member, request)
        return await self._update_member_and_rebalance(group, member, request)

    def _member_list(self, group: ClassicGroup) -> list[tuple[str, str | None, bytes]]:
        return [(m.member_id, m.group_instance_id, m.metadata(group.protocol_name)) for m in group.members.values()]

    def _join_answer(self, group: ClassicGroup, member: Member) -> JoinResult:
        is_leader = group.is_leader(member.member_id)
        return JoinResult(
            NONE,
            member.member_id,
            group.generation_id,
            group.protocol_type,
            group.protocol_name,
            group.leader_id or "",
            self._member_list(group) if is_leader else [],
        )

    def _expire_pending_member(self, group_id: str, member_id: str) -> None:
        group = self.groups.get(group_id)
        if group is None or member_id not in group.pending_members:
            return
        group.pending_members.discard(member_id)
        if group.state == PREPARING_REBALANCE:
            self._maybe_complete_join(group)

    # -- rebalancing ---------------------------------------------------------------

    def _maybe_prepare_rebalance(self, group: ClassicGroup, reason: str) -> None:
        if group.state in (STABLE, COMPLETING_REBALANCE, EMPTY):
            self._prepare_rebalance(group, reason)
        elif group.state == PREPARING_REBALANCE:
            self._maybe_complete_join(group)

    def _prepare_rebalance(self, group: ClassicGroup, reason: str) -> None:
        if group.state == COMPLETING_REBALANCE:
            self._reset_and_propagate_sync_error(group, ErrorCode.REBALANCE_IN_PROGRESS)
        self.timers.cancel(("sync", group.group_id))
        group.pending_sync.clear()
        initial = group.state == EMPTY
        log.info("group %s: preparing to rebalance (generation %d): %s", group.group_id, group.generation_id, reason)
        group.transition_to(PREPARING_REBALANCE, self.clock())
        if initial:
            delay = self.config.initial_rebalance_delay_ms
            remaining = max(group.max_rebalance_timeout_ms() - delay, 0)
            group.new_member_added = False
            self._schedule_initial_join(group, delay, remaining)
        else:
            self.timers.schedule(("join", group.group_id), group.max_rebalance_timeout_ms(), lambda: self._complete_join(group))
            self._maybe_complete_join(group)

    def _schedule_initial_join(self, group: ClassicGroup, delay: int, remaining: int) -> None:
        def fire() -> None:
            if group.new_member_added and remaining > 0:
                # Members keep arriving: wait a little longer, within the rebalance timeout.
                group.new_member_added = False
                next_delay = min(delay, remaining)
                self._schedule_initial_join(group, next_delay, max(remaining - delay, 0))
            else:
                self._complete_join(group)

        self.timers.schedule(("join", group.group_id), delay, fire)

    def _maybe_complete_join(self, group: ClassicGroup) -> None:
        # A rebalance out of Empty always waits for its initial-delay timer.
        if group.state == PREPARING_REBALANCE and group.has_all_members_joined() and group.previous_state != EMPTY:
            self._complete_join(group)
        elif group.state == PREPARING_REBALANCE and group.is_empty and not group.pending_members:
            self._complete_join(group)

    def _complete_join(self, group: ClassicGroup) -> None:
        self.timers.cancel(("join", group.group_id))
        if group.state != PREPARING_REBALANCE or self.groups.get(group.group_id) is not group:
            return
        for member in [m for m in group.members.values() if not m.awaiting_join]:
            log.info("group %s: removing member %s, which did not rejoin in time", group.group_id, member.member_id)
            self._remove_member(group, member.member_id)
        now = self.clock()
        group.generation_id += 1
        if group.is_empty:
            group.protocol_name = None
            group.transition_to(EMPTY, now)
            log.info("group %s: generation %d is empty", group.group_id, group.generation_id)
            asyncio.ensure_future(self._store_group_logged(group))
            return
        group.protocol_name = group.select_protocol()
        group.transition_to(COMPLETING_REBALANCE, now)
        log.info(
            "group %s: generation %d with %d member(s), protocol %s, leader %s",
            group.group_id, group.generation_id, len(group.members), group.protocol_name, group.leader_id,
        )
        for member in group.members.values():
            future = member.join_future
            member.join_future = None
            member.assignment = b""
            if future is not None and not future.done():
                future.set_result(self._join_answer(group, member))
            self._schedule_heartbeat(group, member)
        group.pending_sync = set(group.members)
        generation = group.generation_id
        self.timers.schedule(("sync", group.group_id), group.max_rebalance_timeout_ms(), lambda: self._expire_pending_sync(group, generation))

    def _expire_pending_sync(self, group: ClassicGroup, generation: int) -> None:
        if group.generation_id != generation or group.state not in (COMPLETING_REBALANCE, STABLE) or not group.pending_sync:
            return
        missing = sorted(group.pending_sync)
        log.info("group %s: removing member(s) %s, which did not send SyncGroup in time", group.group_id, missing)
        for member_id in missing:
            self._remove_member(group, member_id)
        self._prepare_rebalance(group, "members did not sync")

    def _reset_and_propagate_sync_error(self, group: ClassicGroup, error: int) -> None:
        for member in group.members.values():
            member.assignment = b""
            future = member.sync_future
            member.sync_future = None
            if future is not None and not future.done():
                future.set_result(SyncResult(error))

    def _remove_member(self, group: ClassicGroup, member_id: str) -> Member | None:
        member = group.remove(member_id)
        if member is None:
            return None
        self.timers.cancel(("heartbeat", group.group_id, member_id))
        if member.awaiting_join:
            assert member.join_future is not None
            member.join_future.set_result(JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, member_id))
        if member.awaiting_sync:
            assert member.sync_future is not None
            member.sync_future.set_result(SyncResult(ErrorCode.UNKNOWN_MEMBER_ID))
        return member

    def _update_group_after_removal(self, group: ClassicGroup, reason: str) -> None:
        if group.state in (STABLE, COMPLETING_REBALANCE):
            self._prepare_rebalance(group, reason)
        elif group.state == PREPARING_REBALANCE:
            self._maybe_complete_join(group)

    # -- heartbeats and sessions ----------------------------------------------------

    def _schedule_heartbeat(self, group: ClassicGroup, member: Member) -> None:
        member_id = member.member_id
        self.timers.schedule(
            ("heartbeat", group.group_id, member_id), member.session_timeout_ms, lambda: self._session_expired(group.group_id, member_id)
        )

    def _session_expired(self, group_id: str, member_id: str) -> None:
        group = self.groups.get(group_id)
        if group is None:
            return
        member = group.members.get(member_id)
        if member is None:
            return
        if member.awaiting_join:
            # The join phase's own timeout bounds a member waiting in JoinGroup.
            self._schedule_heartbeat(group, member)
            return
        log.info("group %s: member %s's session expired", group_id, member_id)
        self._remove_member(group, member_id)
        self._update_group_after_removal(group, f"member {member_id}'s session expired")

    def heartbeat(self, group_id: str, generation_id: int, member_id: str, instance_id: str | None) -> int:
        error = self.group_error(group_id)
        if error != NONE:
            return error
        group = self.groups.get(group_id)
        consumer_group = self.consumer_group(group_id)
        if group is None and consumer_group is not None:
            return self.consumer.classic_member_heartbeat(consumer_group, member_id, instance_id, generation_id)  # type: ignore[no-any-return]
        if group is None:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if group.state == DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        error = self._validate_member(group, member_id, instance_id)
        if error != NONE:
            return error
        if generation_id != group.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        if group.state == EMPTY:
            return ErrorCode.UNKNOWN_MEMBER_ID
        self._schedule_heartbeat(group, group.members[member_id])
        if group.state == PREPARING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return NONE

    # -- SyncGroup ------------------------------------------------------------------

    async def sync_group(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
    ) -> SyncResult:
        error = self.group_error(group_id)
        if error != NONE:
            return SyncResult(error)
        group = self.groups.get(group_id)
        consumer_group = self.consumer_group(group_id)
        if group is None and consumer_group is not None and not consumer_group.is_empty:
            return self.consumer.classic_member_sync(consumer_group, member_id, instance_id, generation_id,  # type: ignore[no-any-return]
                                                     protocol_type, protocol_name)
        if group is None:
            return SyncResult(ErrorCode.UNKNOWN_MEMBER_ID)
        if group.state == DEAD:
            return SyncResult(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        error = self._validate_member(group, member_id, instance_id)
        if error != NONE:
            return SyncResult(error)
        if generation_id != group.generation_id:
            return SyncResult(ErrorCode.ILLEGAL_GENERATION)
        if (protocol_type is not None and protocol_type != group.protocol_type) or (protocol_name is not None and protocol_name != group.protocol_name):
            return SyncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        if group.state == EMPTY:
            return SyncResult(ErrorCode.UNKNOWN_MEMBER_ID)
        if group.state == PREPARING_REBALANCE:
            return SyncResult(ErrorCode.REBALANCE_IN_PROGRESS)
        member = group.members[member_id]
        group.pending_sync.discard(member_id)
        if not group.pending_sync:
            self.timers.cancel(("sync", group_id))
        self._schedule_heartbeat(group, member)
        if group.state == STABLE:
            return SyncResult(NONE, group.protocol_type, group.protocol_name, member.assignment)
        # CompletingRebalance: wait for the leader's assignment.
        future = member.sync_future = asyncio.get_running_loop().create_future()
        if group.is_leader(member_id):
            complete = {m: bytes(assignments.get(m, b"")) for m in group.members}
            generation = group.generation_id
            error = await self._store_group(group, complete)
            if group.state == COMPLETING_REBALANCE and group.generation_id == generation:
                if error != NONE:
                    self._reset_and_propagate_sync_error(group, error)
                    self._prepare_rebalance(group, "storing the assignment failed")
                else:
                    for m in group.members.values():
                        m.assignment = complete[m.member_id]
                        sync = m.sync_future
                        m.sync_future = None
                        if sync is not None and not sync.done():
                            sync.set_result(SyncResult(NONE, group.protocol_type, group.protocol_name, m.assignment))
                    group.transition_to(STABLE, self.clock())
                    log.info("group %s: generation %d is stable", group_id, generation)
        result: SyncResult | None = await future
        return result or SyncResult(ErrorCode.COORDINATOR_NOT_AVAILABLE)

    def _group_value(self, group: ClassicGroup, assignments: dict[str, bytes] | None = None) -> Any:
        return rec.GroupMetadataValue(
            protocol_type=group.protocol_type or "",
            generation=group.generation_id,
            protocol=group.protocol_name,
            leader=group.leader_id,
            current_state_timestamp=group.state_timestamp,
            members=[
                rec.MemberMetadata(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    rebalance_timeout=m.rebalance_timeout_ms,
                    session_timeout=m.session_timeout_ms,
                    subscription=m.metadata(group.protocol_name),
                    assignment=(assignments.get(m.member_id, b"") if assignments is not None else m.assignment),
                )
                for m in group.members.values()
            ],
        )

    async def _store_group(self, group: ClassicGroup, assignments: dict[str, bytes] | None = None) -> int:
        records = [(rec.group_metadata_key(group.group_id), rec.group_metadata_value(self._group_value(group, assignments)))]
        return await self.append_records(group.group_id, records)

    async def _store_group_logged(self, group: ClassicGroup) -> None:
        error = await self._store_group(group)
        if error != NONE:
            log.warning("group %s: storing its metadata failed: %s", group.group_id, ErrorCode(error).name)

    # -- LeaveGroup -----------------------------------------------------------------

    def leave_group(self, group_id: str, members: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
        """Remove members at once; returns (group error, error per member)."""
        error = self.group_error(group_id)
        if error != NONE:
            return error, []
        group = self.groups.get(group_id)
        consumer_group = self.consumer_group(group_id)
        if group is None and consumer_group is not None and not consumer_group.is_empty:
            return self.consumer.classic_members_leave(consumer_group, members)  # type: ignore[no-any-return]
        if group is None:
            # Kafka 4.4 answers each member, not the request, for an unknown group.
            return NONE, [ErrorCode.UNKNOWN_MEMBER_ID for _ in members]
        if group.state == DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE, []
        results: list[int] = []
        removed: list[str] = []
        pending_removed = False
        for member_id, instance_id in members:
            if instance_id is not None:
                known = group.static_member_id(instance_id)
                if known is None:
                    results.append(ErrorCode.UNKNOWN_MEMBER_ID)
                    continue
                if member_id and member_id != known:
                    results.append(ErrorCode.FENCED_INSTANCE_ID)
                    continue
                member_id = known
            elif member_id in group.pending_members:
                group.pending_members.discard(member_id)
                self.timers.cancel(("pending", group_id, member_id))
                pending_removed = True
                results.append(NONE)
                continue
            elif member_id not in group.members:
                results.append(ErrorCode.UNKNOWN_MEMBER_ID)
                continue
            self._remove_member(group, member_id)
            removed.append(member_id)
            results.append(NONE)
        if removed:
            log.info("group %s: member(s) %s left", group_id, removed)
            self._update_group_after_removal(group, f"member(s) {', '.join(removed)} left")
        elif pending_removed and group.state == PREPARING_REBALANCE:
            self._maybe_complete_join(group)
        return NONE, results

    # -- offsets --------------------------------------------------------------------

    def _validate_commit(self, group: ClassicGroup, generation_id: int, member_id: str, instance_id: str | None,
                         transactional: bool = False) -> int:
        """Kafka's ClassicGroup.validateOffsetCommit. A transactional commit may come
        without member id and generation (TxnOffsetCommit v0-2) and is not held back
        by a rebalance."""
        if group.state == DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if generation_id < 0 and group.state == EMPTY:
            return NONE  # a simple commit (admin client, or a consumer without group management)
        if generation_id >= 0 or member_id or instance_id is not None:
            error = self._validate_member(group, member_id, instance_id)
            if error != NONE:
                return error
            if generation_id != group.generation_id:
                return ErrorCode.ILLEGAL_GENERATION
        elif group.state != EMPTY and not transactional:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if group.state == COMPLETING_REBALANCE and not transactional:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return NONE

    async def commit_offsets(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        retention_ms: int,
        commits: list[OffsetCommit],
        version: int,
    ) -> tuple[int, list[int]]:
        """Returns (error for every partition, or NONE; per-commit errors)."""
        error = self.group_error(group_id)
        if error != NONE:
            return error, []
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            return await self.consumer.commit_offsets(consumer_group, member_id, generation_id, version, commits)
        group = self.groups.get(group_id)
        created = False
        if group is None:
            if generation_id >= 0:
                return (ErrorCode.GROUP_ID_NOT_FOUND if version >= 9 else ErrorCode.ILLEGAL_GENERATION), []
            group = self.groups[group_id] = ClassicGroup(group_id, state_timestamp=self.clock())
            created = True
        else:
            error = self._validate_commit(group, generation_id, member_id, instance_id)
            if error != NONE:
                return error, []
            member = group.members.get(member_id)
            if member is not None and group.state == STABLE:
                self._schedule_heartbeat(group, member)  # a commit shows the member is alive
        errors = [NONE] * len(commits)
        values = self.offset_values(commits, errors, retention_ms)
        if values:
            append_error, values = await self.append_offsets(group_id, values)
            if append_error != NONE:
                if created and not group.offsets and group.is_empty:
                    self.groups.pop(group_id, None)
                return NONE, [append_error if e == NONE else e for e in errors]
            current = self.groups.get(group_id)
            if current is None:  # deleted while we wrote; the records stand, so does the group
                current = self.groups[group_id] = group
            for key, value in values:
                current.offsets[key] = value
        return NONE, errors

    def offset_values(self, commits: list[OffsetCommit], errors: list[int],
                      retention_ms: int = -1) -> list[tuple[tuple[str, int], OffsetAndMetadata]]:
        """The offsets to store of the commits whose error is still NONE; metadata
        over offset.metadata.max.bytes sets OFFSET_METADATA_TOO_LARGE in `errors`."""
        now = self.clock()
        expire = now + retention_ms if retention_ms >= 0 else -1
        values: list[tuple[tuple[str, int], OffsetAndMetadata]] = []
        for i, commit in enumerate(commits):
            metadata = commit.metadata or ""
            if errors[i] == NONE and len(metadata.encode()) > self.config.offset_metadata_max_bytes:
                errors[i] = ErrorCode.OFFSET_METADATA_TOO_LARGE
            if errors[i] == NONE:
                values.append(((commit.topic, commit.partition), OffsetAndMetadata(commit.offset, commit.leader_epoch, metadata, now, expire, commit.topic_id)))
        return values

    async def append_offsets(self, group_id: str, values: list[tuple[tuple[str, int], OffsetAndMetadata]],
                             producer: tuple[int, int] | None = None) -> tuple[int, list[tuple[tuple[str, int], OffsetAndMetadata]]]:
        """Append offset records (a transactional batch for `producer`: id, epoch);
        returns the error and the values with their record offsets."""
        records = [(rec.offset_commit_key(group_id, t, p), rec.offset_commit_value(v)) for (t, p), v in values]
        error, base_offset = await self._append(group_id, records, producer)
        return error, [(key, dataclasses.replace(value, record_offset=base_offset + i)) for i, (key, value) in enumerate(values)]

    async def commit_transactional_offsets(
        self,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        commits: list[OffsetCommit],
    ) -> tuple[int, list[int]]:
        """TxnOffsetCommit (Kafka's OffsetMetadataManager.commitTransactionalOffset):
        the offsets are written as one transactional batch of the producer and
        stay pending until the transaction's marker (`complete_transaction`).
        Returns (error for every partition, or NONE; per-commit errors)."""
        error = self.group_error(group_id)
        if error != NONE:
            return error, []
        created = False
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            error, errors = self.consumer.validate_transactional_commit(consumer_group, member_id, generation_id, [(c.topic_id, c.partition) for c in commits])
            if error != NONE:
                return error, []
        else:
            group = self.groups.get(group_id)
            if group is None:
                if generation_id >= 0:
                    return ErrorCode.ILLEGAL_GENERATION, []
                # Kafka creates the (simple, empty) group at once, before the transaction ends.
                group = self.groups[group_id] = ClassicGroup(group_id, state_timestamp=self.clock())
                created = True
            else:
                error = self._validate_commit(group, generation_id, member_id, instance_id, transactional=True)
                if error != NONE:
                    return error, []
            errors = [NONE] * len(commits)
        values = self.offset_values(commits, errors)
        if values:
            append_error, values = await self.append_offsets(group_id, values, (producer_id, producer_epoch))
            if append_error != NONE:
                if created and self.groups.get(group_id) is group and group.is_empty and not group.offsets and not self.transactional.has_group(group_id):
                    del self.groups[group_id]
                return NONE, [append_error if e == NONE else e for e in errors]
            for key, value in values:
                self.transactional.add(producer_id, group_id, key, value)
        return NONE, errors

    def unstable_partitions(self, group_id: str) -> set[tuple[str, int]]:
        """The group's partitions with offsets of a transaction that has not ended."""
        return self.transactional.partitions(group_id)

    def offset_tombstones(self, group_id: str, committed: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """Every partition a group deletion must write a tombstone for: the committed
        ones and those with pending transactional offsets (Kafka's deleteAllOffsets)."""
        return sorted(set(committed) | self.transactional.partitions(group_id))

    def offsets_deleted(self, group: ClassicGroup | ConsumerGroup, partitions: Iterable[tuple[str, int]]) -> None:
        """Tombstones of `partitions` are written: their committed and pending offsets go."""
        for key in partitions:
            group.offsets.pop(key, None)
            self.transactional.discard(group.group_id, key)

    def fetch_offsets(self, group_id: str, partitions: list[tuple[str, int]] | None, member_id: str | None = None,
                      member_epoch: int = -1) -> tuple[int, list[tuple[str, int, OffsetAndMetadata | None]]]:
        """Committed offsets of `partitions` (None: every committed partition).
        A member id and epoch (OffsetFetch v9+) are checked for consumer groups only, as Kafka does."""
        error = self.group_error(group_id)
        if error != NONE:
            return error, []
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            error = self.consumer.validate_fetch(consumer_group, member_id, member_epoch)
            if error != NONE:
                return error, []
        group = self.groups.get(group_id)
        offsets = group.offsets if group is not None and group.state != DEAD else {}
        if consumer_group is not None:
            offsets = consumer_group.offsets
        if partitions is None:
            return NONE, [(t, p, v) for (t, p), v in sorted(offsets.items())]
        return NONE, [(t, p, offsets.get((t, p))) for t, p in partitions]

    async def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[int, list[int]]:
        """OffsetDelete: (group error, error per partition)."""
        error = self.group_error(group_id)
        if error != NONE:
            return error, []
        group: ClassicGroup | ConsumerGroup | None = self.groups.get(group_id) or self.consumer_group(group_id)
        if group is None or group.state.value == DEAD.value:
            return ErrorCode.GROUP_ID_NOT_FOUND, []
        subscribed: set[str] = set()
        if not group.is_empty:
            topics = self.consumer.subscribed_topic_names(group) if isinstance(group, ConsumerGroup) else group.subscribed_topics()
            if topics is None:
                # Members of a protocol whose subscriptions we cannot read (Kafka: only consumer groups).
                return ErrorCode.NON_EMPTY_GROUP, []
            subscribed = topics
        errors = []
        tombstones = []
        for topic, partition in partitions:
            if topic in subscribed:
                errors.append(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC)
                continue
            errors.append(NONE)
            if (topic, partition) in group.offsets or self.transactional.is_pending(group_id, (topic, partition)):
                tombstones.append((topic, partition))
        if tombstones:
            append_error = await self.append_records(group_id, [(rec.offset_commit_key(group_id, t, p), None) for t, p in tombstones])
            if append_error != NONE:
                return append_error, []
            self.offsets_deleted(group, tombstones)
        return NONE, errors

    # -- describe, list, delete -----------------------------------------------------------

    def describe_group(self, group_id: str) -> tuple[int, ClassicGroup | None]:
        error = self.coordinator_error(group_id)
        if error != NONE:
            return error, None
        group = self.groups.get(group_id)
        if group is None or group.state == DEAD:
            return ErrorCode.GROUP_ID_NOT_FOUND, None
        return NONE, group

    def list_groups(self, states: set[str] | None = None) -> tuple[int, list[ClassicGroup | ConsumerGroup]]:
        """Classic and consumer groups, by id; `states`: lower-case state names to keep."""
        if self.loading:
            return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, []
        groups: dict[str, ClassicGroup | ConsumerGroup] = {**self.groups, **(self.consumer.groups if self.consumer is not None else {})}
        return NONE, [
            g for _, g in sorted(groups.items()) if g.state.value != DEAD.value and (states is None or g.state.value.lower() in states)
        ]

    async def delete_groups(self, group_ids: list[str]) -> list[int]:
        results = []
        for group_id in group_ids:
            error = self.group_error(group_id)
            if error != NONE:
                results.append(error)
                continue
            consumer_group = self.consumer_group(group_id)
            if consumer_group is not None:
                results.append(await self.consumer.delete_group(consumer_group))
                continue
            group = self.groups.get(group_id)
            if group is None or group.state == DEAD:
                results.append(ErrorCode.GROUP_ID_NOT_FOUND)
            elif group.state != EMPTY:
                results.append(ErrorCode.NON_EMPTY_GROUP)
            else:
                results.append(await self._delete_group(group))
        return results

    async def _delete_group(self, group: ClassicGroup) -> int:
        """Tombstones for every offset (pending transactional ones too) and the group itself, then the group is gone."""
        partitions = self.offset_tombstones(group.group_id, group.offsets)
        records: list[tuple[bytes, bytes | None]] = [(rec.offset_commit_key(group.group_id, t, p), None) for t, p in partitions]
        records.append((rec.group_metadata_key(group.group_id), None))
        error = await self.append_records(group.group_id, records)
        if error != NONE:
            return error
        self.offsets_deleted(group, partitions)
        if group.state == EMPTY:
            group.transition_to(DEAD, self.clock())
        if self.groups.get(group.group_id) is group:
            del self.groups[group.group_id]
        for member_id in list(group.pending_members):
            self.timers.cancel(("pending", group.group_id, member_id))
        return NONE

    # -- retention ------------------------------------------------------------------------

    async def expire_offsets(self) -> int:
        """Drop offsets past offsets.retention.minutes (Kafka's rules since
        KIP-211): an empty group's offsets expire that long after it became
        empty; a consumer group's offsets of topics it no longer subscribes
        to, that long after their commit; an offset committed with an
        explicit retention (OffsetCommit v2-4), at its expire timestamp.
        An empty group left without offsets is deleted. An offset with a
        pending transactional offset does not expire, nor is a group with one
        deleted (Kafka's cleanupExpiredOffsets). Returns the number of
        offsets removed."""
        now = self.clock()
        retention = self.config.offsets_retention_ms
        removed = 0
        for group in list(self.groups.values()):
            if self.coordinator_error(group.group_id) != NONE or group.state == DEAD:
                continue
            subscribed = None if group.state == EMPTY else group.subscribed_topics()
            if group.state != EMPTY and subscribed is None:
                expired = [k for k, v in group.offsets.items() if 0 <= v.expire_timestamp <= now]
            else:
                expired = []
                for (topic, partition), value in group.offsets.items():
                    if 0 <= value.expire_timestamp:
                        due = value.expire_timestamp <= now
                    elif group.state == EMPTY:
                        base = group.state_timestamp if group.state_timestamp >= 0 else value.commit_timestamp
                        due = now - base >= retention
                    else:
                        assert subscribed is not None
                        due = topic not in subscribed and now - value.commit_timestamp >= retention
                    if due:
                        expired.append((topic, partition))
            expired = [key for key in expired if not self.transactional.is_pending(group.group_id, key)]
            if expired:
                error = await self.append_records(group.group_id, [(rec.offset_commit_key(group.group_id, t, p), None) for t, p in expired])
                if error != NONE:
                    log.warning("group %s: expiring %d offset(s) failed: %s", group.group_id, len(expired), ErrorCode(error).name)
                    continue
                for key in expired:
                    group.offsets.pop(key, None)
                removed += len(expired)
                log.info("group %s: %d offset(s) expired", group.group_id, len(expired))
            if (group.state == EMPTY and not group.offsets and not group.pending_members and not self.transactional.has_group(group.group_id)
                    and self.groups.get(group.group_id) is group):
                await self._delete_group(group)
        if self.consumer is not None:
            removed += await self.consumer.expire_offsets(now, retention)
        return removed

