"""Broker configuration: Kafka's `server.properties` keys, types and defaults.

`BROKER_CONFIGS` is the one table of the broker settings kwire understands,
with Apache Kafka's names and defaults (Kafka 4.4 documentation, "Broker
Configs"). `load_config` reads a properties file and `key=value` overrides,
validates every value against the table, and returns a `BrokerConfig`.
A bad value raises `ConfigError` with a one-line message naming the key.

Keys Kafka has and kwire does not act on yet are still accepted when they
parse (so a Kafka `server.properties` works unchanged); unknown keys are
kept and reported once at start-up, as Kafka does ("These configurations
... were supplied but are not used yet").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class ConfigDef:
    name: str
    type: str  # 'int', 'long', 'double', 'boolean', 'string', 'list', 'password'
    default: Any
    doc: str
    validator: Callable[[Any], str | None] | None = None  # returns a problem or None


def at_least(minimum: int | float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= minimum else f"must be at least {minimum}"


def one_of(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def _defs(*defs: ConfigDef) -> dict[str, ConfigDef]:
    return {d.name: d for d in defs}


BROKER_CONFIGS: dict[str, ConfigDef] = _defs(
    ConfigDef("node.id", "int", 1, "This node's id in the cluster.", at_least(0)),
    ConfigDef("broker.id", "int", -1, "Alias of node.id kept for old configs; node.id wins when both are set."),
    ConfigDef("cluster.id", "string", None, "Cluster id; generated at first start when unset and kept in the metadata log."),
    ConfigDef("process.roles", "list", ["broker", "controller"], "Roles of this node (kwire nodes are both by default)."),
    ConfigDef("listeners", "list", ["PLAINTEXT://127.0.0.1:9092"], "Listeners, as NAME://host:port."),
    ConfigDef("advertised.listeners", "list", None, "Listeners advertised to clients; defaults to listeners."),
    ConfigDef("broker.rack", "string", None, "Rack of this broker, reported in Metadata and DescribeCluster."),
    ConfigDef("listener.security.protocol.map", "string", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT", "Listener name to security protocol."),
    ConfigDef("controller.listener.names", "list", ["CONTROLLER"], "Listener names used by the controller quorum."),
    ConfigDef("controller.quorum.voters", "list", [], "Metadata quorum voters as id@host:port; empty for a single node."),
    ConfigDef("log.dirs", "list", None, "Directories holding partition logs; the first also holds metadata."),
    ConfigDef("metadata.log.dir", "string", None, "Where the metadata quorum keeps its journal; defaults to the first log dir."),
    ConfigDef("log.dir", "string", "/tmp/kwire-logs", "Used when log.dirs is unset."),
    ConfigDef("num.partitions", "int", 1, "Partitions of an auto-created topic.", at_least(1)),
    ConfigDef("default.replication.factor", "int", 1, "Replication factor of an auto-created topic.", at_least(1)),
    ConfigDef("auto.create.topics.enable", "boolean", True, "Create a topic on Metadata/Produce for an unknown name."),
    ConfigDef("delete.topic.enable", "boolean", True, "Allow DeleteTopics."),
    ConfigDef("offsets.topic.num.partitions", "int", 50, "Partitions of __consumer_offsets.", at_least(1)),
    ConfigDef("offsets.topic.replication.factor", "short", 3, "Replication factor of __consumer_offsets.", at_least(1)),
    ConfigDef("transaction.state.log.num.partitions", "int", 50, "Partitions of __transaction_state.", at_least(1)),
    ConfigDef("transaction.state.log.replication.factor", "short", 3, "Replication factor of __transaction_state.", at_least(1)),
    ConfigDef("message.max.bytes", "int", 1048588, "Largest record batch a topic accepts (topic: max.message.bytes).", at_least(0)),
    ConfigDef("socket.request.max.bytes", "int", 104857600, "Largest request frame accepted.", at_least(1)),
    ConfigDef("socket.send.buffer.bytes", "int", 102400, "SO_SNDBUF of client sockets; -1 for the OS default."),
    ConfigDef("socket.receive.buffer.bytes", "int", 102400, "SO_RCVBUF of client sockets; -1 for the OS default."),
    ConfigDef("connections.max.idle.ms", "long", 600000, "Close connections idle this long."),
    ConfigDef("max.connections", "int", 2147483647, "Most connections the broker accepts.", at_least(0)),
    ConfigDef("log.segment.bytes", "int", 1073741824, "Segment size (topic: segment.bytes).", at_least(14)),
    ConfigDef("log.roll.ms", "long", None, "Segment roll time in ms (topic: segment.ms); overrides log.roll.hours."),
    ConfigDef("log.roll.hours", "int", 168, "Segment roll time in hours.", at_least(1)),
    ConfigDef("log.retention.ms", "long", None, "Retention time in ms (topic: retention.ms); overrides minutes/hours."),
    ConfigDef("log.retention.minutes", "int", None, "Retention time in minutes."),
    ConfigDef("log.retention.hours", "int", 168, "Retention time in hours."),
    ConfigDef("log.retention.bytes", "long", -1, "Retention size per partition (topic: retention.bytes)."),
    ConfigDef("log.retention.check.interval.ms", "long", 300000, "How often retention runs.", at_least(1)),
    ConfigDef("log.cleanup.policy", "list", ["delete"], "Default cleanup.policy."),
    ConfigDef("log.cleaner.enable", "boolean", True, "Run the log cleaner for compacted topics."),
    ConfigDef("log.cleaner.backoff.ms", "long", 15000, "Cleaner sleep when there is nothing to clean.", at_least(0)),
    ConfigDef("log.cleaner.delete.retention.ms", "long", 86400000, "Default delete.retention.ms."),
    ConfigDef("log.cleaner.min.cleanable.ratio", "double", 0.5, "Default min.cleanable.dirty.ratio."),
    ConfigDef("log.cleaner.min.compaction.lag.ms", "long", 0, "Default min.compaction.lag.ms."),
    ConfigDef("log.cleaner.max.compaction.lag.ms", "long", 9223372036854775807, "Default max.compaction.lag.ms."),
    ConfigDef("log.roll.jitter.ms", "long", None, "Segment roll jitter in ms (topic: segment.jitter.ms)."),
    ConfigDef("log.roll.jitter.hours", "int", 0, "Segment roll jitter in hours.", at_least(0)),
    ConfigDef("log.segment.delete.delay.ms", "long", 60000, "Default file.delete.delay.ms.", at_least(0)),
    ConfigDef("log.message.timestamp.before.max.ms", "long", 9223372036854775807, "Default message.timestamp.before.max.ms.", at_least(0)),
    ConfigDef("log.message.timestamp.after.max.ms", "long", 3600000, "Default message.timestamp.after.max.ms.", at_least(0)),
    ConfigDef("log.index.interval.bytes", "int", 4096, "Default index.interval.bytes.", at_least(0)),
    ConfigDef("log.index.size.max.bytes", "int", 10485760, "Default segment.index.bytes.", at_least(4)),
    ConfigDef("log.flush.interval.messages", "long", 9223372036854775807, "Default flush.messages.", at_least(1)),
    ConfigDef("log.flush.interval.ms", "long", None, "Default flush.ms."),
    ConfigDef("log.message.timestamp.type", "string", "CreateTime", "Default message.timestamp.type.", one_of("CreateTime", "LogAppendTime")),
    ConfigDef("compression.type", "string", "producer", "Default compression.type.", one_of("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")),
    ConfigDef("min.insync.replicas", "int", 1, "Default min.insync.replicas.", at_least(1)),
    ConfigDef("unclean.leader.election.enable", "boolean", False, "Default unclean.leader.election.enable."),
    ConfigDef("group.initial.rebalance.delay.ms", "int", 3000, "Delay of a new group's first rebalance.", at_least(0)),
    ConfigDef("group.min.session.timeout.ms", "int", 6000, "Smallest session.timeout.ms a member may ask for."),
    ConfigDef("group.max.session.timeout.ms", "int", 1800000, "Largest session.timeout.ms a member may ask for."),
    ConfigDef("group.max.size", "int", 2147483647, "Most members of a classic group.", at_least(1)),
    ConfigDef("group.consumer.session.timeout.ms", "int", 45000, "Session timeout of consumer-protocol (KIP-848) members.", at_least(1)),
    ConfigDef("group.consumer.min.session.timeout.ms", "int", 45000, "Smallest group.consumer.session.timeout.ms allowed.", at_least(1)),
    ConfigDef("group.consumer.max.session.timeout.ms", "int", 60000, "Largest group.consumer.session.timeout.ms allowed.", at_least(1)),
    ConfigDef("group.consumer.heartbeat.interval.ms", "int", 5000, "Heartbeat interval given to consumer-protocol members.", at_least(1)),
    ConfigDef("group.consumer.min.heartbeat.interval.ms", "int", 5000, "Smallest group.consumer.heartbeat.interval.ms allowed.", at_least(1)),
    ConfigDef("group.consumer.max.heartbeat.interval.ms", "int", 15000, "Largest group.consumer.heartbeat.interval.ms allowed.", at_least(1)),
    ConfigDef("group.consumer.max.size", "int", 2147483647, "Most members of a consumer-protocol group.", at_least(1)),
    ConfigDef("group.consumer.assignors", "list", ["uniform", "range"], "Server-side assignors, the first is the default (uniform, range, or their Kafka class names)."),
    ConfigDef("group.consumer.migration.policy", "string", "bidirectional", "Conversions between classic and consumer groups.", one_of("disabled", "downgrade", "upgrade", "bidirectional")),
    ConfigDef("offset.metadata.max.bytes", "int", 4096, "Longest metadata string of a committed offset.", at_least(0)),
    ConfigDef("offsets.retention.check.interval.ms", "long", 600000, "How often expired offsets are removed.", at_least(1)),
    ConfigDef("offsets.topic.segment.bytes", "int", 104857600, "segment.bytes of __consumer_offsets.", at_least(1)),
    ConfigDef("offsets.retention.minutes", "int", 10080, "How long committed offsets of an empty group are kept.", at_least(1)),
    ConfigDef("transaction.max.timeout.ms", "int", 900000, "Largest transaction.timeout.ms a producer may ask for.", at_least(1)),
    ConfigDef("transactional.id.expiration.ms", "int", 604800000, "Expiry of idle transactional ids.", at_least(1)),
    ConfigDef("transaction.state.log.segment.bytes", "int", 104857600, "segment.bytes of __transaction_state.", at_least(1)),
    ConfigDef("transaction.state.log.min.isr", "int", 2, "min.insync.replicas of __transaction_state (capped to its replication factor).", at_least(1)),
    ConfigDef("transaction.abort.timed.out.transaction.cleanup.interval.ms", "int", 10000, "How often transactions older than their timeout are aborted.", at_least(1)),
    ConfigDef("transaction.remove.expired.transaction.cleanup.interval.ms", "int", 3600000, "How often expired transactional ids are removed.", at_least(1)),
    ConfigDef("transaction.partition.verification.enable", "boolean", True, "Verify that a transactional produce is in its ongoing transaction (KIP-890)."),
    ConfigDef("max.decompressed.message.bytes", "int", 2147483639, "Default max.decompressed.message.bytes of topics.", at_least(0)),
    ConfigDef("log.remote.copy.lag.bytes", "long", -1, "Default remote.copy.lag.bytes of topics (no tiered storage in kwire)."),
    ConfigDef("log.remote.copy.lag.ms", "long", 0, "Default remote.copy.lag.ms of topics (no tiered storage in kwire)."),
    ConfigDef("producer.id.expiration.ms", "int", 86400000, "Expiry of idle producer ids.", at_least(1)),
    # kwire's own keys (not Kafka's), for tests and CI: see docs/testing.md.
    ConfigDef("kwire.admin.listener", "string", None, "host:port of the HTTP admin endpoint (fault injection, restart); off when unset. Never expose it beyond loopback."),
    ConfigDef("kwire.metadata.fsync", "boolean", True, "fsync the metadata journal before acknowledging a write (kwire serve --dev turns it off)."),
)


# Topic config -> the broker configs that set its default, most specific
# first (Kafka's ServerTopicConfigSynonyms). A broker config the user set
# becomes the topic default (DescribeConfigs source STATIC_BROKER_CONFIG).
TOPIC_CONFIG_SYNONYMS: dict[str, tuple[str, ...]] = {
    "segment.bytes": ("log.segment.bytes",),
    "segment.ms": ("log.roll.ms", "log.roll.hours"),
    "segment.jitter.ms": ("log.roll.jitter.ms", "log.roll.jitter.hours"),
    "segment.index.bytes": ("log.index.size.max.bytes",),
    "flush.messages": ("log.flush.interval.messages",),
    "flush.ms": ("log.flush.interval.ms",),
    "retention.bytes": ("log.retention.bytes",),
    "retention.ms": ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    "max.message.bytes": ("message.max.bytes",),
    "index.interval.bytes": ("log.index.interval.bytes",),
    "delete.retention.ms": ("log.cleaner.delete.retention.ms",),
    "min.compaction.lag.ms": ("log.cleaner.min.compaction.lag.ms",),
    "max.compaction.lag.ms": ("log.cleaner.max.compaction.lag.ms",),
    "file.delete.delay.ms": ("log.segment.delete.delay.ms",),
    "min.cleanable.dirty.ratio": ("log.cleaner.min.cleanable.ratio",),
    "cleanup.policy": ("log.cleanup.policy",),
    "unclean.leader.election.enable": ("unclean.leader.election.enable",),
    "min.insync.replicas": ("min.insync.replicas",),
    "compression.type": ("compression.type",),
    "message.timestamp.type": ("log.message.timestamp.type",),
    "message.timestamp.before.max.ms": ("log.message.timestamp.before.max.ms",),
    "message.timestamp.after.max.ms": ("log.message.timestamp.after.max.ms",),
    "max.decompressed.message.bytes": ("max.decompressed.message.bytes",),
    "remote.copy.lag.bytes": ("log.remote.copy.lag.bytes",),
    "remote.copy.lag.ms": ("log.remote.copy.lag.ms",),
}

_UNIT_MS = {"hours": 3_600_000, "minutes": 60_000}


def _parse(defn: ConfigDef, raw: str) -> Any:
    text = raw.strip()
    t = defn.type
    try:
        if t in ("int", "long", "short"):
            return int(text)
        if t == "double":
            return float(text)
        if t == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return text.lower() == "true"
        if t == "list":
            return [item.strip() for item in text.split(",") if item.strip()]
        return text
    except ValueError as e:
        raise ConfigError(f"invalid value {raw!r} for configuration {defn.name}: expected {t} ({e})") from None


def parse_value(name: str, raw: str) -> Any:
    """Parse and validate one broker config value (as load_config does); ConfigError if bad.
    Used for dynamic broker configs (AlterConfigs), which arrive as strings."""
    defn = BROKER_CONFIGS[name]
    value = _parse(defn, raw)
    if defn.validator is not None and (problem := defn.validator(value)):
        raise ConfigError(f"invalid value {raw!r} for configuration {name}: {problem}")
    return value


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties, the subset server.properties files use: key=value or
    key: value lines, # and ! comments, backslash line continuations."""
    props: dict[str, str] = {}
    pending = ""
    for raw_line in text.splitlines():
        line = pending + raw_line.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        for i, c in enumerate(line):
            if c in "=:":
                key, value = line[:i].strip(), line[i + 1 :].strip()
                break
        else:
            key, value = line, ""
        props[key] = value
    if pending:
        key, _, value = pending.partition("=")
        props[key.strip()] = value.strip()
    return props


