"""LeaveGroup (api key 13), versions 0-5.

A member that leaves is removed at once and the group rebalances right
away (no wait for its session to expire). v0-2 name one member; v3+ a
batch of member identities (member id and/or group instance id, KIP-345),
each with its own error; v5 adds a reason, which is logged only.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

LeaveGroupResponse = messages.LeaveGroupResponse
MemberResponse = LeaveGroupResponse.cls.MemberResponse


@handles(ApiKey.LEAVE_GROUP)
def leave_group(broker: Any, request: Any) -> Any:
    body = request.body
    coordinator = broker.group_coordinator.coordinator
    if request.version < 3:
        error, results = coordinator.leave_group(body.group_id, [(body.member_id, None)])
        if error == ErrorCode.NONE:
            error = results[0]
        return LeaveGroupResponse(throttle_time_ms=0, error_code=error)
    identities = [(m.member_id, m.group_instance_id) for m in body.members]
    error, results = coordinator.leave_group(body.group_id, identities)
    return LeaveGroupResponse(
        throttle_time_ms=0,
        error_code=error,
        members=[
            MemberResponse(member_id=member_id, group_instance_id=instance_id, error_code=code)
            for (member_id, instance_id), code in zip(identities, results)
        ]
        if error == ErrorCode.NONE
        else [],
    )
