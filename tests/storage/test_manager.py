import pytest

from kwire_storage.config import LogConfig
from kwire_storage.errors import KafkaStorageError
from kwire_storage.manager import LogManager

from tests.storage.helpers import Clock, make_batch, read_all

T0 = 1_700_000_000_000
CONFIG = LogConfig({"internal.segment.bytes": 1024, "retention.bytes": 2000, "file.delete.delay.ms": 0})


def test_layout_checkpoints_and_clean_shutdown(tmp_path):
    manager = LogManager(tmp_path, CONFIG, clock=Clock(T0))
    manager.startup()
    log = manager.get_or_create_log("orders", 0)
    other = manager.get_or_create_log("my-topic", 3)
    for i in range(40):
        log.append(make_batch([b"x" * 50]), leader_epoch=1)
    other.append(make_batch([b"y"]))
    log.update_high_watermark(40)
    log.delete_records(5)
    assert manager.cleanup_logs() > 0
    manager.shutdown()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".kafka_cleanshutdown", ".lock", "cleaner-offset-checkpoint", "log-start-offset-checkpoint",
                     "my-topic-3", "orders-0", "recovery-point-offset-checkpoint", "replication-offset-checkpoint"]
    start = log.log_start_offset
    assert (tmp_path / "recovery-point-offset-checkpoint").read_text() == "0\n2\nmy-topic 3 1\norders 0 40\n"
    assert (tmp_path / "replication-offset-checkpoint").read_text() == "0\n2\nmy-topic 3 0\norders 0 40\n"
    assert (tmp_path / "log-start-offset-checkpoint").read_text() == f"0\n2\nmy-topic 3 0\norders 0 {start}\n"
    assert (tmp_path / "orders-0" / "leader-epoch-checkpoint").read_text() == f"0\n1\n1 {start}\n"

    again = LogManager(tmp_path, CONFIG, clock=Clock(T0))
    again.startup()
    assert again.had_clean_shutdown and not (tmp_path / ".kafka_cleanshutdown").exists()
    reopened = again.get_log("orders", 0)
    assert reopened.load_report.truncations == [] and reopened.load_report.rebuilt_indexes == []
    assert (reopened.log_start_offset, reopened.high_watermark, reopened.log_end_offset) == (start, 40, 40)
    assert [b.base_offset for b in read_all(reopened)] == list(range(start, 40))
    again.abandon()

    crashed = LogManager(tmp_path, CONFIG, clock=Clock(T0))
    crashed.startup()
    assert not crashed.had_clean_shutdown
    assert crashed.get_log("orders", 0).log_end_offset == 40
    crashed.shutdown()


def test_a_log_dir_has_one_owner(tmp_path):
    first = LogManager(tmp_path)
    first.startup()
    with pytest.raises(KafkaStorageError, match="in use"):
        LogManager(tmp_path).startup()
    first.shutdown()


def test_delete_log_and_bad_topic_names(tmp_path):
    manager = LogManager(tmp_path, CONFIG)
    manager.startup()
    manager.get_or_create_log("gone", 0).append(make_batch([b"a"]))
    manager.delete_log("gone", 0)
    assert not (tmp_path / "gone-0").exists() and manager.get_log("gone", 0) is None
    with pytest.raises(ValueError):
        manager.get_or_create_log("../escape", 0)
    manager.shutdown()


def test_remove_expired_producers_over_every_log(tmp_path):
    from kwire_protocol.records.builder import build_batch
    from kwire_protocol.records.record import NewRecord

    clock = Clock(T0)
    manager = LogManager(tmp_path, CONFIG, clock=clock, producer_id_expiration_ms=60_000)
    manager.startup()
    for topic, producer_id in (("a", 7), ("b", 8)):
        manager.get_or_create_log(topic, 0).append(
            build_batch([NewRecord(value=b"v", timestamp=T0)], producer_id=producer_id, producer_epoch=0, base_sequence=0))
    assert manager.remove_expired_producers(T0 + 59_999) == 0
    assert manager.remove_expired_producers(T0 + 60_000) == 2
    assert [set(manager.get_log(t, 0).producer_state.producers) for t in ("a", "b")] == [set(), set()]
    manager.shutdown()
