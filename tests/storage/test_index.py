import pytest

from kwire_storage.errors import CorruptIndexError
from kwire_storage.offset_index import OffsetIndex
from kwire_storage.time_index import TimeIndex


def test_offset_index_preallocates_looks_up_and_trims(tmp_path):
    path = tmp_path / "00000000000000000100.index"
    index = OffsetIndex(path, 100, max_index_size=803, writable=True)
    assert path.stat().st_size == 800 and index.max_entries == 100
    for i in range(1, 51):
        index.append(100 + 10 * i, 1000 * i)
    assert index.lookup(99) == (100, 0)
    assert index.lookup(110) == (110, 1000)
    assert index.lookup(119) == (110, 1000)
    assert index.lookup(10**9) == (600, 50000)
    with pytest.raises(CorruptIndexError):
        index.append(600, 60000)
    index.trim_to_valid_size()
    assert path.stat().st_size == 400
    assert path.read_bytes()[:8] == (10).to_bytes(4, "big") + (1000).to_bytes(4, "big")
    index.close()
    reopened = OffsetIndex(path, 100)
    assert reopened.entries == 50 and reopened.lookup(355) == (350, 25000)
    reopened.sanity_check(log_size=50001)
    with pytest.raises(CorruptIndexError):
        reopened.sanity_check(log_size=50000)
    reopened.close()


def test_offset_index_truncation(tmp_path):
    index = OffsetIndex(tmp_path / "00000000000000000000.index", 0, 4096, writable=True)
    for i in range(1, 11):
        index.append(i * 10, i * 100)
    index.truncate_to(55)
    assert index.entries == 5 and index.last_offset == 50
    index.truncate_to_position(300)
    assert index.entries == 2 and index.last_entry() == (20, 200)
    index.close()


def test_full_index(tmp_path):
    index = OffsetIndex(tmp_path / "00000000000000000000.index", 0, 16, writable=True)
    index.append(1, 1)
    index.append(2, 2)
    assert index.is_full
    with pytest.raises(ValueError, match="full"):
        index.append(3, 3)
    index.close()


def test_time_index_only_grows_and_reserves_last_slot(tmp_path):
    path = tmp_path / "00000000000000000010.timeindex"
    index = TimeIndex(path, 10, max_index_size=48, writable=True)
    assert index.max_entries == 4
    index.maybe_append(1000, 12)
    index.maybe_append(1000, 14)  # not larger: ignored
    index.maybe_append(999, 15)
    index.maybe_append(2000, 20)
    index.maybe_append(3000, 30)
    assert index.entries == 3 and index.is_full
    index.maybe_append(4000, 40, skip_full_check=True)
    assert index.lookup(999) == (-1, 10)
    assert index.lookup(2500) == (2000, 20)
    assert index.last_entry() == (4000, 40)
    index.truncate_to(30)
    assert index.last_entry() == (2000, 20)
    index.close()
    assert path.stat().st_size == 24
    assert path.read_bytes()[:12] == (1000).to_bytes(8, "big") + (2).to_bytes(4, "big")
