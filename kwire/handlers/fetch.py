"""Fetch (api key 1), versions 4-18.

Reads whole batches from each partition's log and sends them with sendfile
(the response carries file regions, not bytes). Rules, as Kafka's
ReplicaManager applies them:

- A fetch offset inside a batch returns that whole batch; the client skips
  the records before its offset. An offset outside [log start, log end]
  answers OFFSET_OUT_OF_RANGE.
- Consumers read up to the high watermark (read_uncommitted) or the last
  stable offset (read_committed: nothing of a transaction that is still
  open, nor anything after it). Every partition answers its LSO in
  `last_stable_offset`.
- read_committed answers carry `aborted_transactions`: (producer id, first
  offset) of every aborted transaction overlapping the returned batches
  (from the fetch offset to the offset after the last batch returned), from
  the segments' transaction indexes. The consumer drops those producers'
  transactional records from the first offset up to the abort marker, and
  never shows control records. read_uncommitted sees everything, markers
  included, and gets no list.
- `max_bytes` bounds the response and `partition_max_bytes` each partition,
  except that the first batch of the first non-empty partition is returned
  whole even when larger (so a consumer can always make progress).
- Long poll: while fewer than `min_bytes` are available the fetch waits up
  to `max_wait_ms`, woken by appends to the partitions it reads. A failed
  read answers at once; unknown partitions do not (Kafka sets them aside
  before reading), unless there is nothing else to read.
- Fetch sessions (KIP-227, v7+): see kwire/fetch_sessions.py.
- v9+: `current_leader_epoch` older than the partition's answers
  FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
- v13+ names topics by id; an unknown id answers UNKNOWN_TOPIC_ID.

Not implemented yet: follower fetches (replica_id >= 0; replication is a
later issue), preferred read replicas (KIP-392: always -1).
"""

from __future__ import annotations

import time
from typing import Any

from kwire_protocol import messages
from kwire_protocol.codec import FileRegion
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_protocol.primitives import ZERO_UUID
from kwire_storage.errors import OffsetOutOfRangeError

from kwire.fetch_sessions import FetchPartition, PartitionResult
from kwire.handlers import handles

FetchResponse = messages.FetchResponse
TopicResponse = FetchResponse.cls.FetchableTopicResponse
PartitionData = TopicResponse.PartitionData
AbortedTransaction = PartitionData.AbortedTransaction

READ_COMMITTED = 1


