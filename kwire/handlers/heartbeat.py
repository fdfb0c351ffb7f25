"""Heartbeat (api key 12), versions 0-4.

Refreshes the member's session (session.timeout.ms). REBALANCE_IN_PROGRESS
tells a member of a rebalancing group to rejoin; ILLEGAL_GENERATION,
UNKNOWN_MEMBER_ID and (v3+, static members) FENCED_INSTANCE_ID as Kafka's
classic group coordinator checks them.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

HeartbeatResponse = messages.HeartbeatResponse


@handles(ApiKey.HEARTBEAT)
def heartbeat(broker: Any, request: Any) -> Any:
    body = request.body
    error = broker.group_coordinator.coordinator.heartbeat(
        body.group_id, body.generation_id, body.member_id, body.group_instance_id if request.version >= 3 else None
    )
    return HeartbeatResponse(throttle_time_ms=0, error_code=error)
