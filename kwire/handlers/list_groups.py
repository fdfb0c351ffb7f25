"""ListGroups (api key 16), versions 0-5.

Every group this coordinator knows: with members, empty ones that only hold
offsets, and groups of "simple" commits (protocol type ""). v4+ filter by
state (case-insensitive, KIP-518); v5+ by type (KIP-848): every group here
is "classic". COORDINATOR_LOAD_IN_PROGRESS while __consumer_offsets loads.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from kwire.groups.coordinator import GROUP_TYPE_CLASSIC
from kwire.groups.state import GroupState
from kwire.handlers import handles

ListGroupsResponse = messages.ListGroupsResponse
Listed = ListGroupsResponse.cls.ListedGroup


@handles(ApiKey.LIST_GROUPS)
def list_groups(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    states = None
    if version >= 4 and body.states_filter:
        states = {s for s in (GroupState.parse(text) for text in body.states_filter) if s is not None}
    types = {t.lower() for t in body.types_filter} if version >= 5 and body.types_filter else None
    error, groups = broker.group_coordinator.coordinator.list_groups(states)
    if types is not None and GROUP_TYPE_CLASSIC not in types:
        groups = []
    return ListGroupsResponse(
        throttle_time_ms=0,
        error_code=error,
        groups=[
            Listed(group_id=g.group_id, protocol_type=g.protocol_type or "", group_state=g.state.value, group_type=GROUP_TYPE_CLASSIC)
            for g in groups
        ],
    )
