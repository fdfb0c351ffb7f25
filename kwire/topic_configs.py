"""Topic configs as DescribeConfigs and CreateTopics report them.

Every topic config is listed, not only the ones set, each with its value and
where the value comes from, in Kafka's order of precedence: the topic's own
override (DYNAMIC_TOPIC_CONFIG), a broker config from server.properties
that sets the default (STATIC_BROKER_CONFIG, through Kafka's synonyms), or
Kafka's default (DEFAULT_CONFIG). Synonyms list the lower-precedence
sources too (DescribeConfigs v1+ with include_synonyms).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kwire_storage.config import TOPIC_CONFIGS

from kwire.config import BrokerConfig

# Kafka's ConfigSource (DescribeConfigsResponse): the values on the wire.
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

# Kafka's ConfigType (DescribeConfigs v3+).
_CONFIG_TYPES = {"boolean": 1, "string": 2, "int": 3, "short": 4, "long": 5, "double": 6, "list": 7, "class": 8, "password": 9}


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


def describe_topic_configs(broker_config: BrokerConfig, overrides: Mapping[str, str], names: list[str] | None = None) -> list[ConfigEntry]:
    entries = []
    for name, definition in TOPIC_CONFIGS.items():
        if definition.internal or (names is not None and name not in names):
            continue
        synonyms: list[tuple[str, str | None, int]] = []
        if name in overrides:
            synonyms.append((name, overrides[name], DYNAMIC_TOPIC_CONFIG))
        broker_default = broker_config.topic_default(name)
        if broker_default is not None:
            synonyms.append((broker_default[0], format_value(broker_config[broker_default[0]]), STATIC_BROKER_CONFIG))
        synonyms.append((name, format_value(definition.default), DEFAULT_CONFIG))
        if name in overrides:
            value, source = overrides[name], DYNAMIC_TOPIC_CONFIG
        elif broker_default is not None:
            value, source = broker_default[1], STATIC_BROKER_CONFIG
        else:
            value, source = format_value(definition.default), DEFAULT_CONFIG
        entries.append(
            ConfigEntry(
                name=name,
                value=value,
                source=source,
                config_type=_CONFIG_TYPES.get(definition.type, 0),
                documentation=definition.doc or None,
                synonyms=synonyms,
            )
        )
    return entries
