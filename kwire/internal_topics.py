"""The coordinators' internal compacted topics: creating, appending, reading.

__consumer_offsets (kwire/groups/loader.py) and __transaction_state
(kwire/transactions/runner.py) are created the same way, on the first
FindCoordinator that needs them (as Kafka does), written the same way, and
read the same way when a coordinator adopts a partition.

* The replication factor is the configured one (offsets.topic.replication.factor,
  transaction.state.log.replication.factor) capped to the live brokers, with a
  warning. Kafka instead answers COORDINATOR_NOT_AVAILABLE until enough
  brokers are up, which on a single node (both factors default to 3) means
  consumer groups and transactions never work and clients retry forever
  without saying why. A single kwire node can never reach 3 replicas, so the
  cap turns a silent outage into a log line; the price is that the topic
  keeps the smaller factor when brokers join later (reassigning it is for
  replication work).
* Any failure to create the topic, or partitions without a ready leader yet,
  is COORDINATOR_NOT_AVAILABLE, which clients retry.
* Records are appended only where this node leads the partition, committed
  before the coordinator goes on (this node is the only in-sync replica);
  storage errors become Kafka's error codes for the coordinator's answer.
* A partition is read from its log start to its end, batch by batch; a
  corrupt batch stops the load there, with an error in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import split_batches
from kwire_storage.errors import InvalidProducerEpochError, KafkaStorageError, RecordBatchTooLargeError
from kwire_storage.log import AppendOrigin, Log

from kwire.topic_admin import TopicRequest, create_topics

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1 << 20
CREATE_TIMEOUT_S = 10.0

T = TypeVar("T")


async def create_internal_topic(
    broker: Any, name: str, num_partitions: int, replication_setting: str, configs: Callable[[int], dict[str, str]]
) -> int:
    """Create internal topic `name` if it does not exist yet and wait until its
    partitions have leaders; NONE or COORDINATOR_NOT_AVAILABLE for FindCoordinator.
    `configs` gets the replication factor the topic is created with."""
    if broker.image.topic(name) is not None:
        return ErrorCode.NONE
    replication = broker.config[replication_setting]
    live = len(broker.image.unfenced_brokers())
    if replication > live:
        log.warning(
            "%s=%d but %d broker(s) are alive: creating %s with replication factor %d",
            replication_setting, replication, live, name, live,
        )
        replication = live
    request = TopicRequest(name, num_partitions=num_partitions, replication_factor=replication, configs=configs(replication))
    try:
        results = await asyncio.wait_for(create_topics(broker, [request]), CREATE_TIMEOUT_S)
    except asyncio.TimeoutError:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    error = results[0].error_code
    if error not in (ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS):
        log.warning("creating %s failed: %s", name, results[0].error_message)
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    topic = broker.image.topic(name)
    if topic is None or not broker.partitions_ready(topic):
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    return ErrorCode.NONE


def led_partition(broker: Any, topic_name: str, partition: int) -> tuple[int, int]:
    """(NONE, its leader epoch) when this node leads `topic_name`-`partition`;
    else (UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER, -1)."""
    topic = broker.image.topic(topic_name)
    state = topic.partition(partition) if topic is not None else None
    if state is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1
    if state.leader != broker.node_id:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER, -1
    return ErrorCode.NONE, state.leader_epoch


def append_batch(broker: Any, topic_name: str, partition: int, batch: bytes,
                 origin: AppendOrigin = AppendOrigin.CLIENT) -> tuple[int, int]:
    """Append `batch` to internal partition `topic_name`-`partition` as its
    leader; (Kafka's error code, the batch's first offset or -1)."""
    error, leader_epoch = led_partition(broker, topic_name, partition)
    if error != ErrorCode.NONE:
        return error, -1
    try:
        info = broker.partitions.append(topic_name, partition, batch, leader_epoch, origin=origin)
    except KeyError:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER, -1
    except RecordBatchTooLargeError:
        return ErrorCode.RECORD_LIST_TOO_LARGE, -1
    except InvalidProducerEpochError:
        return ErrorCode.INVALID_PRODUCER_EPOCH, -1
    except KafkaStorageError as e:
        log.error("append to %s-%d failed: %s", topic_name, partition, e)
        return ErrorCode.KAFKA_STORAGE_ERROR, -1
    return ErrorCode.NONE, info.first_offset


def read_partition(partition_log: Log, take: Callable[[Any, int], Iterable[T]]) -> list[T]:
    """What `take(batch, offset)` makes of every batch of a partition, in offset
    order; `offset` is where the read stands, so records below it (the start of
    a batch that begins before the log start) are to be skipped."""
    out: list[T] = []
    offset = partition_log.log_start_offset
    end = partition_log.log_end_offset
    while offset < end:
        data = partition_log.read_bytes(offset, READ_CHUNK_BYTES, max_offset=end)
        if not data:
            break
        try:
            for batch in split_batches(data):
                out.extend(take(batch, offset))
                offset = batch.next_offset
        except CorruptRecordError as e:
            log.error("%s: stops loading at offset %d: %s", partition_log, offset, e)
            break
    return out


async def run_every(interval_ms: int, work: Callable[[], Awaitable[Any]]) -> None:
    """A coordinator's periodic job (expiry, timeouts): a failure is logged, the next round still runs."""
    while True:
        await asyncio.sleep(interval_ms / 1000)
        try:
            await work()
        except Exception:
            log.exception("periodic coordinator task %s failed", getattr(work, "__qualname__", work))


async def cancel_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel a coordinator's tasks and wait for them; what they raise on the way out does not matter."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
