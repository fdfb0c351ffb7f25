"""The transaction coordinator inside the broker: __transaction_state,
loading, markers, timeouts.

`TransactionCoordinatorRunner` connects the `TransactionCoordinator` to the
broker:

* __transaction_state is created on the first FindCoordinator for a
  transactional id (as Kafka does) with transaction.state.log.num.partitions
  partitions, cleanup.policy=compact, compression.type=uncompressed,
  segment.bytes=transaction.state.log.segment.bytes and
  min.insync.replicas=transaction.state.log.min.isr. Its replication factor
  is capped to the live brokers, for the reason given in
  kwire/internal_topics.py.
* A transactional id's coordinator is the leader of its partition
  (abs(String.hashCode) % partitions); the partition's leader epoch is the
  coordinator epoch written into markers.
* Records go to __transaction_state as one uncompressed batch per write,
  committed before the coordinator goes on (this node is the only in-sync
  replica).
* At start, each partition led here is read from its log start to its end
  in a worker thread and replayed on the loop; until then its transactional
  ids answer COORDINATOR_LOAD_IN_PROGRESS. Transactions found in
  PrepareCommit/PrepareAbort get their markers (again) and complete.
* `write_marker` is the one marker writer, shared with WriteTxnMarkers: a
  control batch through PartitionManager.append_marker; after a marker in a
  __consumer_offsets partition the group coordinator commits or drops the
  producer's pending transactional offsets.
* Every transaction.abort.timed.out.transaction.cleanup.interval.ms,
  transactions older than their timeout are aborted; every
  transaction.remove.expired.transaction.cleanup.interval.ms, idle
  transactional ids expire.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord
from kwire_storage.errors import InvalidProducerEpochError, KafkaStorageError, TransactionCoordinatorFencedError
from kwire_storage.log import Log

from kwire import internal_topics
from kwire.topics import GROUP_METADATA_TOPIC, TRANSACTION_STATE_TOPIC
from kwire.transactions.coordinator import TransactionConfig, TransactionCoordinator
from kwire.transactions.metadata import TopicPartition

log = logging.getLogger(__name__)



def write_marker(broker: Any, partition: TopicPartition, producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool) -> int:
    """Write one transaction marker here; Kafka's error code for it.
    UNKNOWN_TOPIC_OR_PARTITION: the partition does not exist (deleted topic)."""
    topic_name, index = partition
    error, leader_epoch = internal_topics.led_partition(broker, topic_name, index)
    if error != ErrorCode.NONE:
        return error
    try:
        broker.partitions.append_marker(topic_name, index, producer_id, producer_epoch, coordinator_epoch, commit, leader_epoch)
    except KeyError:
        return ErrorCode.NOT_LEADER_OR_FOLLOWER
    except InvalidProducerEpochError:
        return ErrorCode.INVALID_PRODUCER_EPOCH
    except TransactionCoordinatorFencedError:
        return ErrorCode.TRANSACTION_COORDINATOR_FENCED
    except KafkaStorageError as e:
        log.error("marker to %s-%d failed: %s", topic_name, index, e)
        return ErrorCode.KAFKA_STORAGE_ERROR
    if topic_name == GROUP_METADATA_TOPIC and broker.group_coordinator is not None:
        broker.group_coordinator.on_transaction_marker(index, producer_id, commit)
    return ErrorCode.NONE


class BrokerMarkers:
    def __init__(self, broker: Any) -> None:
        self.broker = broker

    def write(self, partition: TopicPartition, producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool) -> int:
        return write_marker(self.broker, partition, producer_id, producer_epoch, coordinator_epoch, commit)


class TransactionStateLog:
    def __init__(self, broker: Any) -> None:
        self.broker = broker

    async def append(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> int:
        now = self.broker.clock_ms()
        batch = build_batch([NewRecord(key, value, timestamp=now) for key, value in records])
        error, _offset = internal_topics.append_batch(self.broker, TRANSACTION_STATE_TOPIC, partition, batch)
        return error


def read_partition(partition_log: Log) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a __transaction_state partition, in offset order."""
    return internal_topics.read_partition(partition_log, _key_values)


