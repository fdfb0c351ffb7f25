"""Offsets committed inside transactions that have not ended yet.

TxnOffsetCommit writes a group's offsets to __consumer_offsets as a
transactional batch of the producer; they count only once the transaction
coordinator writes the COMMIT marker to that partition, and vanish with an
ABORT (Kafka's OffsetMetadataManager: pendingTransactionalOffsets, by
producer id, and openTransactions, by group and partition). Until then:

* OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for the
  partition, so a read_committed consumer does not start from an offset
  that may still move;
* an offset of that partition does not expire, and a group with any
  pending offset is not deleted by retention;
* a tombstone of the partition (OffsetDelete, DeleteGroups) drops the
  pending offsets too.

A producer's transaction may span groups on several __consumer_offsets
partitions; each partition's marker ends only its own groups' offsets.
"""

from __future__ import annotations

from collections.abc import Callable

from kwire.groups.records import OffsetAndMetadata

TopicPartition = tuple[str, int]


class TransactionalOffsets:
    def __init__(self) -> None:
        # producer id -> group id -> partition -> offset (the latest one written)
        self._by_producer: dict[int, dict[str, dict[TopicPartition, OffsetAndMetadata]]] = {}
        # group id -> partition -> producers with a pending offset there
        self._open: dict[str, dict[TopicPartition, set[int]]] = {}

    def add(self, producer_id: int, group_id: str, partition: TopicPartition, value: OffsetAndMetadata) -> None:
        self._by_producer.setdefault(producer_id, {}).setdefault(group_id, {})[partition] = value
        self._open.setdefault(group_id, {}).setdefault(partition, set()).add(producer_id)

    def is_pending(self, group_id: str, partition: TopicPartition) -> bool:
        return partition in self._open.get(group_id, ())

    def partitions(self, group_id: str) -> set[TopicPartition]:
        """The group's partitions with a pending offset."""
        return set(self._open.get(group_id, ()))

    def has_group(self, group_id: str) -> bool:
        return group_id in self._open

    def end(self, producer_id: int, owns: Callable[[str], bool]) -> dict[str, dict[TopicPartition, OffsetAndMetadata]]:
        """The transaction of `producer_id` ended for the groups `owns` accepts
        (those of one __consumer_offsets partition): forget and return their offsets."""
        groups = self._by_producer.get(producer_id)
        if not groups:
            return {}
        ended = {group_id: offsets for group_id, offsets in groups.items() if owns(group_id)}
        for group_id, offsets in ended.items():
            del groups[group_id]
            for partition in offsets:
                self._close(group_id, partition, producer_id)
        if not groups:
            del self._by_producer[producer_id]
        return ended

    def discard(self, group_id: str, partition: TopicPartition) -> None:
        """A tombstone of the partition: every producer's pending offset of it goes."""
        for producer_id in self._open.get(group_id, {}).get(partition, set()).copy():
            groups = self._by_producer[producer_id]
            del groups[group_id][partition]
            if not groups[group_id]:
                del groups[group_id]
            if not groups:
                del self._by_producer[producer_id]
            self._close(group_id, partition, producer_id)

    def _close(self, group_id: str, partition: TopicPartition, producer_id: int) -> None:
        partitions = self._open[group_id]
        producers = partitions[partition]
        producers.discard(producer_id)
        if not producers:
            del partitions[partition]
            if not partitions:
                del self._open[group_id]
