"""The partitions this broker hosts: their logs, kept in step with metadata.

`PartitionManager` is the broker's side of kwire_storage (Kafka's
ReplicaManager, reduced to one node so far): it opens the logs of every
partition the metadata image assigns to this node, deletes the logs of
deleted topics, applies topic config changes, appends on behalf of Produce
(moving the high watermark, which with one in-sync replica is the log end
offset) and wakes long-polling fetches. Transaction markers come through
`append_marker` (the transaction coordinator's WriteTxnMarkers, local on one
node), coordinators' own transactional batches through `append` with
origin COORDINATOR.

All calls come from the broker's event loop thread; kwire_storage's own
locks cover the cleaner thread.
"""

from __future__ import annotations

import logging
from typing import Any

from kwire_protocol.records.batch import RecordBatch
from kwire_raft.image import MetadataImage, TopicImage
from kwire_storage.config import LogConfig
from kwire_storage.log import AppendInfo, AppendOrigin, Log
from kwire_storage.manager import LogManager

from kwire.config import BrokerConfig
from kwire.delayed import Waiters
from kwire.topic_configs import BrokerLayers, effective_topic_defaults

log = logging.getLogger(__name__)


class PartitionManager:
    def __init__(self, config: BrokerConfig, node_id: int, log_manager: LogManager, waiters: Waiters) -> None:
        self.config = config
        self.node_id = node_id
        self.log_manager = log_manager
        self.waiters = waiters
        self._topic_configs: dict[str, dict[str, str]] = {}  # overrides the logs were opened with
        self._topic_defaults = config.topic_defaults()

    def log_config(self, topic: TopicImage) -> LogConfig:
        return LogConfig({**self._topic_defaults, **topic.configs})

    def get(self, topic: str, partition: int) -> Log | None:
        return self.log_manager.get_log(topic, partition)

    def apply_image(self, image: MetadataImage) -> None:
        """Open logs for partitions led here, delete logs of topics that are gone."""
        # Dynamic broker configs (AlterConfigs on a BROKER resource) change
        # the defaults of every topic that does not override them.
        defaults = effective_topic_defaults(BrokerLayers.of(self.config, image.broker_configs, self.node_id))
        defaults_changed = defaults != self._topic_defaults
        self._topic_defaults = defaults
        for name, topic in image.topics.items():
            overrides = dict(topic.configs)
            changed = defaults_changed or self._topic_configs.get(name) != overrides
            self._topic_configs[name] = overrides
            config = self.log_config(topic)
            for index, partition in topic.partitions.items():
                if self.node_id not in partition.replicas:
                    continue
                existing = self.log_manager.get_log(name, index)
                if existing is None:
                    existing = self.log_manager.get_or_create_log(name, index, config)
                elif changed:
                    existing.update_config(config)
                if partition.leader == self.node_id:
                    # A new leader epoch starts at the log end offset, before
                    # anything is written in it (Kafka's Partition.makeLeader),
                    # so OffsetForLeaderEpoch knows it. No-op when known.
                    existing.leader_epoch_cache.assign(partition.leader_epoch, existing.log_end_offset)
                if partition.leader == self.node_id and partition.isr == (self.node_id,):
                    # The only in-sync replica: everything in its log is
                    # committed, also what was appended before a restart
                    # after the last high-watermark checkpoint.
                    existing.maybe_increment_high_watermark(existing.log_end_offset)
        live = set(image.topics)
        for (name, index) in list(self.log_manager.logs):
            if name not in live:
                log.info("deleting log %s-%d: topic deleted", name, index)
                self._topic_configs.pop(name, None)
                self.log_manager.delete_log(name, index)
                self.waiters.notify((name, index))

    def append(self, topic: str, partition: int, records: Any, leader_epoch: int,
               origin: AppendOrigin = AppendOrigin.CLIENT, validated: list[RecordBatch] | None = None) -> AppendInfo:
        """Append as leader; raises KeyError when the partition is not hosted here, else what Log.append raises
        (`validated`: as Log.append's)."""
        partition_log = self._hosted(topic, partition)
        info = partition_log.append(records, leader_epoch=leader_epoch, origin=origin, validated=validated)
        self._committed(topic, partition, partition_log)
        return info

    def append_marker(self, topic: str, partition: int, producer_id: int, producer_epoch: int, coordinator_epoch: int,
                      commit: bool, leader_epoch: int) -> AppendInfo:
        """Write a transaction marker (Log.append_marker); KeyError when the partition is not hosted here."""
        partition_log = self._hosted(topic, partition)
        info = partition_log.append_marker(producer_id, producer_epoch, coordinator_epoch, commit, leader_epoch=leader_epoch)
        self._committed(topic, partition, partition_log)
        return info

    def _hosted(self, topic: str, partition: int) -> Log:
        partition_log = self.log_manager.get_log(topic, partition)
        if partition_log is None:
            raise KeyError((topic, partition))
        return partition_log

    def _committed(self, topic: str, partition: int, partition_log: Log) -> None:
        # One in-sync replica (this node): what is appended is committed.
        partition_log.update_high_watermark(partition_log.log_end_offset)
        self.waiters.notify((topic, partition))
