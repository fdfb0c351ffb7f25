"""MetadataQuorum with one voter: readiness, futures, subscribers, concurrency, restarts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

import pytest

from kwire_raft import (ConfigChange, LeaderChange, MetadataImage, MetadataQuorum, NewPartitions, NewTopic,
                        QuorumError, QuorumStoppedError, errors, parse_voters)
from kwire_raft.persistence import read_meta_properties

from .helpers import wait_for

Open = Callable[..., MetadataQuorum]


def ok(future: Future[Any]) -> Any:
    return future.result(timeout=5)


def setup_topics(q: MetadataQuorum) -> None:
    ok(q.register_broker(1, "127.0.0.1", 9092))
    results = ok(q.create_topics([NewTopic("a", [[1], [1]], {"retention.ms": "1"}), NewTopic("b", [[1]])]))
    assert [r.error_code for r in results] == [0, 0]


def test_single_voter_is_ready_fast_and_listens_nowhere(open_quorum: Open) -> None:
    start = time.monotonic()
    q = open_quorum()
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, elapsed  # typically 25-30 ms: election timeout 20-25 ms
    assert q.is_leader and q.image.controller_id == 1
    assert q.status()["partner_nodes_count"] == 0
    assert len(q.image.cluster_id) == 22 and not q.image.cluster_id.startswith("-")


def test_commands_and_results(open_quorum: Open) -> None:
    q = open_quorum()
    assert ok(q.register_broker(1, "127.0.0.1", 9092)) == 1
    [created] = ok(q.create_topics([NewTopic("a", [[1]])]))
    assert created.error_code == 0 and isinstance(created.topic_id, uuid.UUID)
    assert q.image.topic("a").topic_id == created.topic_id  # visible once the future is done
    [dup] = ok(q.create_topics([NewTopic("a", [[1]])]))
    assert dup.error_code == errors.TOPIC_ALREADY_EXISTS
    [grown] = ok(q.create_partitions([NewPartitions("a", 2, [[1]])]))
    [shrunk] = ok(q.create_partitions([NewPartitions("a", 1, [])]))
    assert (grown.error_code, shrunk.error_code) == (0, errors.INVALID_PARTITIONS)
    assert [r.error_code for r in ok(q.alter_topic_configs([ConfigChange("a", {"k": "v"})]))] == [0]
    assert [r.error_code for r in ok(q.alter_broker_configs([ConfigChange("1", {"k": "v"})]))] == [0]
    [elected] = ok(q.set_partition_leaders([LeaderChange("a", 0, 1)]))
    assert (elected.error_code, elected.leader_epoch) == (0, 1)
    assert ok(q.allocate_producer_ids(10)) == 0 and ok(q.allocate_producer_ids(10)) == 10
    deleted, unknown = ok(q.delete_topics(["a", "zzz"]))
    assert (deleted.error_code, unknown.error_code) == (0, errors.UNKNOWN_TOPIC_OR_PARTITION)
    [by_id] = ok(q.delete_topics(topic_ids=[created.topic_id]))
    assert by_id.error_code == errors.UNKNOWN_TOPIC_ID
    assert ok(q.unregister_broker(1)) == 0
    image = q.image
    assert image.offset == 13 and not image.topics and image.broker_config(1) == {"k": "v"}
    with pytest.raises(ValueError):
        q.allocate_producer_ids(0)


def test_subscribers_see_every_image_in_order(open_quorum: Open) -> None:
    q = open_quorum()
    seen: list[MetadataImage] = []
    unsubscribe = q.subscribe(seen.append)
    setup_topics(q)
    wait_for(lambda: len(seen) >= 2, 2, "two images")
    assert [i.offset for i in seen] == [1, 2] and seen[-1] is q.image
    assert all(threading.current_thread().name != "kwire-raft-1" for _ in [0])
    unsubscribe()
    ok(q.allocate_producer_ids())
    assert len(seen) == 2


def test_failing_subscriber_does_not_stop_the_quorum(open_quorum: Open) -> None:
    q = open_quorum()

    def bad(image: MetadataImage) -> None:
        raise RuntimeError("subscriber bug")

    q.subscribe(bad)
    assert ok(q.allocate_producer_ids()) == 0
    assert ok(q.allocate_producer_ids()) == 1000


def test_asyncio_caller_awaits_without_blocking_the_loop(open_quorum: Open) -> None:
    q = open_quorum()
    ok(q.register_broker(1, "127.0.0.1", 9092))

    async def main() -> tuple[list[Any], int]:
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        q.subscribe(lambda image: loop.call_soon_threadsafe(changed.set))
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        results = await asyncio.wait_for(asyncio.wrap_future(q.create_topics([NewTopic("t", [[1]])])), 5)
        await asyncio.wait_for(changed.wait(), 5)
        task.cancel()
        return results, ticks

    results, ticks = asyncio.run(main())
    assert results[0].error_code == 0 and ticks > 0


def test_concurrent_creates_of_one_name_exactly_one_wins(open_quorum: Open) -> None:
    q = open_quorum()
    ok(q.register_broker(1, "127.0.0.1", 9092))
    threads, futures = 8, []
    barrier = threading.Barrier(threads)
    lock = threading.Lock()

    def create() -> None:
        barrier.wait(5)
        f = q.create_topics([NewTopic("contended", [[1]])])
        with lock:
            futures.append(f)

    workers = [threading.Thread(target=create) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    codes = sorted(ok(f)[0].error_code for f in futures)
    assert codes == [0] + [errors.TOPIC_ALREADY_EXISTS] * (threads - 1)
    winner = next(ok(f)[0] for f in futures if ok(f)[0].error_code == 0)
    assert q.image.topic("contended").topic_id == winner.topic_id


def test_stop_is_bounded_and_fails_later_writes(open_quorum: Open) -> None:
    q = open_quorum()
    start = time.monotonic()
    q.stop(timeout=5)
    assert time.monotonic() - start < 1.0
    assert not any(t.name == "kwire-raft-1" for t in threading.enumerate())
    with pytest.raises(QuorumStoppedError):
        ok(q.allocate_producer_ids())
    assert q.image.controller_id == 1  # the last image stays readable
    q.stop()  # idempotent


def test_write_timeout_fails_the_future(tmp_path: Path, quorums: list[MetadataQuorum]) -> None:
    # Three voters of which only this one runs: no leader can be elected.
    q = MetadataQuorum(1, tmp_path / "m", voters={1: "127.0.0.1:1", 2: "127.0.0.1:2", 3: "127.0.0.1:3"},
                       self_address="127.0.0.1:0", cluster_id="MkU3OEVBNTcwNTJENDM2Qg")
    quorums.append(q)
    q.start()
    with pytest.raises(QuorumError) as info:  # no leader: refused at once
        q.allocate_producer_ids().result(timeout=5)
    assert info.value.error_code == errors.NOT_CONTROLLER
    with pytest.raises(QuorumError):
        q.wait_ready(0.2)


def test_cluster_id_is_kept_and_checked(tmp_path: Path, open_quorum: Open) -> None:
    q = open_quorum()
    cluster_id = q.image.cluster_id
    q.stop()
    props = read_meta_properties(tmp_path / "__cluster_metadata-0")
    assert props == {"version": "1", "cluster.id": cluster_id, "node.id": "1"}
    assert open_quorum().image.cluster_id == cluster_id
    with pytest.raises(QuorumError, match="does not match"):
        MetadataQuorum(1, tmp_path / "__cluster_metadata-0", cluster_id="AAAAAAAAAAAAAAAAAAAAAA").start()
    with pytest.raises(QuorumError, match="belongs to node 1"):
        MetadataQuorum(2, tmp_path / "__cluster_metadata-0").start()


def test_configured_cluster_id_is_used(tmp_path: Path, quorums: list[MetadataQuorum]) -> None:
    q = MetadataQuorum(1, tmp_path / "m", cluster_id="MkU3OEVBNTcwNTJENDM2Qg")
    quorums.append(q)
    q.start()
    q.wait_ready(5)
    assert q.image.cluster_id == "MkU3OEVBNTcwNTJENDM2Qg"


def test_restart_keeps_everything(open_quorum: Open) -> None:
    q = open_quorum()
    setup_topics(q)
    ok(q.alter_broker_configs([ConfigChange("", {"log.retention.ms": "7"})]))
    first = ok(q.allocate_producer_ids(1000))
    before = q.image
    q.stop()
    q = open_quorum()
    assert q.image == before
    assert ok(q.allocate_producer_ids(1000)) == first + 1000


def test_restart_from_snapshot_plus_journal(tmp_path: Path, open_quorum: Open) -> None:
    q = open_quorum(snapshot_min_entries=5)
    ok(q.register_broker(1, "127.0.0.1", 9092))
    blocks = []
    for i in range(23):
        ok(q.create_topics([NewTopic(f"t{i}", [[1]], {"i": str(i)})]))
        blocks.append(ok(q.allocate_producer_ids(100)))
    before = q.image
    q.stop()
    meta = tmp_path / "__cluster_metadata-0"
    snapshot = json.loads((meta / "snapshot.json").read_text())
    assert snapshot["format"] == 1 and snapshot["image"]["offset"] > 30
    assert q.status() == {}
    q = open_quorum(snapshot_min_entries=5)
    assert q.image == before
    assert ok(q.allocate_producer_ids(100)) == max(blocks) + 100
    assert blocks == sorted(set(blocks))


def test_corrupt_snapshot_is_reported_by_wait_ready(tmp_path: Path, open_quorum: Open,
                                                    quorums: list[MetadataQuorum]) -> None:
    q = open_quorum(snapshot_min_entries=2)
    for _ in range(6):
        ok(q.allocate_producer_ids())
    q.stop()
    (tmp_path / "__cluster_metadata-0" / "snapshot.json").write_text("{not json")
    q = MetadataQuorum(1, tmp_path / "__cluster_metadata-0")
    quorums.append(q)
    q.start()
    with pytest.raises(QuorumError, match="snapshot.json"):
        q.wait_ready(5)


def test_parse_voters() -> None:
    assert parse_voters("1@127.0.0.1:9093, 2@localhost:9094,") == {1: "127.0.0.1:9093", 2: "localhost:9094"}
    with pytest.raises(ValueError):
        parse_voters("1:9093")
    with pytest.raises(ValueError):
        MetadataQuorum(4, "/nonexistent", voters={1: "127.0.0.1:1", 2: "127.0.0.1:2"})
