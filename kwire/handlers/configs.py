"""DescribeConfigs (api key 32) v1-4, AlterConfigs (33) v0-2, IncrementalAlterConfigs (44) v0-1.

Resources: TOPIC, BROKER (this node's id, or "" for the cluster-wide
defaults) and BROKER_LOGGER (Python's loggers under Kafka's level names).
What is listed and how values, sources and synonyms are worked out lives in
kwire/topic_configs.py and kwire/broker_configs.py; this module decodes,
checks resource names, writes through the metadata quorum and answers.

Errors are Kafka 4.4's, codes and messages, checked against a real broker:
unknown topic UNKNOWN_TOPIC_OR_PARTITION, bad topic name
INVALID_TOPIC_EXCEPTION, bad config name or value INVALID_CONFIG (for topics)
or INVALID_REQUEST (for brokers, KAFKA-13609), null values, duplicate keys,
duplicate resources and other brokers' ids INVALID_REQUEST.

Writes: the new overrides of each resource are computed from the current
image and written whole (`replace`), so legacy AlterConfigs replaces the
set as Kafka does; two concurrent incremental changes of one resource may
lose one of them (Kafka's controller serialises them). `validate_only`
runs every check and writes nothing. Changes reach the logs through
PartitionManager.apply_image; the answer waits until this broker's image
includes them, so a describe or produce that follows sees them.

Differs from Kafka: GROUP and CLIENT_METRICS resources are answered with
INVALID_REQUEST (kwire has no group or client-metrics configs yet); only the
broker configs kwire applies live are dynamic (see broker_configs.py);
BROKER_LOGGER levels are not kept across restarts (nor are they in Kafka).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_raft.commands import ConfigChange
from kwire_raft.errors import QuorumError

from kwire.broker_configs import (BROKER_DEFAULTS, BROKER_LIST_CONFIGS, apply_logger_ops, broker_id, check_broker_configs,
                                  check_logger_ops, describe_broker_configs, describe_loggers)
from kwire.handlers import handles
from kwire.topic_admin import QUORUM_WRITE_TIMEOUT
from kwire.topic_configs import (TOPIC_DEFAULTS, TOPIC_LIST_CONFIGS, BrokerLayers, ConfigEntry, ConfigRejected,
                                 check_topic_overrides, describe_topic_configs, incremental_configs, replaced_configs)
from kwire.topics import MAX_NAME_LENGTH, invalid_topic_reason

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8

DescribeConfigsResponse = messages.DescribeConfigsResponse
DescribeResult = DescribeConfigsResponse.cls.DescribeConfigsResult
DescribedConfig = DescribeResult.DescribeConfigsResourceResult
Synonym = DescribedConfig.DescribeConfigsSynonym
AlterConfigsResponse = messages.AlterConfigsResponse
IncrementalAlterConfigsResponse = messages.IncrementalAlterConfigsResponse

# Errors.INVALID_REQUEST's default message, which Kafka sends for an
# unknown resource type in DescribeConfigs.
_INVALID_REQUEST_MESSAGE = ("This most likely occurs because of a request being malformed by the client library or the "
                            "message was sent to an incompatible broker. See the broker logs for more details.")


def _check_topic_name(name: str) -> None:
    """Kafka's Topic.validate: CreateTopics' checks and messages (kwire.topics), but
    its own wording of the length limit."""
    if len(name) > MAX_NAME_LENGTH:
        reason: str | None = f"Topic name is invalid: the length of '{name}' is longer than {MAX_NAME_LENGTH}"
    else:
        reason = invalid_topic_reason(name)
    if reason is not None:
        raise ConfigRejected(ErrorCode.INVALID_TOPIC_EXCEPTION, reason)


# -- DescribeConfigs ------------------------------------------------------------

def _describe_resource(broker: Any, resource_type: int, name: str, layers: BrokerLayers) -> list[ConfigEntry]:
    if resource_type == TOPIC:
        _check_topic_name(name)
        topic = broker.image.topic(name)
        if topic is None:
            raise ConfigRejected(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "")
        return describe_topic_configs(broker.config, topic.configs, layers=layers)
    if resource_type == BROKER:
        if name == "":
            return describe_broker_configs(layers, per_broker=False)
        if broker_id(name) != broker.node_id:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST,
                                 f"Unexpected broker id, expected {broker.node_id} or empty string, but received {name}")
        return describe_broker_configs(layers, per_broker=True)
    if resource_type == BROKER_LOGGER:
        if name == "":
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, "Broker id must not be empty")
        if broker_id(name) != broker.node_id:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Unexpected broker id, expected {broker.node_id} but received {name}")
        return describe_loggers()
    raise ConfigRejected(ErrorCode.INVALID_REQUEST, _INVALID_REQUEST_MESSAGE)


@handles(ApiKey.DESCRIBE_CONFIGS, 1, 4)
def describe_configs_handler(broker: Any, request: Any) -> Any:
    body = request.body
    layers = BrokerLayers.of(broker.config, broker.image.broker_configs, broker.node_id)
    results = []
    for resource in body.resources:
        keys = resource.configuration_keys
        try:
            entries = _describe_resource(broker, resource.resource_type, resource.resource_name, layers)
        except ConfigRejected as e:
            results.append(DescribeResult(error_code=e.error_code, error_message=e.message, resource_type=resource.resource_type,
                                          resource_name=resource.resource_name, configs=[]))
            continue
        configs = [
            DescribedConfig(
                name=e.name, value=e.value, read_only=e.read_only, config_source=e.source, is_sensitive=e.is_sensitive,
                synonyms=[Synonym(name=n, value=v, source=s) for n, v, s in e.synonyms] if body.include_synonyms else [],
                config_type=e.config_type, documentation=e.documentation if body.include_documentation else None,
            )
            for e in entries
            if not keys or e.name in keys  # null or empty: every config
        ]
        results.append(DescribeResult(error_code=ErrorCode.NONE, error_message="", resource_type=resource.resource_type,
                                      resource_name=resource.resource_name, configs=configs))
    return DescribeConfigsResponse(throttle_time_ms=0, results=results)


# -- AlterConfigs, IncrementalAlterConfigs ---------------------------------------

Ops = list[tuple[str, int, str | None]]  # (name, operation, value); legacy AlterConfigs: SET only


class _Outcome:
    def __init__(self, resource_type: int, name: str) -> None:
        self.resource_type, self.name = resource_type, name
        self.error_code: int = ErrorCode.NONE
        self.error_message: str | None = None
        self.change: ConfigChange | None = None


def _plan(broker: Any, outcome: _Outcome, ops: Ops, incremental: bool, validate_only: bool, layers: BrokerLayers) -> None:
    """Check one resource; on success leave the quorum change to make in outcome.change."""
    name, image = outcome.name, broker.image
    if outcome.resource_type == TOPIC:
        _check_topic_name(name)
        topic = image.topic(name)
        if topic is None:
            raise ConfigRejected(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{name}' does not exist.")
        if incremental:
            new = incremental_configs(topic.configs, ops, TOPIC_LIST_CONFIGS, TOPIC_DEFAULTS)
        else:
            new = replaced_configs([(n, v) for n, _, v in ops])
        check_topic_overrides(new)
        outcome.change = ConfigChange(name, set=new, replace=True)
    elif outcome.resource_type == BROKER:
        if name != "" and broker_id(name) != broker.node_id:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Unexpected broker id, expected {broker.node_id}, but received {name}")
        current = image.broker_configs.get(name, {})
        if incremental:
            new = incremental_configs(current, ops, BROKER_LIST_CONFIGS, BROKER_DEFAULTS)
        else:
            new = replaced_configs([(n, v) for n, _, v in ops])
        check_broker_configs(new, name != "", layers)
        outcome.change = ConfigChange(name, set=new, replace=True)
    elif outcome.resource_type == BROKER_LOGGER and incremental:
        if name == "":
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, "Broker id must not be empty")
        if broker_id(name) != broker.node_id:
            raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Unexpected broker id, expected {broker.node_id} but received {name}")
        check_logger_ops(ops)
        if not validate_only:
            apply_logger_ops(ops)  # local to this process, as Kafka's log4j levels are
    else:
        raise ConfigRejected(ErrorCode.INVALID_REQUEST, f"Unknown resource type {outcome.resource_type}")


async def _write(future: Any, outcomes: list[_Outcome]) -> None:
    try:
        items = await asyncio.wait_for(asyncio.wrap_future(future), QUORUM_WRITE_TIMEOUT)
    except (asyncio.TimeoutError, QuorumError) as e:
        # The same codes as topic_admin.quorum_write: the quorum's own, or a timeout.
        code = e.error_code if isinstance(e, QuorumError) else ErrorCode.REQUEST_TIMED_OUT
        for outcome in outcomes:
            outcome.error_code, outcome.error_message = code, f"The metadata quorum did not commit the change: {str(e) or 'timed out'}"
        return
    for outcome, item in zip(outcomes, items):
        outcome.error_code, outcome.error_message = item.error_code, item.error_message


async def alter_configs(broker: Any, resources: list[tuple[int, str, Ops]], validate_only: bool, incremental: bool) -> list[_Outcome]:
    layers = BrokerLayers.of(broker.config, broker.image.broker_configs, broker.node_id)
    keys = [(t, n) for t, n, _ in resources]
    outcomes = []
    for resource_type, name, ops in resources:
        outcome = _Outcome(resource_type, name)
        outcomes.append(outcome)
        try:
            if keys.count((resource_type, name)) > 1:
                raise ConfigRejected(ErrorCode.INVALID_REQUEST, "Each resource must appear at most once.")
            _plan(broker, outcome, ops, incremental, validate_only, layers)
        except ConfigRejected as e:
            outcome.error_code, outcome.error_message, outcome.change = e.error_code, e.message, None
    if validate_only:
        return outcomes
    topics = [o for o in outcomes if o.change is not None and o.resource_type == TOPIC]
    brokers = [o for o in outcomes if o.change is not None and o.resource_type == BROKER]
    writes = []
    if topics:
        writes.append(_write(broker.quorum.alter_topic_configs([o.change for o in topics]), topics))
    if brokers:
        writes.append(_write(broker.quorum.alter_broker_configs([o.change for o in brokers]), brokers))
    if writes:
        await asyncio.gather(*writes)
        await broker.image_at_least(broker.quorum.image.offset)
    return outcomes


def _responses(response_type: Any, outcomes: list[_Outcome]) -> Any:
    cls = response_type.cls.AlterConfigsResourceResponse
    return response_type(throttle_time_ms=0, responses=[
        cls(error_code=o.error_code, error_message=o.error_message, resource_type=o.resource_type, resource_name=o.name)
        for o in outcomes
    ])


@handles(ApiKey.ALTER_CONFIGS, 0, 2)
async def alter_configs_handler(broker: Any, request: Any) -> Any:
    body = request.body
    resources = [(r.resource_type, r.resource_name, [(c.name, 0, c.value) for c in r.configs]) for r in body.resources]
    return _responses(AlterConfigsResponse, await alter_configs(broker, resources, body.validate_only, incremental=False))


@handles(ApiKey.INCREMENTAL_ALTER_CONFIGS, 0, 1)
async def incremental_alter_configs_handler(broker: Any, request: Any) -> Any:
    body = request.body
    resources = [(r.resource_type, r.resource_name, [(c.name, c.config_operation, c.value) for c in r.configs])
                 for r in body.resources]
    return _responses(IncrementalAlterConfigsResponse, await alter_configs(broker, resources, body.validate_only, incremental=True))
