"""ListGroups (api key 16), versions 0-5.

Every group this coordinator knows: with members, empty ones that only hold
offsets, and groups of "simple" commits (protocol type ""), and KIP-848
consumer groups (protocol type "consumer", states Empty, Assigning,
Reconciling, Stable). v4+ filter by state (case-insensitive, KIP-518); v5+
by type (KIP-848): "classic" or "consumer". COORDINATOR_LOAD_IN_PROGRESS
while __consumer_offsets loads.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

ListGroupsResponse = messages.ListGroupsResponse
Listed = ListGroupsResponse.cls.ListedGroup


@handles(ApiKey.LIST_GROUPS)
def list_groups(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    states = None
    if version >= 4 and body.states_filter:
        states = {text.lower() for text in body.states_filter}
    types = {t.lower() for t in body.types_filter} if version >= 5 and body.types_filter else None
    error, groups = broker.group_coordinator.coordinator.list_groups(states)
    if types is not None:
        groups = [g for g in groups if g.group_type in types]
    return ListGroupsResponse(
        throttle_time_ms=0,
        error_code=error,
        groups=[
            Listed(group_id=g.group_id, protocol_type=g.protocol_type or "", group_state=g.state.value, group_type=g.group_type)
            for g in groups
        ],
    )
