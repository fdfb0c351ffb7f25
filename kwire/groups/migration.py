"""Online migration between the classic and consumer group protocols (KIP-848).

Kafka 4.x lets both kinds of members share one group, within
group.consumer.migration.policy: bidirectional (the default) allows both
directions below, upgrade and downgrade one each, disabled neither.

Upgrade (GroupMetadataManager.convertToConsumerGroup). A ConsumerGroupHeartbeat
join naming a classic group with members converts it when the policy allows
upgrades, the group uses the consumer embedded protocol and it is not larger
than group.consumer.max.size; otherwise GROUP_ID_NOT_FOUND "Cannot upgrade
classic group ...". The generation becomes the group epoch and every
member's epoch; each member keeps its assignment (its
ConsumerProtocolAssignment, which becomes its target too), its subscription
(ConsumerProtocolSubscription: topics, rack) and its session timeout and
protocols. Waiting JoinGroup/SyncGroup calls get REBALANCE_IN_PROGRESS. The
classic group's record is tombstoned and the consumer group's records
written in the same batch as the joining member's.

Classic members in a consumer group (classicGroup*ToConsumerGroup): the
group's server-side assignor decides, the classic protocol only carries it.

* JoinGroup: MEMBER_ID_REQUIRED first for a v4+ dynamic member without id
  (nothing is kept until it comes back); GROUP_MAX_SIZE_REACHED;
  INCONSISTENT_GROUP_PROTOCOL unless the protocol type is "consumer" and one
  protocol is supported by every classic member. The member is updated from
  its subscription and reconciled like a heartbeat (its owned partitions
  from the subscription), and answered at once: generation = its member
  epoch, protocol = its first, no leader, no member list. It must SyncGroup
  within its rebalance timeout, else it is fenced.
* SyncGroup: its assigned partitions as a ConsumerProtocolAssignment (at its
  subscription's version). UNKNOWN_MEMBER_ID (also for a member using the
  consumer protocol), FENCED_INSTANCE_ID, ILLEGAL_GENERATION,
  INCONSISTENT_GROUP_PROTOCOL, REBALANCE_IN_PROGRESS when the group moved on.
* Heartbeat: REBALANCE_IN_PROGRESS when the member must rejoin (behind the
  group epoch, partitions to revoke, or the partitions it waited for are
  free); it must rejoin within its rebalance timeout, else it is fenced.
* Sessions last each member's own session timeout.
* LeaveGroup removes the named members (per member UNKNOWN_MEMBER_ID or
  FENCED_INSTANCE_ID) and bumps the group epoch.

Downgrade (convertToClassicGroup). When the last member using the consumer
protocol leaves or is fenced and classic members remain, the group becomes
a classic group if the policy allows downgrades and the members fit
group.max.size: generation = the group epoch, members with their protocols,
session timeouts and current assignments, the protocol chosen by vote; the
consumer group's tombstones and the classic group's record in one batch;
then a rebalance, so that the members rejoin the classic way. Offsets and
pending transactional offsets stay with the group id.

A classic static member that replaces (JoinGroup with its instance id and
no member id) the last member using the consumer protocol downgrades the
group at once, without a rebalance (validateOnlineDowngradeWithReplacedMemberId).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import ProtocolError

from kwire.groups import consumer_records as crec
from kwire.groups.consumer_group import CONSUMER_PROTOCOL_TYPE, ClassicMemberMetadata, ConsumerGroup, ConsumerGroupMember, MemberState
from kwire.groups.coordinator import JoinRequest, JoinResult, SyncResult
from kwire.groups.group import ClassicGroup, Member
from kwire.groups.reconciliation import reconcile
from kwire.groups.state import STABLE

if TYPE_CHECKING:
    from kwire.groups.consumer_coordinator import ConsumerGroupCoordinator

log = logging.getLogger(__name__)

NONE = ErrorCode.NONE
Subscription = messages.ConsumerProtocolSubscription
Assignment = messages.ConsumerProtocolAssignment
AssignedTopic = Assignment.cls.TopicPartition
_INT16 = struct.Struct(">h")

TopicsView = Mapping[str, tuple[uuid.UUID, int]]


# -- the consumer embedded protocol (ConsumerProtocol.java) ------------------------------


def _embedded(data: bytes, message: Any) -> tuple[int, Any]:
    """(version, decoded body); a version newer than known is read as the newest, as Kafka does."""
    if len(data) < 2:
        raise ProtocolError("consumer protocol data without a version")
    version = _INT16.unpack_from(data)[0]
    if version < 0:
        raise ProtocolError(f"consumer protocol version {version}")
    return version, message.decode(memoryview(data)[2:], min(version, message.max_version))


def decode_subscription(metadata: bytes) -> Any:
    return _embedded(metadata, Subscription)[1]


def subscription_version(metadata: bytes) -> int:
    return _embedded(metadata, Subscription)[0]


def decode_assignment(data: bytes) -> dict[str, list[int]]:
    """Topic name -> partitions; empty bytes (a member that never synced) is no assignment.
    Raises ProtocolError, also for user data a custom assignor would lose."""
    if not data:
        return {}
    assignment = _embedded(data, Assignment)[1]
    if assignment.user_data:
        raise ProtocolError("userData from a custom assignor would be lost")
    return {tp.topic: list(tp.partitions) for tp in assignment.assigned_partitions}


def encode_assignment(partitions: Mapping[str, list[int]], version: int) -> bytes:
    version = min(max(version, 0), Assignment.max_version)
    message = Assignment(assigned_partitions=[AssignedTopic(topic=t, partitions=sorted(p)) for t, p in sorted(partitions.items())], user_data=None)
    return _INT16.pack(version) + Assignment.encode(message, version)


def _by_name(assigned: Mapping[uuid.UUID, Any], topics: TopicsView) -> dict[str, list[int]]:
    names = {topic_id: name for name, (topic_id, _) in topics.items()}
    return {names[t]: sorted(p) for t, p in assigned.items() if p and t in names}


# -- upgrade: classic -> consumer -----------------------------------------------------------


def upgrade_refusal(cc: ConsumerGroupCoordinator, classic: ClassicGroup) -> str | None:
    """Why the classic group cannot become a consumer group now (Kafka's validateOnlineUpgrade), or None."""
    if not cc.config.upgrade_enabled:
        return "online upgrade is disabled"
    if classic.protocol_type != CONSUMER_PROTOCOL_TYPE:
        return "the group does not use the consumer embedded protocol"
    if len(classic.members) > cc.config.max_size:
        return "the group size exceeds the consumer group maximum size"
    return None


def consumer_group_from_classic(cc: ConsumerGroupCoordinator, classic: ClassicGroup, records: list[crec.Record]) -> ConsumerGroup:
    """Kafka's ConsumerGroup.fromClassicGroup and createConsumerGroupRecords.
    Raises ProtocolError when a member's subscription or assignment does not decode."""
    topics = cc.topics()
    generation = classic.generation_id
    group = ConsumerGroup(classic.group_id, group_epoch=generation, assignment_epoch=generation, assignment_timestamp=cc.parent.clock())
    for m in classic.members.values():
        assigned: dict[uuid.UUID, frozenset[int]] = {}
        for name, partitions in decode_assignment(m.assignment).items():
            if name in topics:
                assigned[topics[name][0]] = frozenset(partitions)
        metadata = m.metadata(classic.protocol_name) or (m.protocols[0][1] if m.protocols else b"")
        subscription = decode_subscription(metadata)
        member = ConsumerGroupMember(
            m.member_id,
            instance_id=m.group_instance_id,
            rack_id=subscription.rack_id or None,
            client_id=m.client_id,
            client_host=m.client_host,
            subscribed_topic_names=tuple(subscription.topics),
            rebalance_timeout_ms=m.rebalance_timeout_ms,
            member_epoch=generation,
            previous_member_epoch=generation,
            state=MemberState.STABLE,
            assigned={t: dict.fromkeys(p, generation) for t, p in assigned.items()},
            classic=ClassicMemberMetadata(m.session_timeout_ms, tuple(m.protocols)),
        )
        group.target[m.member_id] = assigned
        group.update_member(member)
    subscribed: set[str] = set()
    for member in group.members.values():
        subscribed |= cc.member_topics(member, topics)
    group.metadata_hash = cc.metadata_hash(subscribed, topics)
    group_id = group.group_id
    records.extend(crec.member_metadata_record(group_id, m) for m in group.members.values())
    records.append(crec.group_epoch_record(group_id, group.group_epoch, group.metadata_hash))
    records.extend(crec.target_member_record(group_id, member_id, target) for member_id, target in group.target.items())
    records.append(crec.target_metadata_record(group_id, group.assignment_epoch, group.assignment_timestamp))
    records.extend(crec.current_assignment_record(group_id, m) for m in group.members.values())
    return group


# -- downgrade: consumer -> classic ---------------------------------------------------------


def downgrade_allowed(cc: ConsumerGroupCoordinator, group: ConsumerGroup, leaving: set[str]) -> bool:
    """Kafka's validateOnlineDowngradeWithFencedMembers."""
    if not group.only_classic_members_remain_without(leaving):
        return False
    if not cc.config.downgrade_enabled:
        log.info("group %s: cannot downgrade to a classic group: online downgrade is disabled", group.group_id)
        return False
    if len(group.members) - len(leaving & set(group.members)) > cc.parent.config.max_size:
        log.info("group %s: cannot downgrade to a classic group: more members than group.max.size", group.group_id)
        return False
    return True


def classic_group_from_consumer(cc: ConsumerGroupCoordinator, group: ConsumerGroup, leaving: set[str]) -> ClassicGroup:
    """Kafka's ClassicGroup.fromConsumerGroup: the remaining (classic) members, Stable at the group epoch."""
    topics = cc.topics()
    classic = ClassicGroup(group.group_id, state=STABLE, state_timestamp=cc.parent.clock(), generation_id=group.group_epoch,
                           protocol_type=CONSUMER_PROTOCOL_TYPE)
    for member in group.members.values():
        if member.member_id in leaving or member.classic is None:
            continue
        version = subscription_version(member.classic.protocols[0][1])
        classic.add(Member(
            member_id=member.member_id,
            group_instance_id=member.instance_id,
            client_id=member.client_id,
            client_host=member.client_host,
            rebalance_timeout_ms=member.rebalance_timeout_ms,
            session_timeout_ms=member.classic.session_timeout_ms,
            protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocols=list(member.classic.protocols),
            assignment=encode_assignment(_by_name(member.assigned, topics), version),
        ))
    classic.protocol_name = classic.select_protocol()
    classic.offsets = group.offsets
    return classic


# -- classic members in a consumer group ------------------------------------------------------


def _find_member(group: ConsumerGroup, member_id: str, instance_id: str | None) -> tuple[int, ConsumerGroupMember | None]:
    """Kafka's validateConsumerGroupMember: UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID, else the member."""
    if instance_id is None:
        member = group.members.get(member_id)
        return (NONE, member) if member is not None else (ErrorCode.UNKNOWN_MEMBER_ID, None)
    member = group.static_member(instance_id)
    if member is None:
        return ErrorCode.UNKNOWN_MEMBER_ID, None
    if member.member_id != member_id:
        return ErrorCode.FENCED_INSTANCE_ID, None
    return NONE, member


def _must_rejoin(group: ConsumerGroup, member: ConsumerGroupMember) -> bool:
    """Behind the group epoch, partitions to revoke, or partitions it waited for are free now."""
    if member.member_epoch < group.group_epoch or member.state == MemberState.UNREVOKED_PARTITIONS:
        return True
    if member.state == MemberState.UNRELEASED_PARTITIONS:
        target = group.target.get(member.member_id, {})
        waiting = any(group.owner(t, p) not in (None, member.member_id)
                      for t, partitions in target.items() for p in partitions if p not in member.assigned.get(t, {}))
        return not waiting
    return False


async def join(cc: ConsumerGroupCoordinator, group: ConsumerGroup, request: JoinRequest) -> JoinResult:
    """JoinGroup of a classic member into a consumer group with members."""
    group_id = group.group_id
    unknown = not request.member_id
    member_id = str(uuid.uuid4()) if unknown else request.member_id
    if len(group.members) >= cc.config.max_size and member_id not in group.members:
        return JoinResult(ErrorCode.GROUP_MAX_SIZE_REACHED, "")
    if not group.supports_classic_protocols(request.protocol_type, [name for name, _ in request.protocols]):
        return JoinResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, request.member_id)
    if unknown and request.version >= 4 and request.group_instance_id is None:
        # KIP-394: the member comes back with this id; nothing is kept meanwhile.
        return JoinResult(ErrorCode.MEMBER_ID_REQUIRED, member_id)
    records: list[crec.Record] = []
    replaced: ConsumerGroupMember | None = None
    if request.group_instance_id is None:
        member = group.members.get(member_id) or ConsumerGroupMember(member_id)
    else:
        existing = group.static_member(request.group_instance_id)
        if existing is None:
            if not unknown:
                return JoinResult(ErrorCode.UNKNOWN_MEMBER_ID, request.member_id)
            member = ConsumerGroupMember(member_id, instance_id=request.group_instance_id)
        elif unknown:
            # The static member comes back under a new id: it takes over the old one's place.
            replaced = existing
            member = existing.with_changes(member_id=member_id)
        elif existing.member_id != member_id:
            return JoinResult(ErrorCode.FENCED_INSTANCE_ID, request.member_id)
        else:
            member = existing
    try:
        subscription = decode_subscription(bytes(request.protocols[0][1]))
    except ProtocolError as e:
        log.warning("group %s: member %s's subscription does not decode: %s", group_id, member_id, e)
        return JoinResult(ErrorCode.UNKNOWN_SERVER_ERROR, request.member_id)
    is_new = member.member_id not in group.members and replaced is None
    updated = member.with_changes(
        instance_id=request.group_instance_id if request.group_instance_id is not None else member.instance_id,
        rack_id=subscription.rack_id or member.rack_id,
        rebalance_timeout_ms=request.rebalance_timeout_ms if request.rebalance_timeout_ms != -1 else member.rebalance_timeout_ms,
        subscribed_topic_names=tuple(subscription.topics),
        subscribed_topic_regex=None,
        client_id=request.client_id,
        client_host=request.client_host,
        classic=ClassicMemberMetadata(request.session_timeout_ms, tuple((name, bytes(metadata)) for name, metadata in request.protocols)),
    )
    if replaced is not None:
        target = group.target.get(replaced.member_id, {})
        records.extend(crec.member_tombstones(group_id, replaced.member_id))
        group.remove_member(replaced.member_id)
        cc.cancel_timers(group_id, replaced.member_id)
        group.target[updated.member_id] = target
        records.append(crec.target_member_record(group_id, updated.member_id, target))
    subscription_changed = is_new or updated.subscription() != member.subscription()
    if is_new or replaced is not None or updated != member:
        records.append(crec.member_metadata_record(group_id, updated))
    group.update_member(updated)
    cc.bump_epoch_and_assign(group, updated.member_id, subscription_changed, records)

    topics = cc.topics()
    owned = [(topics[tp.topic][0], list(tp.partitions)) for tp in (subscription.owned_partitions or []) if tp.topic in topics]
    reconciled = reconcile(updated, group.assignment_epoch, group.target.get(updated.member_id, {}), owned, group.owner)
    if is_new or replaced is not None or reconciled != updated:
        records.append(crec.current_assignment_record(group_id, reconciled))
    group.update_member(reconciled)
    # The last consumer-protocol (static) member replaced by this classic one: the group
    # is classic again, without a rebalance (validateOnlineDowngradeWithReplacedMemberId).
    downgrade = replaced is not None and replaced.classic is None and downgrade_allowed(cc, group, set())
    if downgrade:
        records.extend(cc.downgrade(group, set(), f"replaced static member {replaced.member_id}", rebalance=False))
    error = await cc.append(group_id, records)
    if error != NONE:
        return JoinResult(error, request.member_id)
    if downgrade:
        return JoinResult(NONE, member_id, reconciled.member_epoch, CONSUMER_PROTOCOL_TYPE, request.protocols[0][0], "")
    cc.parent.timers.cancel(("cg-join", group_id, member_id))
    cc.schedule_session(group_id, member_id)
    cc.parent.timers.schedule(("cg-sync", group_id, member_id), max(reconciled.rebalance_timeout_ms, 0),
                              lambda: cc.fence(group_id, member_id, "was fenced: it did not send SyncGroup within its rebalance timeout"))
    log.info("group %s: classic member %s joined at epoch %d", group_id, member_id, reconciled.member_epoch)
    return JoinResult(NONE, member_id, reconciled.member_epoch, CONSUMER_PROTOCOL_TYPE, request.protocols[0][0], "")


