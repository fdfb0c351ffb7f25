"""Topic configs as DescribeConfigs, CreateTopics and AlterConfigs see them.

Every topic config is listed, not only the ones set, each with its value and
where the value comes from. Kafka's order of precedence: the topic's own
override (DYNAMIC_TOPIC_CONFIG); then the broker configs that give the topic
config its default (Kafka's ServerTopicConfigSynonyms, e.g. retention.ms <-
log.retention.ms, log.retention.minutes, log.retention.hours), each looked
up as a dynamic per-broker config, a dynamic cluster-wide default, a static
config from server.properties, and the broker default.

Synonyms are listed the way Kafka's ConfigHelper lists them, quirks
included (checked against Apache Kafka 4.4): level by level, and the list
starts at the first entry named like the first broker synonym, so
retention.ms with nothing set has no synonyms at all (log.retention.ms has
no default), while its value is still 604800000 from log.retention.hours.

Changing overrides (AlterConfigs, IncrementalAlterConfigs) is validated here
with Kafka's error codes and messages; the handler writes the result through
the metadata quorum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_storage.config import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, TOPIC_CONFIGS, LogConfig
from kwire_storage.errors import InvalidConfigError

from kwire.config import BROKER_CONFIGS, TOPIC_CONFIG_SYNONYMS, BrokerConfig

# Kafka's ConfigSource (DescribeConfigsResponse): the values on the wire.
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
DYNAMIC_BROKER_LOGGER_CONFIG = 6

# Kafka's ConfigType (DescribeConfigs v3+).
CONFIG_TYPES = {"boolean": 1, "string": 2, "int": 3, "short": 4, "long": 5, "double": 6, "list": 7, "class": 8, "password": 9}

# IncrementalAlterConfigs operations (KIP-339).
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
_OP_NAMES = {APPEND: "APPEND", SUBTRACT: "SUBTRACT"}

# Broker synonyms Kafka has for topic configs that kwire's broker table
# lacks; they take the topic default (same value in Kafka).
_MORE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "preallocate": ("log.preallocate",),
    "local.retention.ms": ("log.local.retention.ms",),
    "local.retention.bytes": ("log.local.retention.bytes",),
    "compression.gzip.level": ("compression.gzip.level",),
    "compression.lz4.level": ("compression.lz4.level",),
    "compression.zstd.level": ("compression.zstd.level",),
}
_UNIT_MS = {"hours": 3_600_000, "minutes": 60_000}


@dataclass
class ConfigEntry:
    name: str
    value: str | None
    source: int
    read_only: bool = False
    is_sensitive: bool = False
    config_type: int = 0
    documentation: str | None = None
    synonyms: list[tuple[str, str | None, int]] = field(default_factory=list)  # (name, value, source)


class ConfigRejected(Exception):
    """A config change Kafka refuses: the error code and message of the resource's answer."""

    def __init__(self, error_code: int, message: str | None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def format_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def type_error(config_type: str, raw: str) -> str | None:
    """Kafka's ConfigDef.parseType message for a value of the wrong type, or None."""
    text = raw.strip()
    ranges = {"int": (INT_MIN, INT_MAX), "short": (-(2**15), 2**15 - 1), "long": (LONG_MIN, LONG_MAX)}
    try:
        if config_type in ranges:
            low, high = ranges[config_type]
            if not low <= int(text) <= high:
                raise ValueError
        elif config_type == "double":
            float(text)
        elif config_type == "boolean" and text.lower() not in ("true", "false"):
            return "Expected value to be either true or false"
    except ValueError:
        return f"Not a number of type {config_type.upper()}"
    return None


@dataclass(frozen=True)
class BrokerLayers:
    """The broker config values that topic defaults come from, by precedence."""

    dynamic_broker: Mapping[str, str]  # this broker's dynamic configs (resource "<node id>")
    dynamic_default: Mapping[str, str]  # cluster-wide dynamic defaults (resource "")
    static: Mapping[str, str]  # server.properties, normalized

    @classmethod
    def of(cls, config: BrokerConfig, broker_configs: Mapping[str, Mapping[str, str]] | None = None, node_id: int | None = None) -> BrokerLayers:
        dynamic = broker_configs or {}
        static = {name: format_value(config[name]) for name in config.originals if name in BROKER_CONFIGS}
        return cls(dict(dynamic.get(str(config.node_id if node_id is None else node_id), {})), dict(dynamic.get("", {})),
                   {k: v for k, v in static.items() if v is not None})

    def levels(self) -> Iterable[tuple[int, Mapping[str, str]]]:
        yield DYNAMIC_BROKER_CONFIG, self.dynamic_broker
        yield DYNAMIC_DEFAULT_BROKER_CONFIG, self.dynamic_default
        yield STATIC_BROKER_CONFIG, self.static
        yield DEFAULT_CONFIG, _BROKER_DEFAULTS

    def synonyms(self, chain: tuple[str, ...], anchor: str) -> list[tuple[str, str | None, int]]:
        """Kafka's DynamicBrokerConfig synonyms: every level, every name of the
        chain, then everything before the first entry named `anchor` dropped."""
        found = [(name, layer[name], source) for source, layer in self.levels() for name in chain if name in layer]
        for i, (name, _, _) in enumerate(found):
            if name == anchor:
                return found[i:]
        return []

    def merged(self) -> dict[str, str]:
        """What a broker runs with: dynamic per-broker over cluster default over static."""
        return {**self.static, **self.dynamic_default, **self.dynamic_broker}


_BROKER_DEFAULTS = {name: v for name, d in BROKER_CONFIGS.items() if (v := format_value(d.default)) is not None}


def _chain(topic_config: str) -> tuple[str, ...]:
    return TOPIC_CONFIG_SYNONYMS.get(topic_config) or _MORE_SYNONYMS.get(topic_config, ())


def _as_topic_value(broker_name: str, raw: str) -> str:
    unit = broker_name.rsplit(".", 1)[-1]
    if unit in _UNIT_MS:
        return str(int(raw) * _UNIT_MS[unit])
    if BROKER_CONFIGS.get(broker_name) is not None and BROKER_CONFIGS[broker_name].type == "list":
        return ",".join(item.strip() for item in raw.split(",") if item.strip())
    return raw


def effective_topic_defaults(layers: BrokerLayers) -> dict[str, str]:
    """Topic config defaults that come from broker configs someone set (statically or
    dynamically). Kafka resolves the synonyms over the merged config, so a
    log.retention.ms set anywhere wins over log.retention.hours set anywhere."""
    merged = layers.merged()
    out = {}
    for topic_config, chain in TOPIC_CONFIG_SYNONYMS.items():
        for name in chain:
            if name in merged:
                out[topic_config] = _as_topic_value(name, merged[name])
                break
    return out


def describe_topic_configs(broker_config: BrokerConfig, overrides: Mapping[str, str], names: list[str] | None = None,
                           layers: BrokerLayers | None = None) -> list[ConfigEntry]:
    layers = layers or BrokerLayers.of(broker_config)
    defaults = effective_topic_defaults(layers)
    entries = []
    for name, definition in TOPIC_CONFIGS.items():
        if definition.internal or (names is not None and name not in names):
            continue
        chain = _chain(name)
        synonyms = layers.synonyms(chain, chain[0]) if chain else []
        if chain and synonyms == [] and chain[0] not in BROKER_CONFIGS and chain[0] not in layers.merged():
            synonyms = [(chain[0], format_value(definition.default), DEFAULT_CONFIG)]
        if name in overrides:
            synonyms.insert(0, (name, overrides[name], DYNAMIC_TOPIC_CONFIG))
            value = overrides[name]
        else:
            value = defaults.get(name, format_value(definition.default))
        entries.append(
            ConfigEntry(
                name=name,
                value=value,
                source=synonyms[0][2] if synonyms else DEFAULT_CONFIG,
                config_type=CONFIG_TYPES.get(definition.type, 0),
                documentation=definition.doc or None,
                synonyms=synonyms,
            )
        )
    return entries


def _check_value(name: str, raw: str) -> None:
    definition = TOPIC_CONFIGS.get(name)
    if definition is None:
        raise ConfigRejected(ErrorCode.INVALID_CONFIG, f"Unknown topic config name: {name}")
    problem = type_error(definition.type, raw)
    if problem is not None:
        raise ConfigRejected(ErrorCode.INVALID_CONFIG, f"Invalid value {raw} for configuration {name}: {problem}")


def check_topic_overrides(overrides: Mapping[str, str]) -> None:
    """Validate a topic's complete new set of overrides (Kafka validates the whole LogConfig)."""
    for name, raw in overrides.items():
        _check_value(name, raw)
    try:
        LogConfig(overrides)
    except InvalidConfigError as e:
        raise ConfigRejected(ErrorCode.INVALID_CONFIG, str(e)) from None


def check_no_duplicates(names: list[str]) -> None:
    if len(set(names)) != len(names):
        raise ConfigRejected(ErrorCode.INVALID_REQUEST, "Error due to duplicate config keys")


def replaced_configs(configs: list[tuple[str, str | None]]) -> dict[str, str]:
    """Legacy AlterConfigs: the given set becomes the whole set of overrides."""
    check_no_duplicates([name for name, _ in configs])
    out = {}
    for name, value in configs:
        if value is None:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Null value not supported for : {name}")
        out[name] = value
    return out


def incremental_configs(current: Mapping[str, str], ops: list[tuple[str, int, str | None]],
                        list_type: Mapping[str, bool], defaults: Mapping[str, str | None]) -> dict[str, str]:
    """IncrementalAlterConfigs (KIP-339) applied to a resource's overrides.

    APPEND and SUBTRACT work on list configs only, starting from the override
    or else the config's own default (as Kafka's controller does: not the
    broker-level default). SUBTRACT may leave an empty list.
    """
    check_no_duplicates([name for name, _, _ in ops])
    out = dict(current)
    for name, op, value in ops:
        if op == DELETE:
            out.pop(name, None)
            continue
        if op not in (SET, APPEND, SUBTRACT):
            # Kafka's OpType.forId gives null and the broker fails with an
            # unexpected error: UNKNOWN_SERVER_ERROR without a message.
            raise ConfigRejected(ErrorCode.UNKNOWN_SERVER_ERROR, None)
        if value is None:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Null value not supported for : {name}")
        if op == SET:
            out[name] = value
            continue
        if not list_type.get(name, False):
            raise ConfigRejected(ErrorCode.INVALID_CONFIG, f"Can't {_OP_NAMES[op]} to key {name} because its type is not LIST.")
        old = out.get(name, defaults.get(name)) or ""
        items = [item.strip() for item in old.split(",") if item.strip()]
        given = [item.strip() for item in value.split(",") if item.strip()]
        if op == APPEND:
            items += [item for item in given if item not in items]
        else:
            items = [item for item in items if item not in given]
        out[name] = ",".join(items)
    return out


TOPIC_LIST_CONFIGS = {name: d.type == "list" for name, d in TOPIC_CONFIGS.items()}
TOPIC_DEFAULTS = {name: format_value(d.default) for name, d in TOPIC_CONFIGS.items()}
