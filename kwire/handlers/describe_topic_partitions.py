"""DescribeTopicPartitions (api key 75), version 0 (KIP-966).

Topics with their partitions (leader, leader epoch, replicas, ISR, eligible
leader replicas, last known ELR, offline replicas), paginated, as Kafka's
DescribeTopicPartitionsRequestHandler and KRaftMetadataCache.describeTopicResponse
answer:

- An empty topic list means every topic (internal ones included); then
  topics that do not exist are simply absent. Named topics that do not exist
  get UNKNOWN_TOPIC_OR_PARTITION, or INVALID_TOPIC_EXCEPTION for an illegal
  name, with the zero topic id and no partitions. Duplicates collapse.
- Topics are answered in name order, from the cursor's topic on (Java
  String order); the cursor's partition index applies to its topic only.
- At most `response_partition_limit` partitions, clamped to 1..2000 (Kafka's
  max.request.partition.size.limit default). When a topic does not fit, the
  answer ends with it and `next_cursor` points at its first partition left
  out; when the limit is used up exactly, `next_cursor` points at the next
  topic's partition 0, even when that topic turns out not to exist.
- A cursor whose topic is not among the named topics, or with a negative
  partition index, is INVALID_REQUEST; Kafka answers that with every named
  topic carrying the error (request order, duplicates kept) and no
  partitions, authorized operations or cursor. Kafka also fails this way,
  with UNKNOWN_SERVER_ERROR, when the empty topic name is asked for without
  a cursor (a NullPointerException in its handler); kwire answers the same.
- Partition errors: LEADER_NOT_AVAILABLE when the leader is not an alive
  broker. Offline replicas are those whose broker is unknown or fenced.
- Topic authorized operations are always filled in (the request has no
  flag), also for topics answered with an error; kwire has no ACLs, so
  every topic operation is listed (kwire/authorizer.py).
- ELR (KIP-966) is not tracked by kwire: eligible and last known ELR are
  empty lists, which is also what Kafka answers while ELR is disabled.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_raft.image import ZERO_UUID, MetadataImage, TopicImage

from kwire.authorizer import authorized_operations
from kwire.handlers import handles
from kwire.topics import invalid_topic_reason, is_internal

DescribeTopicPartitionsResponse = messages.DescribeTopicPartitionsResponse
Topic = DescribeTopicPartitionsResponse.cls.DescribeTopicPartitionsResponseTopic
Partition = Topic.DescribeTopicPartitionsResponsePartition
Cursor = DescribeTopicPartitionsResponse.cls.Cursor

MAX_REQUEST_PARTITION_SIZE_LIMIT = 2000  # max.request.partition.size.limit
NO_LEADER_ID = -1


def _java_order(name: str) -> bytes:
    # Java's String.compareTo compares UTF-16 code units, which differs from
    # Python's code point order for characters beyond the BMP.
    return name.encode("utf-16-be", "surrogatepass")


@handles(ApiKey.DESCRIBE_TOPIC_PARTITIONS)
def describe_topic_partitions(broker: Any, request: Any) -> Any:
    body = request.body
    image: MetadataImage = broker.image
    cursor = body.cursor
    cursor_topic = "" if cursor is None else cursor.topic_name
    fetch_all = not body.topics
    start = _java_order(cursor_topic)

    if fetch_all:
        names = {name for name in image.topics if _java_order(name) >= start}
    else:
        names = {t.name for t in body.topics if _java_order(t.name) >= start}
        if cursor is not None and cursor.topic_name not in names:
            return _error(body, ErrorCode.INVALID_REQUEST)
    if cursor is not None and cursor.partition_index < 0:
        return _error(body, ErrorCode.INVALID_REQUEST)
    if cursor is None and "" in names:
        return _error(body, ErrorCode.UNKNOWN_SERVER_ERROR)  # see the module docstring

    remaining = max(min(MAX_REQUEST_PARTITION_SIZE_LIMIT, body.response_partition_limit), 1)
    topics: list[Any] = []
    next_cursor = None
    for name in sorted(names, key=_java_order):
        if remaining == 0:
            next_cursor = Cursor(topic_name=name, partition_index=0)
            break
        topic = image.topic(name)
        if topic is not None and any(i not in topic.partitions for i in range(topic.num_partitions)):
            topic = None  # a gap in the partition indexes: Kafka answers as for an unknown topic
        if topic is None:
            if not fetch_all:
                error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if invalid_topic_reason(name) is None else ErrorCode.INVALID_TOPIC_EXCEPTION
                topics.append(Topic(error_code=error, name=name, topic_id=ZERO_UUID, is_internal=is_internal(name), partitions=[],
                                    topic_authorized_operations=authorized_operations("topic")))
            continue
        first = cursor.partition_index if cursor is not None and name == cursor_topic else 0
        end = min(topic.num_partitions, first + remaining)
        partitions = [_partition(image, topic, index) for index in range(first, end)]
        topics.append(Topic(error_code=ErrorCode.NONE, name=name, topic_id=topic.topic_id, is_internal=is_internal(name),
                            partitions=partitions, topic_authorized_operations=authorized_operations("topic")))
        if end < topic.num_partitions:
            next_cursor = Cursor(topic_name=name, partition_index=end)
            break
        remaining -= len(partitions)
    return DescribeTopicPartitionsResponse(throttle_time_ms=0, topics=topics, next_cursor=next_cursor)


def _partition(image: MetadataImage, topic: TopicImage, index: int) -> Any:
    p = topic.partitions[index]
    leader = image.broker(p.leader)
    leader_alive = leader is not None and not leader.fenced
    offline = [r for r in p.replicas if (b := image.broker(r)) is None or b.fenced]
    return Partition(
        # Kafka also checks for REPLICA_NOT_AVAILABLE, but against replica
        # lists it does not filter here, so that check never fires.
        error_code=ErrorCode.NONE if leader_alive else ErrorCode.LEADER_NOT_AVAILABLE,
        partition_index=index,
        leader_id=p.leader if leader_alive else NO_LEADER_ID,
        leader_epoch=p.leader_epoch,
        replica_nodes=list(p.replicas),
        isr_nodes=list(p.isr),
        eligible_leader_replicas=[],
        last_known_elr=[],
        offline_replicas=offline,
    )


def _error(body: Any, error: int) -> Any:
    # Kafka's DescribeTopicPartitionsRequest.getErrorResponse.
    return DescribeTopicPartitionsResponse(
        throttle_time_ms=0,
        topics=[Topic(error_code=error, name=t.name, topic_id=ZERO_UUID, is_internal=False, partitions=[]) for t in body.topics],
        next_cursor=None,
    )