def sync(cc: ConsumerGroupCoordinator, group: ConsumerGroup, member_id: str, instance_id: str | None, generation_id: int,
         protocol_type: str | None, protocol_name: str | None) -> SyncResult:
    error, member = _find_member(group, member_id, instance_id)
    if member is None:
        return SyncResult(error)
    if member.classic is None:
        return SyncResult(ErrorCode.UNKNOWN_MEMBER_ID)
    if generation_id != member.member_epoch:
        return SyncResult(ErrorCode.ILLEGAL_GENERATION)
    if (protocol_type is not None and protocol_type != CONSUMER_PROTOCOL_TYPE) or (
            protocol_name is not None and protocol_name != member.classic.protocols[0][0]):
        return SyncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    group_id = group.group_id
    if group.group_epoch > member.member_epoch and member.state != MemberState.UNREVOKED_PARTITIONS:
        _schedule_join_timeout(cc, group_id, member)
        return SyncResult(ErrorCode.REBALANCE_IN_PROGRESS)
    cc.parent.timers.cancel(("cg-sync", group_id, member_id))
    cc.schedule_session(group_id, member_id)
    version = subscription_version(member.classic.protocols[0][1])
    return SyncResult(NONE, CONSUMER_PROTOCOL_TYPE, member.classic.protocols[0][0], encode_assignment(_by_name(member.assigned, cc.topics()), version))


