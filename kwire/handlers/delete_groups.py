"""DeleteGroups (api key 42), versions 0-3.

Deletes empty groups: tombstones for their offsets and metadata in
__consumer_offsets. A group with members gets NON_EMPTY_GROUP, an unknown
one GROUP_ID_NOT_FOUND; v3 adds an error message per group.
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
            Result(group_id=name, error_code=error, error_message=None if error == ErrorCode.NONE else _message(name, error))
            for name, error in zip(names, errors)
        ],
    )


def _message(group_id: str, error: int) -> str:
    if error == ErrorCode.GROUP_ID_NOT_FOUND:
        return f"Group {group_id} not found."
    if error == ErrorCode.NON_EMPTY_GROUP:
        return f"Group {group_id} is not empty."
    return ErrorCode(error).message