@handles(ApiKey.FETCH)
async def fetch(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    image = broker.image
    by_id = version >= 13
    unknown_ids: list[Any] = []

    partitions: list[FetchPartition] = []
    for topic in body.topics:
        name = topic.topic
        if by_id:
            known = image.topic_by_id(topic.topic_id)
            if known is None:
                unknown_ids.append(topic)
                continue
            name = known.name
        for p in topic.partitions:
            partitions.append(FetchPartition(name, p.partition, p.fetch_offset, p.partition_max_bytes, p.current_leader_epoch, p.log_start_offset))
    forgotten = []
    for topic in body.forgotten_topics_data:
        name = topic.topic
        if by_id:
            known = image.topic_by_id(topic.topic_id)
            if known is None:
                continue
            name = known.name
        forgotten.extend((name, index) for index in topic.partitions)

    context = broker.fetch_sessions.new_context(body.session_id, body.session_epoch, partitions, forgotten)
    if context.error != ErrorCode.NONE:
        return FetchResponse(throttle_time_ms=0, error_code=context.error, session_id=0, responses=[])

    isolation = body.isolation_level
    deadline = time.monotonic() + body.max_wait_ms / 1000
    while True:
        results = _read(broker, context.partitions, body.max_bytes, isolation)
        available = sum(r.records_size for r in results)
        remaining = deadline - time.monotonic()
        # Unknown partitions are set aside before reading (KafkaApis): they
        # neither end the wait nor, alone, start one. A failed read ends it.
        readable = [r for r in results if r.error_code != ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
        if not readable or available >= body.min_bytes or remaining <= 0 or any(r.error_code for r in readable):
            break
        if not await broker.waiters.wait_any([r.key for r in readable], remaining):
            results = _read(broker, context.partitions, body.max_bytes, isolation)
            break

    image = broker.image
    responses: list[Any] = []
    by_topic: dict[str, Any] = {}
    for result in context.response_partitions(results):
        entry = by_topic.get(result.topic)
        if entry is None:
            topic_image = image.topic(result.topic)
            entry = TopicResponse(topic=result.topic, topic_id=topic_image.topic_id if topic_image else ZERO_UUID, partitions=[])
            by_topic[result.topic] = entry
            responses.append(entry)
        entry.partitions.append(
            PartitionData(
                partition_index=result.partition,
                error_code=result.error_code,
                high_watermark=result.high_watermark,
                last_stable_offset=result.last_stable_offset,
                log_start_offset=result.log_start_offset,
                aborted_transactions=_aborted_transactions(result, isolation),
                preferred_read_replica=-1,
                records=result.data,
            )
        )
    for topic in unknown_ids:
        responses.append(
            TopicResponse(
                topic="",
                topic_id=topic.topic_id,
                partitions=[PartitionData(partition_index=p.partition, error_code=ErrorCode.UNKNOWN_TOPIC_ID, high_watermark=-1,
                                          last_stable_offset=-1, log_start_offset=-1, aborted_transactions=[], records=b"")
                            for p in topic.partitions],
            )
        )
    return FetchResponse(throttle_time_ms=0, error_code=ErrorCode.NONE, session_id=context.session_id, responses=responses)


def _aborted_transactions(result: PartitionResult, isolation: int) -> list[Any] | None:
    """As Kafka fills the field: partitions refused up front (unknown topic or
    partition, KafkaApis) carry an empty list; failed reads (ReplicaManager)
    none; successful reads the aborted transactions under read_committed
    (maybe none: an empty list), none under read_uncommitted."""
    if result.error_code in (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_ID):
        return []
    if result.error_code != ErrorCode.NONE or isolation != READ_COMMITTED:
        return None
    return [AbortedTransaction(producer_id=producer_id, first_offset=first_offset)
            for producer_id, first_offset in result.aborted_transactions]


def _read(broker: Any, partitions: list[FetchPartition], max_bytes: int, isolation: int) -> list[PartitionResult]:
    image = broker.image
    results = []
    budget = max_bytes
    min_one_message = True
    for p in partitions:
        result = PartitionResult(p.topic, p.partition, data=b"")
        results.append(result)
        partition = image.partition(p.topic, p.partition)
        if partition is None:
            result.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            continue
        if partition.leader != broker.node_id:
            result.error_code = ErrorCode.NOT_LEADER_OR_FOLLOWER
            continue
        if p.current_leader_epoch >= 0 and p.current_leader_epoch != partition.leader_epoch:
            result.error_code = ErrorCode.FENCED_LEADER_EPOCH if p.current_leader_epoch < partition.leader_epoch else ErrorCode.UNKNOWN_LEADER_EPOCH
            continue
        log = broker.partitions.get(p.topic, p.partition)
        if log is None:
            result.error_code = ErrorCode.NOT_LEADER_OR_FOLLOWER
            continue
        result.high_watermark = log.high_watermark
        result.last_stable_offset = log.last_stable_offset
        result.log_start_offset = log.log_start_offset
        if budget <= 0 and not min_one_message:
            continue
        limit = min(p.partition_max_bytes, budget)
        upper = result.last_stable_offset if isolation == READ_COMMITTED else result.high_watermark
        try:
            chunk = log.read(p.fetch_offset, limit, max_offset=upper, min_one_message=min_one_message)
        except OffsetOutOfRangeError:
            # Kafka's ReplicaManager answers a failed read with unknown offsets.
            result.error_code = ErrorCode.OFFSET_OUT_OF_RANGE
            result.high_watermark = result.last_stable_offset = result.log_start_offset = -1
            continue
        if chunk.size:
            result.records_size = chunk.size
            result.data = FileRegion(chunk.handle, chunk.position, chunk.size)
            budget -= chunk.size
            min_one_message = False
            if isolation == READ_COMMITTED:
                result.aborted_transactions = log.aborted_transactions(p.fetch_offset, min(upper, log.offset_after(chunk)))
    return results