def heartbeat(cc: ConsumerGroupCoordinator, group: ConsumerGroup, member_id: str, instance_id: str | None, generation_id: int) -> int:
    error, member = _find_member(group, member_id, instance_id)
    if member is None:
        return error
    if member.classic is None:
        return ErrorCode.UNKNOWN_MEMBER_ID
    if generation_id != member.member_epoch:
        return ErrorCode.ILLEGAL_GENERATION
    cc.schedule_session(group.group_id, member_id)
    if _must_rejoin(group, member):
        _schedule_join_timeout(cc, group.group_id, member)
        return ErrorCode.REBALANCE_IN_PROGRESS
    return NONE


def _schedule_join_timeout(cc: ConsumerGroupCoordinator, group_id: str, member: ConsumerGroupMember) -> None:
    key = ("cg-join", group_id, member.member_id)
    if not cc.parent.timers.is_scheduled(key):
        member_id = member.member_id
        cc.parent.timers.schedule(key, max(member.rebalance_timeout_ms, 0),
                                  lambda: cc.fence(group_id, member_id, "was fenced: it did not rejoin within its rebalance timeout"))


def leave(cc: ConsumerGroupCoordinator, group: ConsumerGroup, members: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
    """LeaveGroup naming members of a consumer group: (group error, error per member).
    The members are gone at once; the records follow (as the classic coordinator's leave)."""
    results: list[int] = []
    leaving: list[str] = []
    for member_id, instance_id in members:
        if instance_id is not None and not member_id:
            # The admin client removes static members by instance id alone.
            member_id = getattr(group.static_member(instance_id), "member_id", "")
        error, member = _find_member(group, member_id, instance_id)
        if member is None:
            results.append(error)
            continue
        results.append(NONE)
        if member.member_id not in leaving:
            leaving.append(member.member_id)
    if leaving:
        records = cc.remove_members(group, leaving, "left (LeaveGroup)")
        asyncio.ensure_future(cc.append_logged(group.group_id, records))
    return NONE, results
