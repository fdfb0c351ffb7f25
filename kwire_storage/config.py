"""Topic configs, with Kafka's names, types, defaults and validators.

`TOPIC_CONFIGS` is the declarative table: one `ConfigDef` per topic-level
config of Apache Kafka 4.x (defaults as in Kafka's documentation; the 4.0
changes of KIP-1030 are applied: segment.bytes has a 1 MiB minimum and
message.timestamp.after.max.ms defaults to one hour). A `LogConfig` is an
immutable, validated set of values built from string or typed overrides, the
way a broker receives them from CreateTopics / AlterConfigs. Values are read
as attributes named like the config with dots as underscores
(`config.segment_bytes`).

`internal.segment.bytes` mirrors Kafka's internal, test-only override
(KAFKA-19080): when set it replaces segment.bytes without the 1 MiB floor, so
tests can make small segments. It is not a public config.

Configs the storage engine itself does not act on (replication throttles,
min.insync.replicas, unclean.leader.election.enable, compression levels,
remote storage) are in the table anyway, so that the broker can validate and
describe them in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kwire_storage.errors import InvalidConfigError

LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
LONG_MIN = -(2**63)

Validator = Callable[[str, Any], None]


def at_least(minimum: int | float) -> Validator:
    def check(name: str, value: Any) -> None:
        if value < minimum:
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: Value must be at least {minimum}")

    return check


def between(low: int | float, high: int | float) -> Validator:
    def check(name: str, value: Any) -> None:
        # Kafka's ConfigDef.Range wording.
        if value < low:
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: Value must be at least {low}")
        if value > high:
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: Value must be no more than {high}")

    return check


def one_of(*choices: str) -> Validator:
    def check(name: str, value: Any) -> None:
        if value not in choices:
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: String must be one of: {', '.join(choices)}")

    return check


def subset_of(*choices: str) -> Validator:
    def check(name: str, value: Any) -> None:
        # An empty list is valid (Kafka 4.x): no cleanup at all, the log only grows.
        for item in value:
            if item not in choices:  # worded as Kafka's ValidList
                raise InvalidConfigError(
                    f"Invalid value {item} for configuration {name}: String must be one of: {', '.join(choices)}"
                )

    return check


def level_or_default(low: int, high: int, default: int) -> Validator:
    def check(name: str, value: Any) -> None:
        if value != default and not low <= value <= high:
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: must be {default} or in [{low}, {high}]")

    return check


@dataclass(frozen=True)
class ConfigDef:
    name: str
    type: str  # "int", "long", "double", "boolean", "string", "list"
    default: Any
    validator: Validator | None = None
    doc: str = ""
    internal: bool = False

    def parse(self, raw: Any) -> Any:
        """Convert a raw value (string from the wire, or a Python value) to this config's type."""
        try:
            if self.type in ("int", "long"):
                if isinstance(raw, bool):
                    raise ValueError("boolean is not a number")
                value = int(raw.strip()) if isinstance(raw, str) else int(raw)
                if isinstance(raw, float) and raw != value:
                    raise ValueError("not an integer")
                low, high = (INT_MIN, INT_MAX) if self.type == "int" else (LONG_MIN, LONG_MAX)
                if not low <= value <= high:
                    raise ValueError(f"out of range for {self.type}")
            elif self.type == "double":
                value = float(raw.strip()) if isinstance(raw, str) else float(raw)
            elif self.type == "boolean":
                if isinstance(raw, bool):
                    value = raw
                elif isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
                    value = raw.strip().lower() == "true"
                else:
                    raise ValueError("expected true or false")
            elif self.type == "list":
                items = raw.split(",") if isinstance(raw, str) else list(raw)
                value = tuple(item.strip() for item in items if item.strip())
            else:
                value = str(raw).strip() if raw is not None else None
        except (TypeError, ValueError) as exc:
            raise InvalidConfigError(f"Invalid value {raw!r} for configuration {self.name}: {exc}") from None
        if self.validator is not None and value is not None:
            self.validator(self.name, value)
        return value


_COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")

