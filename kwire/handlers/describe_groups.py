"""DescribeGroups (api key 15), versions 0-6.

A group's state, protocol type and members (id, v4+ instance id, client id
and host). As Kafka does, the protocol and each member's metadata and
assignment bytes are given only for a Stable group; in other states the
protocol is "" and the bytes are empty. An unknown group: state "Dead",
and from v6 GROUP_ID_NOT_FOUND with a message (before v6, no error).
v3+: authorized operations of a group (READ, DESCRIBE, DELETE; kwire has
no ACLs) when asked for, else Kafka's "not requested" value.

A KIP-848 consumer group is not described here (ConsumerGroupDescribe is):
as Kafka 4.4, it answers state "Dead" with no members, and from v6
GROUP_ID_NOT_FOUND "Group <id> is not a classic group."; authorized
operations are left "not requested".
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.authorizer import authorized_operations
from kwire.groups.state import DEAD, STABLE
from kwire.handlers import handles

DescribeGroupsResponse = messages.DescribeGroupsResponse
Described = DescribeGroupsResponse.cls.DescribedGroup
DescribedMember = Described.DescribedGroupMember


@handles(ApiKey.DESCRIBE_GROUPS)
def describe_groups(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    coordinator = broker.group_coordinator.coordinator
    include_ops = version >= 3 and body.include_authorized_operations
    out = []
    for group_id in body.groups:
        error, group = coordinator.describe_group(group_id)
        if group is None:
            not_found = error == ErrorCode.GROUP_ID_NOT_FOUND
            consumer = not_found and coordinator.consumer_group(group_id) is not None
            message = f"Group {group_id} is not a classic group." if consumer else f"Group {group_id} not found."
            out.append(
                Described(
                    error_code=ErrorCode.NONE if not_found and version < 6 else error,
                    error_message=message if not_found and version >= 6 else None,
                    group_id=group_id,
                    group_state=DEAD.value if not_found else "",
                    protocol_type="",
                    protocol_data="",
                    members=[],
                    authorized_operations=authorized_operations("group", include_ops and not consumer),
                )
            )
            continue
        stable = group.state == STABLE
        out.append(
            Described(
                error_code=ErrorCode.NONE,
                group_id=group_id,
                group_state=group.state.value,
                protocol_type=group.protocol_type or "",
                protocol_data=(group.protocol_name or "") if stable else "",
                members=[
                    DescribedMember(
                        member_id=m.member_id,
                        group_instance_id=m.group_instance_id,
                        client_id=m.client_id,
                        client_host=m.client_host,
                        member_metadata=m.metadata(group.protocol_name) if stable else b"",
                        member_assignment=m.assignment if stable else b"",
                    )
                    for m in group.members.values()
                ],
                authorized_operations=authorized_operations("group", include_ops),
            )
        )
    return DescribeGroupsResponse(throttle_time_ms=0, groups=out)
