"""ConsumerGroupHeartbeat (api key 68), versions 0-1.

The KIP-848 consumer group protocol: a member joins (epoch 0), heartbeats
with its epoch and what it owns, and gets its server-side assignment; it
leaves with epoch -1 (a static member with -2, keeping its partitions for
its return). The state machine is kwire/groups/consumer_coordinator.py.

v1 (KIP-1082): the client names itself (MemberId must be set, "MemberId
can't be empty."); v0: a member joining without an id gets one from the
coordinator. v1 adds SubscribedTopicRegex (RE2/J syntax in Kafka; kwire
uses Python's re and refuses lookarounds and backreferences, which RE2/J
lacks).

Differences from Kafka 4.4: the target assignment is computed at once (Kafka
4.4 batches it, group.consumer.assignment.interval.ms, 1 s) and regexes are
resolved on each heartbeat (Kafka resolves them in the background), so
members converge sooner; classic and consumer members never share a group
(Kafka's online migration, group.consumer.migration.policy, converts only
empty groups here).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.connection import CLIENT_HOST
from kwire.groups.consumer_coordinator import HeartbeatRequest
from kwire.handlers import handles

ConsumerGroupHeartbeatResponse = messages.ConsumerGroupHeartbeatResponse
Assignment = ConsumerGroupHeartbeatResponse.cls.Assignment
TopicPartitions = Assignment.TopicPartitions


@handles(ApiKey.CONSUMER_GROUP_HEARTBEAT)
async def consumer_group_heartbeat(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    result = await broker.group_coordinator.consumer.heartbeat(
        HeartbeatRequest(
            group_id=body.group_id,
            member_id=body.member_id,
            member_epoch=body.member_epoch,
            instance_id=body.instance_id,
            rack_id=body.rack_id,
            rebalance_timeout_ms=body.rebalance_timeout_ms,
            subscribed_topic_names=list(body.subscribed_topic_names) if body.subscribed_topic_names is not None else None,
            subscribed_topic_regex=body.subscribed_topic_regex if version >= 1 else None,
            server_assignor=body.server_assignor,
            topic_partitions=[(tp.topic_id, list(tp.partitions)) for tp in body.topic_partitions] if body.topic_partitions is not None else None,
            client_id=request.header.client_id or "",
            client_host=CLIENT_HOST.get(),
            version=version,
        )
    )
    if result.error != ErrorCode.NONE:
        return ConsumerGroupHeartbeatResponse(throttle_time_ms=0, error_code=result.error, error_message=result.message,
                                              member_id=None, member_epoch=0, heartbeat_interval_ms=0, assignment=None)
    assignment = None
    if result.assignment is not None:
        assignment = Assignment(topic_partitions=[TopicPartitions(topic_id=t, partitions=p) for t, p in result.assignment.items()])
    return ConsumerGroupHeartbeatResponse(
        throttle_time_ms=0,
        error_code=ErrorCode.NONE,
        error_message=None,
        member_id=result.member_id,
        member_epoch=result.member_epoch,
        heartbeat_interval_ms=result.heartbeat_interval_ms,
        assignment=assignment,
    )
