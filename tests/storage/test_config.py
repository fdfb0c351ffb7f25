import pytest

from kwire_storage.config import LONG_MAX, TOPIC_CONFIGS, LogConfig
from kwire_storage.errors import InvalidConfigError


def test_defaults_are_kafkas():
    config = LogConfig()
    assert config.cleanup_policy == ("delete",)
    assert config.segment_bytes == 1073741824
    assert config.segment_index_bytes == 10485760
    assert config.segment_ms == 604800000
    assert config.retention_ms == 604800000
    assert config.retention_bytes == -1
    assert config.index_interval_bytes == 4096
    assert config.flush_messages == LONG_MAX
    assert config.flush_ms == LONG_MAX
    assert config.delete_retention_ms == 86400000
    assert config.file_delete_delay_ms == 60000
    assert config.min_cleanable_dirty_ratio == 0.5
    assert config.min_compaction_lag_ms == 0
    assert config.max_compaction_lag_ms == LONG_MAX
    assert config.max_message_bytes == 1048588
    assert config.message_timestamp_type == "CreateTime"
    assert config.message_timestamp_after_max_ms == 3600000
    assert config.message_timestamp_before_max_ms == LONG_MAX
    assert config.min_insync_replicas == 1
    assert config.unclean_leader_election_enable is False
    assert config.compression_type == "producer"
    assert config.segment_size == 1073741824


def test_string_values_are_parsed_and_validated():
    config = LogConfig({"cleanup.policy": "compact, delete", "min.cleanable.dirty.ratio": "0.25",
                        "preallocate": "true", "retention.ms": "-1"})
    assert config.cleanup_policy == ("compact", "delete")
    assert config.compact and config.delete
    assert config.min_cleanable_dirty_ratio == 0.25
    assert config.preallocate is True
    assert config.overrides == {"cleanup.policy": ("compact", "delete"), "min.cleanable.dirty.ratio": 0.25,
                                "preallocate": True, "retention.ms": -1}


def test_empty_cleanup_policy_means_no_cleanup():
    config = LogConfig({"cleanup.policy": ""})
    assert config.cleanup_policy == () and not config.compact and not config.delete


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("segment.bytes", 1000, "at least 1048576"),
        ("cleanup.policy", "remove", "compact, delete"),
        ("message.timestamp.type", "Now", "CreateTime, LogAppendTime"),
        ("min.cleanable.dirty.ratio", 1.5, "Value must be no more than 1"),
        ("flush.messages", 0, "at least 1"),
        ("segment.bytes", "big", "Invalid value 'big'"),
        ("segment.bytes", 2**31, "out of range"),
        ("preallocate", "yes", "true or false"),
        ("no.such.config", 1, "Unknown topic config name"),
    ],
)
def test_bad_values_raise_invalid_config(name, value, message):
    with pytest.raises(InvalidConfigError, match=message):
        LogConfig({name: value})


def test_internal_segment_bytes_overrides_the_floor():
    config = LogConfig({"internal.segment.bytes": 4096})
    assert config.segment_size == 4096
    assert "internal.segment.bytes" not in dict(config.items())


def test_compacted_logs_roll_by_max_compaction_lag():
    assert LogConfig({"cleanup.policy": "compact", "max.compaction.lag.ms": 60000}).max_segment_ms == 60000
    assert LogConfig({"max.compaction.lag.ms": 60000}).max_segment_ms == 604800000


def test_immutable_and_with_overrides():
    config = LogConfig({"retention.ms": 5})
    with pytest.raises(AttributeError):
        config.retention_ms = 6
    changed = config.with_overrides({"retention.bytes": "10"})
    assert (changed.retention_ms, changed.retention_bytes) == (5, 10)
    assert config.retention_bytes == -1


def test_every_config_default_passes_its_own_validator():
    for definition in TOPIC_CONFIGS.values():
        if definition.default is not None:
            assert definition.parse(definition.default) == definition.default
