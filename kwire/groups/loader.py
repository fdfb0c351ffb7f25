"""The coordinator inside the broker: __consumer_offsets, loading, retention.

`GroupCoordinatorRunner` connects the `GroupCoordinator` (and the KIP-848
`ConsumerGroupCoordinator` attached to it, which reads topic ids and
partition counts from the metadata image) to the broker:

* Its records go to the partitions of __consumer_offsets through
  `PartitionOffsetsLog` (one batch per write, appended and committed before
  the answer, since this node is the only in-sync replica).
* The topic is created on the first FindCoordinator for a group (as Kafka
  does) with offsets.topic.num.partitions partitions, cleanup.policy=compact
  and segment.bytes=offsets.topic.segment.bytes. The replication factor is
  offsets.topic.replication.factor capped to the live brokers, for the
  reason given in kwire/internal_topics.py.
* TxnOffsetCommit offsets go as one transactional batch of the producer
  (its id and epoch, base sequence -1, appended with the coordinator's
  origin: epoch checked, no sequence); the transaction coordinator calls
  `on_transaction_marker` once its marker is in a __consumer_offsets
  partition, and the pending offsets are committed or dropped.
* At start, each partition led here is read from its log start to its end
  and replayed (`load_partition`) in a worker thread's read and a loop-side
  replay; until then its groups answer COORDINATOR_LOAD_IN_PROGRESS.
  Records of transactional batches are replayed as pending offsets of their
  producer; control batches become transaction markers (their
  EndTransactionMarker key says COMMIT or ABORT), never records.
* Every offsets.retention.check.interval.ms, expired offsets are removed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.control import ABORT, COMMIT, control_type
from kwire_protocol.records.record import NewRecord
from kwire_storage.log import AppendOrigin, Log

from kwire import internal_topics
from kwire.groups import records as rec
from kwire.groups.consumer_coordinator import ConsumerGroupConfig, ConsumerGroupCoordinator
from kwire.groups.coordinator import GroupConfig, GroupCoordinator
from kwire.groups.timers import LoopTimers
from kwire.topics import GROUP_METADATA_TOPIC

log = logging.getLogger(__name__)


class PartitionOffsetsLog:
    def __init__(self, broker: Any) -> None:
        self.broker = broker

    async def append(self, partition: int, records: list[tuple[bytes, bytes | None]],
                     producer: tuple[int, int] | None = None) -> tuple[int, int]:
        now = self.broker.clock_ms()
        new_records = [NewRecord(key, value, timestamp=now) for key, value in records]
        if producer is None:
            batch = build_batch(new_records)
        else:
            producer_id, producer_epoch = producer
            batch = build_batch(new_records, producer_id=producer_id, producer_epoch=producer_epoch, is_transactional=True)
        return internal_topics.append_batch(self.broker, GROUP_METADATA_TOPIC, partition, batch, AppendOrigin.COORDINATOR)


def read_partition(partition_log: Log) -> list[rec.LogRecord | rec.TransactionMarker]:
    """Every record and transaction marker of a partition, in offset order."""
    return internal_topics.read_partition(partition_log, _records_and_markers)


def _records_and_markers(batch: Any, offset: int) -> list[rec.LogRecord | rec.TransactionMarker]:
    if batch.is_control:
        marker = _transaction_marker(batch)
        return [marker] if marker is not None and batch.base_offset >= offset else []
    producer_id = batch.producer_id if batch.is_transactional else -1
    return [rec.LogRecord(r.offset, producer_id, r.key, r.value) for r in batch.records() if r.offset >= offset]


def _transaction_marker(batch: Any) -> rec.TransactionMarker | None:
    """The EndTransactionMarker of a control batch (None for other control records,
    one the cleaner emptied, or one that does not decode)."""
    if batch.records_count == 0:
        return None
    try:
        kind = control_type(batch)
    except CorruptRecordError:
        return None
    return rec.TransactionMarker(batch.producer_id, kind == COMMIT) if kind in (ABORT, COMMIT) else None


class GroupCoordinatorRunner:
    def __init__(self, broker: Any) -> None:
        self.broker = broker
        config = broker.config
        self.coordinator = GroupCoordinator(GroupConfig.from_broker_config(config), PartitionOffsetsLog(broker), broker.clock_ms, LoopTimers())
        self.consumer = ConsumerGroupCoordinator(self.coordinator, ConsumerGroupConfig.from_broker_config(config), self._topics)
        self._topics_image: Any = None
        self._topics_view: dict[str, tuple[uuid.UUID, int]] = {}
        self.retention_check_ms = config["offsets.retention.check.interval.ms"]
        self.segment_bytes = config["offsets.topic.segment.bytes"]
        self._tasks: list[asyncio.Task[Any]] = []
        self._create_lock = asyncio.Lock()

    def _topics(self) -> dict[str, tuple[uuid.UUID, int]]:
        """Topic name -> (id, partition count) for consumer groups, rebuilt only when the metadata image changes."""
        image = self.broker.image
        if image is not self._topics_image:
            self._topics_view = {name: (t.topic_id, t.num_partitions) for name, t in image.topics.items()}
            self._topics_image = image
        return self._topics_view

    def start(self) -> None:
        """Adopt (load) the partitions led here, in the background; expire offsets periodically.
        The partitions are claimed at once, so requests answer COORDINATOR_LOAD_IN_PROGRESS
        (not NOT_COORDINATOR) until they are loaded."""
        claimed = self._claim()
        self._tasks.append(asyncio.create_task(self._load(claimed)))
        self._tasks.append(asyncio.create_task(internal_topics.run_every(self.retention_check_ms, self.coordinator.expire_offsets)))

    async def stop(self) -> None:
        await internal_topics.cancel_tasks(self._tasks)
        self.coordinator.shutdown()

    def on_transaction_marker(self, partition: int, producer_id: int, commit: bool) -> None:
        """The transaction coordinator wrote `producer_id`'s marker to
        __consumer_offsets-`partition`: its pending offsets there are committed or dropped."""
        self.coordinator.complete_transaction(partition, producer_id, commit)

    async def adopt_partitions(self) -> None:
        """Load every __consumer_offsets partition led here that is not loaded yet."""
        await self._load(self._claim())

    def _claim(self) -> list[int]:
        broker = self.broker
        topic = broker.image.topic(GROUP_METADATA_TOPIC)
        if topic is None:
            return []
        new = [
            index
            for index, p in sorted(topic.partitions.items())
            if p.leader == broker.node_id and index not in self.coordinator.partitions
        ]
        for index in new:
            self.coordinator.begin_loading(index)
        return new

    async def _load(self, new: list[int]) -> None:
        broker = self.broker
        loop = asyncio.get_running_loop()
        for index in new:
            partition_log = broker.partitions.get(GROUP_METADATA_TOPIC, index)
            records = await loop.run_in_executor(None, read_partition, partition_log) if partition_log is not None else []
            self.coordinator.load_partition(index, records)
        if new:
            log.info("group coordinator: loaded %d partition(s) of %s, %d group(s)", len(new), GROUP_METADATA_TOPIC, len(self.coordinator.groups))

    async def ensure_offsets_topic(self) -> int:
        """Create __consumer_offsets if needed and load it; an error code for FindCoordinator."""
        broker = self.broker
        async with self._create_lock:
            error = await internal_topics.create_internal_topic(
                broker, GROUP_METADATA_TOPIC, broker.config["offsets.topic.num.partitions"], "offsets.topic.replication.factor",
                lambda _replication: {"cleanup.policy": "compact", "compression.type": "producer", "segment.bytes": str(self.segment_bytes)},
            )
            if error != ErrorCode.NONE:
                return error
            topic = broker.image.topic(GROUP_METADATA_TOPIC)
            if any(p.leader == broker.node_id and i not in self.coordinator.partitions for i, p in topic.partitions.items()):
                await self.adopt_partitions()
        return ErrorCode.NONE

