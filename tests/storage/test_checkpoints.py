import pytest

from kwire_storage.checkpoints import LeaderEpochCheckpointFile, OffsetCheckpointFile
from kwire_storage.errors import CorruptCheckpointError
from kwire_storage.leader_epoch import LeaderEpochFileCache


def test_offset_checkpoint_is_kafkas_text_format(tmp_path):
    f = OffsetCheckpointFile(tmp_path / "recovery-point-offset-checkpoint")
    f.write_map({("orders", 1): 99, ("orders", 0): 1234, ("a-b", 10): 0})
    assert f.path.read_text() == "0\n3\na-b 10 0\norders 0 1234\norders 1 99\n"
    assert f.read_map() == {("orders", 1): 99, ("orders", 0): 1234, ("a-b", 10): 0}
    assert not (tmp_path / "recovery-point-offset-checkpoint.tmp").exists()


def test_missing_checkpoint_reads_empty(tmp_path):
    assert OffsetCheckpointFile(tmp_path / "nope").read() == []


@pytest.mark.parametrize("text", ["", "1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt x 1\n", "zero\n0\n"])
def test_corrupt_checkpoints_raise(tmp_path, text):
    path = tmp_path / "cp"
    path.write_text(text)
    with pytest.raises(CorruptCheckpointError):
        OffsetCheckpointFile(path).read()


def test_leader_epoch_checkpoint_format(tmp_path):
    f = LeaderEpochCheckpointFile(tmp_path / "leader-epoch-checkpoint")
    f.write_entries([(0, 0), (3, 1200)])
    assert f.path.read_text() == "0\n2\n0 0\n3 1200\n"
    assert f.read() == [(0, 0), (3, 1200)]


def test_leader_epoch_cache_assign_truncate_and_end_offsets(tmp_path):
    cache = LeaderEpochFileCache(tmp_path)
    cache.assign(0, 0)
    cache.assign(0, 5)  # same epoch later: no change
    cache.assign(2, 10)
    cache.assign(5, 20)
    assert cache.entries == [(0, 0), (2, 10), (5, 20)]
    assert LeaderEpochFileCache(tmp_path).entries == [(0, 0), (2, 10), (5, 20)]
    assert cache.epoch_for_offset(15) == 2
    assert cache.end_offset_for(5, 30) == (5, 30)
    assert cache.end_offset_for(2, 30) == (2, 20)
    assert cache.end_offset_for(3, 30) == (2, 20)
    assert cache.end_offset_for(6, 30) == (-1, -1)
    cache.truncate_from_end(20)
    assert cache.entries == [(0, 0), (2, 10)]
    cache.truncate_from_start(12)
    assert cache.entries == [(2, 12)]
    cache.assign(1, 15)  # a lower epoch supersedes what it contradicts
    assert cache.entries == [(1, 15)]
    assert (tmp_path / "leader-epoch-checkpoint").read_text() == "0\n1\n1 15\n"