def _key_values(batch: Any, offset: int) -> list[tuple[bytes | None, bytes | None]]:
    if batch.is_control:
        return []
    return [(r.key, r.value) for r in batch.records() if r.offset >= offset]


class TransactionCoordinatorRunner:
    def __init__(self, broker: Any) -> None:
        self.broker = broker
        config = broker.config
        self.coordinator = TransactionCoordinator(TransactionConfig.from_broker_config(config), TransactionStateLog(broker),
                                                  BrokerMarkers(broker), broker.producer_ids, broker.clock_ms)
        self.abort_interval_ms = config["transaction.abort.timed.out.transaction.cleanup.interval.ms"]
        self.expire_interval_ms = config["transaction.remove.expired.transaction.cleanup.interval.ms"]
        self._tasks: list[asyncio.Task[Any]] = []
        self._create_lock = asyncio.Lock()

    def start(self) -> None:
        claimed = self._claim()
        self._tasks.append(asyncio.create_task(self._load(claimed)))
        self._tasks.append(asyncio.create_task(internal_topics.run_every(self.abort_interval_ms, self.coordinator.abort_timed_out_transactions)))
        self._tasks.append(asyncio.create_task(internal_topics.run_every(self.expire_interval_ms, self.coordinator.expire_transactional_ids)))

    async def stop(self) -> None:
        await internal_topics.cancel_tasks(self._tasks)
        self.coordinator.shutdown()

    def _claim(self) -> list[int]:
        broker = self.broker
        topic = broker.image.topic(TRANSACTION_STATE_TOPIC)
        if topic is None:
            return []
        self.coordinator.num_partitions = len(topic.partitions)
        new = [index for index, p in sorted(topic.partitions.items())
               if p.leader == broker.node_id and index not in self.coordinator.partitions]
        for index in new:
            self.coordinator.begin_loading(index, topic.partitions[index].leader_epoch)
        return new

    async def _load(self, new: list[int]) -> None:
        loop = asyncio.get_running_loop()
        for index in new:
            partition_log = self.broker.partitions.get(TRANSACTION_STATE_TOPIC, index)
            pairs = await loop.run_in_executor(None, read_partition, partition_log) if partition_log is not None else []
            self.coordinator.load_partition(index, pairs)
        if new:
            log.info("transaction coordinator: loaded %d partition(s) of %s, %d transactional id(s)",
                     len(new), TRANSACTION_STATE_TOPIC, len(self.coordinator.transactions))

    async def find_coordinator(self, transactional_id: str) -> tuple[int, int]:
        """(error, node id) for FindCoordinator key type 1."""
        error = await self.ensure_state_topic()
        if error != ErrorCode.NONE:
            return error, -1
        topic = self.broker.image.topic(TRANSACTION_STATE_TOPIC)
        state = topic.partition(self.coordinator.partition_for(transactional_id)) if topic is not None else None
        if state is None or state.leader < 0:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE, -1
        return ErrorCode.NONE, state.leader

    async def ensure_state_topic(self) -> int:
        """Create __transaction_state if needed and load what is led here."""
        broker = self.broker
        config = broker.config

        def configs(replication: int) -> dict[str, str]:
            return {
                "cleanup.policy": "compact",
                "compression.type": "uncompressed",
                "min.insync.replicas": str(min(config["transaction.state.log.min.isr"], replication)),
                "segment.bytes": str(config["transaction.state.log.segment.bytes"]),
                "unclean.leader.election.enable": "false",
            }

        async with self._create_lock:
            error = await internal_topics.create_internal_topic(
                broker, TRANSACTION_STATE_TOPIC, config["transaction.state.log.num.partitions"],
                "transaction.state.log.replication.factor", configs,
            )
            if error != ErrorCode.NONE:
                return error
            topic = broker.image.topic(TRANSACTION_STATE_TOPIC)
            if any(p.leader == broker.node_id and i not in self.coordinator.partitions for i, p in topic.partitions.items()):
                await self._load(self._claim())
        return ErrorCode.NONE

