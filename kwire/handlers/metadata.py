"""Metadata (api key 3), versions 0-13.

Brokers, cluster id, controller, and topics with their partitions, read from
the current metadata image. Topics are named (or, v10+, given by id); a null
list (v1+) or an empty one at v0 means every topic.

Auto-creation: an unknown, valid topic name is created when the broker has
`auto.create.topics.enable` and the request allows it (v4+; always before).
Kafka answers that request with LEADER_NOT_AVAILABLE and lets the client
retry; kwire waits (bounded) for its single-node quorum to commit the
creation and answers with the new topic at once, which every client takes
as success without a retry round trip. If the creation does not complete in
time the answer is LEADER_NOT_AVAILABLE, as in Kafka.

Authorized operations (v8+) list every operation: kwire has no ACLs yet.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_raft.image import MetadataImage, TopicImage

from kwire.authorizer import authorized_operations
from kwire.handlers import handles
from kwire.topics import invalid_topic_reason, is_internal

MetadataResponse = messages.MetadataResponse
Topic = MetadataResponse.cls.MetadataResponseTopic
Partition = Topic.MetadataResponsePartition
Broker = MetadataResponse.cls.MetadataResponseBroker


@handles(ApiKey.METADATA)
async def metadata(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    image: MetadataImage = broker.image
    topics_requested = body.topics
    all_topics = topics_requested is None or (version == 0 and not topics_requested)
    include_ops = version >= 8 and body.include_topic_authorized_operations

    topics: list[Any] = []
    if all_topics:
        topics = [_topic(t, include_ops) for _, t in sorted(image.topics.items())]
    else:
        allow_auto_create = version < 4 or body.allow_auto_topic_creation
        to_create: list[str] = []
        # As KafkaApis: each topic once (a set), unknown ids first, then the
        # topics that exist, then the names that do not (request order within
        # each group here; Kafka's order among missing names is its set's).
        unknown_ids: list[Any] = []
        missing: list[Any] = []
        seen: set[Any] = set()
        for requested in topics_requested:
            name = requested.name
            if (name, requested.topic_id) in seen:
                continue
            seen.add((name, requested.topic_id))
            if name is None:
                topic = image.topic_by_id(requested.topic_id)
                if topic is None:
                    unknown_ids.append(Topic(error_code=ErrorCode.UNKNOWN_TOPIC_ID, name=None, topic_id=requested.topic_id))
                    continue
            else:
                topic = image.topic(name)
            if topic is not None:
                topics.append(_topic(topic, include_ops))
            elif invalid_topic_reason(name) is not None:
                missing.append(Topic(error_code=ErrorCode.INVALID_TOPIC_EXCEPTION, name=name, is_internal=False))
            elif allow_auto_create and broker.config["auto.create.topics.enable"]:
                to_create.append(name)
                missing.append(Topic(error_code=ErrorCode.LEADER_NOT_AVAILABLE, name=name))
            else:
                missing.append(Topic(error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name=name))
        topics = [*unknown_ids, *topics, *missing]
        if to_create:
            await broker.auto_create_topics(to_create)
            image = broker.image
            for i, entry in enumerate(topics):
                if entry.error_code == ErrorCode.LEADER_NOT_AVAILABLE:
                    created = image.topic(entry.name)
                    if created is not None and broker.partitions_ready(created):
                        topics[i] = _topic(created, include_ops)

    return MetadataResponse(
        throttle_time_ms=0,
        brokers=[Broker(node_id=b.node_id, host=b.host, port=b.port, rack=b.rack) for b in image.unfenced_brokers()],
        cluster_id=image.cluster_id,
        controller_id=image.controller_id,
        topics=topics,
        cluster_authorized_operations=authorized_operations("cluster", version <= 10 and getattr(body, "include_cluster_authorized_operations", False)),
    )


def _topic(topic: TopicImage, include_ops: bool) -> Any:
    return Topic(
        error_code=ErrorCode.NONE,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=is_internal(topic.name),
        partitions=[
            Partition(
                error_code=ErrorCode.NONE if p.leader >= 0 else ErrorCode.LEADER_NOT_AVAILABLE,
                partition_index=p.partition,
                leader_id=p.leader,
                leader_epoch=p.leader_epoch,
                replica_nodes=list(p.replicas),
                isr_nodes=list(p.isr),
                offline_replicas=[],
            )
            for _, p in sorted(topic.partitions.items())
        ],
        topic_authorized_operations=authorized_operations("topic", include_ops),
    )
