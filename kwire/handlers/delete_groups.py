"""DeleteGroups (api key 42), versions 0-3.

Deletes empty groups: tombstones for their offsets and metadata in
__consumer_offsets. A group with members gets NON_EMPTY_GROUP, an unknown
one GROUP_ID_NOT_FOUND; v3 has a per-group error message, which Kafka
4.4 leaves null.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

DeleteGroupsResponse = messages.DeleteGroupsResponse
Result = DeleteGroupsResponse.cls.DeletableGroupResult


@handles(ApiKey.DELETE_GROUPS)
async def delete_groups(broker: Any, request: Any) -> Any:
    names = list(request.body.groups_names)
    errors = await broker.group_coordinator.coordinator.delete_groups(names)
    return DeleteGroupsResponse(
        throttle_time_ms=0,
        results=[
            # Kafka 4.4 leaves the message null (checked for GROUP_ID_NOT_FOUND).
            Result(group_id=name, error_code=error, error_message=None)
            for name, error in zip(names, errors)
        ],
    )
