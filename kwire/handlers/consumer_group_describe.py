"""ConsumerGroupDescribe (api key 69), versions 0-1.

KIP-848 consumer groups as the coordinator holds them: state (Empty,
Assigning, Reconciling, Stable), group epoch, assignment epoch, the server
assignor in use, and per member its ids, epoch, subscription, current and
target assignment (topic ids with names). v1 adds each member's type (0: a
classic-protocol member of a mixed group, KIP-848 online migration; 1: a
consumer-protocol member).

As Kafka 4.4: an empty group id gets INVALID_GROUP_ID; an unknown group
GROUP_ID_NOT_FOUND "Group <id> not found."; a classic group
GROUP_ID_NOT_FOUND "Group <id> is not a consumer group.". Authorized
operations (no ACLs in kwire) when asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.authorizer import authorized_operations
from kwire.handlers import handles

ConsumerGroupDescribeResponse = messages.ConsumerGroupDescribeResponse
Described = ConsumerGroupDescribeResponse.cls.DescribedGroup
Member = Described.Member
Assignment = Member.Assignment
TopicPartitions = Assignment.TopicPartitions

MEMBER_TYPE_CLASSIC = 0
MEMBER_TYPE_CONSUMER = 1


@handles(ApiKey.CONSUMER_GROUP_DESCRIBE)
def consumer_group_describe(broker: Any, request: Any) -> Any:
    body = request.body
    runner = broker.group_coordinator
    coordinator = runner.coordinator
    include_ops = body.include_authorized_operations
    names = {topic_id: name for name, (topic_id, _) in runner.consumer.topics().items()}
    out = []
    for group_id in body.group_ids:
        error = coordinator.group_error(group_id)
        group = coordinator.consumer_group(group_id) if error == ErrorCode.NONE else None
        message = None
        if error == ErrorCode.NONE and group is None:
            error = ErrorCode.GROUP_ID_NOT_FOUND
            message = f"Group {group_id} is not a consumer group." if group_id in coordinator.groups else f"Group {group_id} not found."
        if group is None:
            out.append(Described(error_code=error, error_message=message, group_id=group_id, group_state="", group_epoch=0,
                                 assignment_epoch=0, assignor_name="", members=[], authorized_operations=authorized_operations("group", False)))
            continue
        out.append(
            Described(
                error_code=ErrorCode.NONE,
                error_message=None,
                group_id=group_id,
                group_state=group.state.value,
                group_epoch=group.group_epoch,
                assignment_epoch=group.assignment_epoch,
                assignor_name=group.preferred_assignor(runner.consumer.config.assignors[0]),
                members=[
                    Member(
                        member_id=m.member_id,
                        instance_id=m.instance_id,
                        rack_id=m.rack_id,
                        member_epoch=m.member_epoch,
                        client_id=m.client_id,
                        client_host=m.client_host,
                        subscribed_topic_names=list(m.subscribed_topic_names),
                        subscribed_topic_regex=m.subscribed_topic_regex or "",
                        assignment=_assignment(m.assigned, names),
                        target_assignment=_assignment(group.target.get(m.member_id, {}), names),
                        member_type=MEMBER_TYPE_CLASSIC if m.classic is not None else MEMBER_TYPE_CONSUMER,
                    )
                    for m in group.members.values()
                ],
                authorized_operations=authorized_operations("group", include_ops),
            )
        )
    return ConsumerGroupDescribeResponse(throttle_time_ms=0, groups=out)


def _assignment(assignment: Mapping[uuid.UUID, Any], names: Mapping[uuid.UUID, str]) -> Any:
    # Topics deleted since (no name any more) are left out, as Kafka does.
    return Assignment(topic_partitions=[
        TopicPartitions(topic_id=t, topic_name=names[t], partitions=sorted(p))
        for t, p in sorted(assignment.items(), key=lambda i: names.get(i[0], ""))
        if p and t in names
    ])