class BrokerConfig:
    """Parsed broker settings: `config["log.segment.bytes"]` gives a typed value."""

    def __init__(self, values: dict[str, Any], originals: dict[str, str], unknown: dict[str, str]) -> None:
        self._values = values
        self.originals = originals  # what the user set, as given
        self.unknown = unknown  # keys kwire does not know

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def is_set(self, name: str) -> bool:
        return name in self.originals

    @property
    def node_id(self) -> int:
        if not self.is_set("node.id") and self.is_set("broker.id") and self["broker.id"] >= 0:
            return int(self["broker.id"])
        return int(self["node.id"])

    @property
    def log_dirs(self) -> list[Path]:
        dirs = self["log.dirs"] or [self["log.dir"]]
        return [Path(d) for d in dirs]

    def topic_default(self, topic_config: str) -> tuple[str, str] | None:
        """(broker config name, value as a topic config string) when the user
        set a broker config that gives `topic_config` its default."""
        for name in TOPIC_CONFIG_SYNONYMS.get(topic_config, ()):
            if not self.is_set(name):
                continue
            value = self[name]
            unit = name.rsplit(".", 1)[-1]
            if unit in _UNIT_MS:
                value = int(value) * _UNIT_MS[unit]
            elif isinstance(value, list):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = str(value).lower()
            return name, str(value)
        return None

    def topic_defaults(self) -> dict[str, str]:
        """Topic config defaults set through broker configs."""
        out = {}
        for topic_config in TOPIC_CONFIG_SYNONYMS:
            found = self.topic_default(topic_config)
            if found is not None:
                out[topic_config] = found[1]
        return out

    @property
    def retention_ms(self) -> int:
        if self["log.retention.ms"] is not None:
            return int(self["log.retention.ms"])
        if self["log.retention.minutes"] is not None:
            return int(self["log.retention.minutes"]) * 60_000
        return int(self["log.retention.hours"]) * 3_600_000

    @property
    def roll_ms(self) -> int:
        if self["log.roll.ms"] is not None:
            return int(self["log.roll.ms"])
        return int(self["log.roll.hours"]) * 3_600_000


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (), base: dict[str, str] | None = None) -> BrokerConfig:
    """Defaults <- `base` <- the properties file <- `key=value` overrides."""
    originals: dict[str, str] = dict(base or {})
    if path is not None:
        try:
            originals.update(parse_properties(Path(path).read_text(encoding="utf-8")))
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        originals[key.strip()] = value.strip()
    values: dict[str, Any] = {name: d.default for name, d in BROKER_CONFIGS.items()}
    unknown: dict[str, str] = {}
    for key, raw in originals.items():
        defn = BROKER_CONFIGS.get(key)
        if defn is None:
            unknown[key] = raw
            continue
        value = _parse(defn, raw)
        if defn.validator is not None:
            problem = defn.validator(value)
            if problem:
                raise ConfigError(f"invalid value {raw!r} for configuration {key}: {problem}")
        values[key] = value
    return BrokerConfig(values, originals, unknown)
