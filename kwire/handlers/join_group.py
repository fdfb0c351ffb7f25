"""JoinGroup (api key 11), versions 0-9.

Classic group membership; the state machine is kwire/groups/coordinator.py.
v4+: a member without an id gets MEMBER_ID_REQUIRED and its id, and joins
again with it (KIP-394). v5+: static members (group.instance.id, KIP-345):
a restarted static member takes over its instance id without a rebalance
when its protocols still select the group's protocol; the old member id is
fenced (FENCED_INSTANCE_ID). v7+: the protocol type in the answer. v9: a
static leader that rejoins gets the members with skip_assignment
(KIP-814). v0 carries no rebalance timeout: the session timeout is used.

The answer waits for the join phase of the rebalance (bounded by the
largest rebalance timeout of the members, or group.initial.rebalance.delay.ms
for a new group).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.connection import CLIENT_HOST
from kwire.groups.coordinator import JoinRequest
from kwire.handlers import handles

JoinGroupResponse = messages.JoinGroupResponse
Member = JoinGroupResponse.cls.JoinGroupResponseMember


@handles(ApiKey.JOIN_GROUP)
async def join_group(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    result = await broker.group_coordinator.coordinator.join_group(
        JoinRequest(
            group_id=body.group_id,
            member_id=body.member_id,
            group_instance_id=body.group_instance_id if version >= 5 else None,
            session_timeout_ms=body.session_timeout_ms,
            rebalance_timeout_ms=body.rebalance_timeout_ms if version >= 1 else -1,
            protocol_type=body.protocol_type,
            protocols=[(p.name, bytes(p.metadata)) for p in body.protocols],
            client_id=request.header.client_id or "",
            client_host=CLIENT_HOST.get(),
            version=version,
        )
    )
    ok = result.error == ErrorCode.NONE
    protocol_name = result.protocol_name if ok else None
    if protocol_name is None and version < 7:
        protocol_name = ""  # not nullable before v7
    return JoinGroupResponse(
        throttle_time_ms=0,
        error_code=result.error,
        generation_id=result.generation_id if ok else -1,
        protocol_type=result.protocol_type if ok else None,
        protocol_name=protocol_name,
        leader=result.leader_id if ok else "",
        skip_assignment=result.skip_assignment,
        member_id=result.member_id,
        members=[Member(member_id=m, group_instance_id=i, metadata=md) for m, i, md in result.members],
    )
