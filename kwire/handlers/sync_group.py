"""SyncGroup (api key 14), versions 0-5.

The leader sends the assignments; every member waits until they are
written to __consumer_offsets and gets its own. A member of a Stable group
gets its current assignment at once. v3+: group instance id (fencing,
KIP-345). v5+: protocol type and name, checked against the group's
(INCONSISTENT_GROUP_PROTOCOL) and returned.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

SyncGroupResponse = messages.SyncGroupResponse


@handles(ApiKey.SYNC_GROUP)
async def sync_group(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    if version >= 5 and (body.protocol_type is None or body.protocol_name is None):
        # Mandatory from v5 (Kafka's SyncGroupRequest.areMandatoryProtocolTypeAndNamePresent).
        return SyncGroupResponse(throttle_time_ms=0, error_code=ErrorCode.INCONSISTENT_GROUP_PROTOCOL, assignment=b"")
    result = await broker.group_coordinator.coordinator.sync_group(
        body.group_id,
        body.generation_id,
        body.member_id,
        body.group_instance_id if version >= 3 else None,
        body.protocol_type if version >= 5 else None,
        body.protocol_name if version >= 5 else None,
        {a.member_id: bytes(a.assignment) for a in body.assignments},
    )
    ok = result.error == ErrorCode.NONE
    return SyncGroupResponse(
        throttle_time_ms=0,
        error_code=result.error,
        protocol_type=result.protocol_type if ok else None,
        protocol_name=result.protocol_name if ok else None,
        assignment=result.assignment if ok else b"",
    )
