"""Broker configs as DescribeConfigs and the AlterConfigs APIs see them.

A BROKER resource is named by a node id (this broker's configs, every one
listed with its source) or "" (the cluster-wide dynamic defaults: only the
ones set). Dynamic broker configs live in the metadata quorum
(`MetadataImage.broker_configs`) and override server.properties.

kwire accepts as dynamic only the configs that are dynamic in Kafka *and*
that kwire applies at once: the broker defaults of topic configs
(log.retention.ms, message.max.bytes, log.cleanup.policy, ...), which
PartitionManager folds into every log's config. Kafka's other dynamic
configs that kwire knows (listeners, max.connections, thread pools, ...) are
refused as read-only, which is where kwire differs from Kafka. Keys kwire
does not know are stored and ignored, as Kafka stores unknown (custom)
broker configs.

BROKER_LOGGER resources are Python's loggers, with Kafka's level names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kwire_protocol.error_codes import ErrorCode
from kwire_storage.config import LogConfig
from kwire_storage.errors import InvalidConfigError

from kwire.config import BROKER_CONFIGS, TOPIC_CONFIG_SYNONYMS, ConfigError, parse_value
from kwire.topic_configs import (CONFIG_TYPES, DEFAULT_CONFIG, DELETE, DYNAMIC_BROKER_LOGGER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG,
                                 SET, BrokerLayers, ConfigEntry, ConfigRejected, effective_topic_defaults, format_value,
                                 type_error)

# Dynamic in Kafka (DynamicBrokerConfig.AllDynamicConfigs, as a 4.4 broker
# reports read_only=false) and applied live by kwire. Kafka keeps
# log.retention.hours/minutes, log.roll.hours and log.roll.jitter.hours
# read-only: only their .ms forms are dynamic.
DYNAMIC_CONFIGS = frozenset(
    name
    for chain in TOPIC_CONFIG_SYNONYMS.values()
    for name in chain
    if not name.endswith((".hours", ".minutes"))
)

# Kafka's log4j level names -> Python's levels.
LOG_LEVELS = {"TRACE": 5, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
              "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}
_LEVEL_NAMES = {v: k for k, v in LOG_LEVELS.items()}
ROOT_LOGGER = "root"


def broker_id(resource_name: str) -> int:
    try:
        return int(resource_name)
    except ValueError:
        raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Broker id must be an integer, but it is: {resource_name}") from None


def _entry(name: str, layers: BrokerLayers, per_broker: bool) -> ConfigEntry:
    definition = BROKER_CONFIGS.get(name)
    chain = next((c[c.index(name):] for c in TOPIC_CONFIG_SYNONYMS.values() if name in c), (name,))
    synonyms = layers.synonyms(chain, name)
    if not per_broker:
        synonyms = [s for s in synonyms if s[2] == DYNAMIC_DEFAULT_BROKER_CONFIG]
    sensitive = definition is not None and definition.type == "password"
    if sensitive:
        synonyms = [(n, None, s) for n, _, s in synonyms]
    own = [s for s in synonyms if s[0] == name]
    return ConfigEntry(
        name=name,
        value=None if sensitive or not own else own[0][1],
        source=synonyms[0][2] if synonyms else DEFAULT_CONFIG,
        read_only=name not in DYNAMIC_CONFIGS,
        is_sensitive=sensitive,
        config_type=CONFIG_TYPES.get(definition.type, 0) if definition else CONFIG_TYPES["string"],
        documentation=definition.doc if definition else None,
        synonyms=synonyms,
    )


def describe_broker_configs(layers: BrokerLayers, per_broker: bool) -> list[ConfigEntry]:
    """`per_broker`: every config of this broker; otherwise the cluster-wide dynamic defaults set."""
    names = list(BROKER_CONFIGS) if per_broker else list(layers.dynamic_default)
    return [_entry(name, layers, per_broker) for name in names]


def check_broker_configs(configs: Mapping[str, str], per_broker: bool, layers: BrokerLayers) -> None:
    """Validate a broker resource's new dynamic configs; Kafka answers INVALID_REQUEST
    for all of these (KAFKA-13609 keeps it so for compatibility)."""
    read_only = sorted(name for name in configs if name in BROKER_CONFIGS and name not in DYNAMIC_CONFIGS)
    if read_only:
        raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Cannot update these configs dynamically: [{', '.join(read_only)}]")
    for name, raw in configs.items():
        definition = BROKER_CONFIGS.get(name)
        if definition is None:
            continue
        problem = type_error(definition.type, raw)
        if problem is None:
            try:
                parse_value(name, raw)
            except ConfigError as e:
                problem = "Value " + str(e).rsplit(": ", 1)[-1]
        if problem is not None:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Invalid value {raw} for configuration {name}: {problem}")
    # The new broker defaults must still make a valid topic config.
    new_layers = BrokerLayers(dict(configs) if per_broker else layers.dynamic_broker,
                              layers.dynamic_default if per_broker else dict(configs), layers.static)
    try:
        LogConfig(effective_topic_defaults(new_layers))
    except InvalidConfigError as e:
        raise ConfigRejected(ErrorCode.INVALID_REQUEST, str(e)) from None


BROKER_LIST_CONFIGS = {name: d.type == "list" for name, d in BROKER_CONFIGS.items()}
BROKER_DEFAULTS = {name: format_value(d.default) for name, d in BROKER_CONFIGS.items()}


# -- BROKER_LOGGER -------------------------------------------------------------

def describe_loggers() -> list[ConfigEntry]:
    loggers = [(ROOT_LOGGER, logging.getLogger())]
    loggers += sorted((name, lg) for name, lg in logging.Logger.manager.loggerDict.items() if isinstance(lg, logging.Logger))
    return [
        ConfigEntry(name=name, value=_LEVEL_NAMES.get(lg.getEffectiveLevel(), logging.getLevelName(lg.getEffectiveLevel())),
                    source=DYNAMIC_BROKER_LOGGER_CONFIG)
        for name, lg in loggers
    ]


def check_logger_ops(ops: list[tuple[str, int, str | None]]) -> None:
    for name, op, value in ops:
        if op == SET:
            if value not in LOG_LEVELS:
                raise ConfigRejected(ErrorCode.INVALID_CONFIG,
                                     f"Cannot set the log level of {name} to {value} as it is not a supported log level. "
                                     f"Valid log levels are {', '.join(sorted(LOG_LEVELS))}")
        elif op == DELETE:
            if name == ROOT_LOGGER:
                raise ConfigRejected(ErrorCode.INVALID_REQUEST, "Removing the log level of the root logger is not allowed")
        else:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Operation {op} is not allowed for BROKER_LOGGER resources")


def apply_logger_ops(ops: list[tuple[str, int, str | None]]) -> None:
    for name, op, value in ops:
        logger = logging.getLogger() if name == ROOT_LOGGER else logging.getLogger(name)
        logger.setLevel(LOG_LEVELS[value] if op == SET and value is not None else logging.NOTSET)