TOPIC_CONFIGS: dict[str, ConfigDef] = {
    d.name: d
    for d in (
        ConfigDef("cleanup.policy", "list", ("delete",), subset_of("compact", "delete"),
                  "delete: remove old segments by retention; compact: keep the latest record per key"),
        ConfigDef("compression.type", "string", "producer", one_of(*_COMPRESSION_TYPES)),
        ConfigDef("compression.gzip.level", "int", -1, level_or_default(1, 9, -1)),
        ConfigDef("compression.lz4.level", "int", 9, between(1, 17)),
        ConfigDef("compression.zstd.level", "int", 3, between(-131072, 22)),
        ConfigDef("delete.retention.ms", "long", 86400000, at_least(0),
                  "how long tombstones stay readable in a compacted log after the cleaner first sees them"),
        ConfigDef("file.delete.delay.ms", "long", 60000, at_least(0),
                  "delay between renaming a removed segment to .deleted and unlinking it"),
        ConfigDef("flush.messages", "long", LONG_MAX, at_least(1), "fsync after this many unflushed records"),
        ConfigDef("flush.ms", "long", LONG_MAX, at_least(0), "fsync when the oldest unflushed data is this old"),
        ConfigDef("errors.deadletterqueue.group.enable", "boolean", False,
                  None, "share groups may use this topic as a dead letter queue (not used by kwire)"),
        ConfigDef("follower.replication.throttled.replicas", "list", ()),
        ConfigDef("index.interval.bytes", "int", 4096, at_least(0), "bytes of batches between offset index entries"),
        ConfigDef("leader.replication.throttled.replicas", "list", ()),
        ConfigDef("local.retention.bytes", "long", -2, at_least(-2)),
        ConfigDef("local.retention.ms", "long", -2, at_least(-2)),
        ConfigDef("max.compaction.lag.ms", "long", LONG_MAX, at_least(1)),
        ConfigDef("max.decompressed.message.bytes", "int", 2147483639, at_least(0)),
        ConfigDef("max.message.bytes", "int", 1048588, at_least(0)),
        ConfigDef("message.timestamp.after.max.ms", "long", 3600000, at_least(0)),
        ConfigDef("message.timestamp.before.max.ms", "long", LONG_MAX, at_least(0)),
        ConfigDef("message.timestamp.type", "string", "CreateTime", one_of("CreateTime", "LogAppendTime")),
        ConfigDef("min.cleanable.dirty.ratio", "double", 0.5, between(0, 1)),
        ConfigDef("min.compaction.lag.ms", "long", 0, at_least(0)),
        ConfigDef("min.insync.replicas", "int", 1, at_least(1)),
        ConfigDef("preallocate", "boolean", False),
        ConfigDef("remote.copy.lag.bytes", "long", -1),
        ConfigDef("remote.copy.lag.ms", "long", 0),
        ConfigDef("remote.storage.enable", "boolean", False),
        ConfigDef("remote.log.copy.disable", "boolean", False),
        ConfigDef("remote.log.delete.on.disable", "boolean", False),
        ConfigDef("retention.bytes", "long", -1, None, "per-partition size limit; -1 means none"),
        ConfigDef("retention.ms", "long", 604800000, at_least(-1), "-1 means keep forever"),
        ConfigDef("segment.bytes", "int", 1073741824, at_least(1048576)),
        ConfigDef("segment.index.bytes", "int", 10485760, at_least(4)),
        ConfigDef("segment.jitter.ms", "long", 0, at_least(0)),
        ConfigDef("segment.ms", "long", 604800000, at_least(1)),
        ConfigDef("unclean.leader.election.enable", "boolean", False),
        ConfigDef("internal.segment.bytes", "int", None, at_least(14), internal=True),
    )
}


class LogConfig:
    """A validated, immutable set of topic config values.

    `LogConfig({"segment.bytes": "1048576"})` validates every override and
    raises InvalidConfigError on the first bad one. Unset configs take Kafka's
    default.
    """


    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        values: dict[str, Any] = {name: d.default for name, d in TOPIC_CONFIGS.items()}
        parsed: dict[str, Any] = {}
        for name, raw in (overrides or {}).items():
            definition = TOPIC_CONFIGS.get(name)
            if definition is None:
                raise InvalidConfigError(f"Unknown topic config name: {name}")
            parsed[name] = definition.parse(raw)
        values.update(parsed)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_overrides", parsed)
        # Plain instance attributes, so the append path reads them at dict speed.
        for name, value in values.items():
            object.__setattr__(self, name.replace(".", "_"), value)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        try:
            return self._values[attr.replace("_", ".")]
        except KeyError:
            raise AttributeError(attr) from None

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError("LogConfig is immutable; build a new one with with_overrides()")

    def get(self, name: str) -> Any:
        if name not in TOPIC_CONFIGS:
            raise InvalidConfigError(f"Unknown topic config name: {name}")
        return self._values[name]

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self._overrides)

    def with_overrides(self, overrides: Mapping[str, Any]) -> LogConfig:
        merged = dict(self._overrides)
        merged.update(overrides)
        return LogConfig(merged)

    def items(self, include_internal: bool = False) -> Iterable[tuple[str, Any]]:
        for name, definition in TOPIC_CONFIGS.items():
            if include_internal or not definition.internal:
                yield name, self._values[name]

    # Derived values the engine uses, named after Kafka's LogConfig accessors.

    @property
    def segment_size(self) -> int:
        internal = self._values["internal.segment.bytes"]
        return internal if internal is not None else self._values["segment.bytes"]

    @property
    def max_segment_ms(self) -> int:
        """segment.ms, capped by max.compaction.lag.ms for compacted logs so dirty data can be cleaned in time."""
        segment_ms = self._values["segment.ms"]
        if self.compact:
            return min(segment_ms, self._values["max.compaction.lag.ms"])
        return segment_ms

    @property
    def compact(self) -> bool:
        return "compact" in self._values["cleanup.policy"]

    @property
    def delete(self) -> bool:
        return "delete" in self._values["cleanup.policy"]

    @property
    def log_append_time(self) -> bool:
        return self._values["message.timestamp.type"] == "LogAppendTime"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogConfig) and other._values == self._values

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, str(v)) for k, v in self._values.items())))

    def __repr__(self) -> str:
        return f"LogConfig({self._overrides!r})"
