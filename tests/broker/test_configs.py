"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs against a real broker.

Through kafka-python's KafkaAdminClient and confluent-kafka's AdminClient;
error paths that clients cannot reach (another broker's id, duplicate
resources) through raw frames. Expected values, sources and error codes are
what Apache Kafka 4.4 answers (checked against a reference broker).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType
from confluent_kafka.admin import ConfigEntry as CEntry
from confluent_kafka.admin import ConfigResource as CResource
from confluent_kafka.admin import ResourceType
from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import MessageSizeTooLargeError

from kwire.testing import BrokerProcess
from kwire_protocol import messages
from kwire_protocol.messages import ApiKey
from tests.broker.wire import WireClient

TIMEOUT = 15.0
DYNAMIC_TOPIC_CONFIG, DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 2, 3, 4, 5

# Every topic config kwire knows, as Kafka lists them (Kafka 4.4 also has
# errors.deadletterqueue.group.enable, remote.copy.lag.*, max.decompressed.message.bytes).
# The 37 topic configs Kafka 4.4 describes for a new topic.
TOPIC_CONFIG_NAMES = {
    "errors.deadletterqueue.group.enable", "max.decompressed.message.bytes", "remote.copy.lag.bytes", "remote.copy.lag.ms",
    "cleanup.policy", "compression.type", "compression.gzip.level", "compression.lz4.level", "compression.zstd.level",
    "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms", "follower.replication.throttled.replicas",
    "index.interval.bytes", "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
    "max.compaction.lag.ms", "max.message.bytes", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
    "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "remote.storage.enable", "remote.log.copy.disable", "remote.log.delete.on.disable", "retention.bytes", "retention.ms",
    "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
}


@pytest.fixture
def topic(admin: KafkaAdminClient, topic_name: str) -> str:
    admin.create_topics([NewTopic(topic_name, 1, 1)])
    return topic_name


def topic_configs(admin: KafkaAdminClient, name: str, keys: dict[str, None] | None = None) -> dict[str, dict[str, Any]]:
    result = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, keys)], include_synonyms=True, config_filter="all")
    configs: dict[str, dict[str, Any]] = result["topic"][name]
    return configs


def incremental(cadmin: AdminClient, resource_type: ResourceType, name: str, ops: list[tuple[str, AlterConfigOpType, str | None]],
                validate_only: bool = False) -> KafkaError | None:
    """One IncrementalAlterConfigs resource; returns the error, or None."""
    entries = [CEntry(key, value, incremental_operation=op) for key, op, value in ops]
    futures = cadmin.incremental_alter_configs([CResource(resource_type, name, incremental_configs=entries)], validate_only=validate_only)
    (future,) = futures.values()
    try:
        future.result(TIMEOUT)
    except KafkaException as e:
        error: KafkaError = e.args[0]
        return error
    return None


def legacy_alter(cadmin: AdminClient, resource_type: ResourceType, name: str, configs: dict[str, str]) -> KafkaError | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # confluent-kafka deprecates AlterConfigs; brokers still serve it
        futures = cadmin.alter_configs([CResource(resource_type, name, set_config=configs)])
    (future,) = futures.values()
    try:
        future.result(TIMEOUT)
    except KafkaException as e:
        error: KafkaError = e.args[0]
        return error
    return None


def raw_call(broker: BrokerProcess, api_key: int, version: int, body: Any) -> Any:
    """One request over a plain socket, for error paths clients do not take."""
    assert broker.port is not None
    with WireClient.connect(broker.port, timeout=TIMEOUT) as wire:
        return wire.call(api_key, version, body)


def incremental_raw(broker: BrokerProcess, resource_type: int, name: str, ops: list[tuple[str, int, str | None]]) -> tuple[int, str | None]:
    """IncrementalAlterConfigs for what clients refuse to send, e.g. the cluster-wide
    default broker resource "" (Kafka's kafka-configs --entity-default)."""
    request = messages.IncrementalAlterConfigsRequest.cls
    resource = request.AlterConfigsResource
    configs = [resource.AlterableConfig(name=n, config_operation=op, value=v) for n, op, v in ops]
    body = request(resources=[resource(resource_type=resource_type, resource_name=name, configs=configs)], validate_only=False)
    (result,) = raw_call(broker, ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, body).responses
    return result.error_code, result.error_message


def describe_raw(broker: BrokerProcess, resource_type: int, name: str, keys: list[str] | None = None, version: int = 4) -> Any:
    request = messages.DescribeConfigsRequest.cls
    body = request(resources=[request.DescribeConfigsResource(resource_type=resource_type, resource_name=name, configuration_keys=keys)],
                   include_synonyms=True, include_documentation=True)
    (result,) = raw_call(broker, ApiKey.DESCRIBE_CONFIGS, version, body).results
    return result


# -- DescribeConfigs -------------------------------------------------------------


def test_describe_topic_lists_every_config_with_default_and_source(admin: KafkaAdminClient, topic: str) -> None:
    configs = topic_configs(admin, topic)
    assert set(configs) == TOPIC_CONFIG_NAMES
    retention = configs["retention.ms"]
    assert (retention["value"], retention["config_source"], retention["config_type"]) == ("604800000", "DEFAULT_CONFIG", "LONG")
    assert retention["read_only"] is False and retention["is_sensitive"] is False
    # Kafka's quirk, kept: log.retention.ms has no default, so no synonyms.
    assert retention["synonyms"] == []
    policy = configs["cleanup.policy"]
    assert (policy["value"], policy["config_source"], policy["config_type"]) == ("delete", "DEFAULT_CONFIG", "LIST")
    assert [(s["name"], s["value"], s["source"]) for s in policy["synonyms"]] == [("log.cleanup.policy", "delete", "DEFAULT_CONFIG")]
    assert configs["max.message.bytes"]["value"] == "1048588"
    assert configs["min.cleanable.dirty.ratio"]["value"] == "0.5"
    assert configs["preallocate"]["value"] == "false"


def test_describe_only_requested_keys(admin: KafkaAdminClient, topic: str) -> None:
    assert set(topic_configs(admin, topic, {"retention.ms": None, "segment.bytes": None})) == {"retention.ms", "segment.bytes"}


def test_describe_documentation_and_types_by_version(broker: BrokerProcess, topic: str) -> None:
    v4 = describe_raw(broker, 2, topic, ["retention.ms"])
    (entry,) = v4.configs
    assert (entry.config_type, entry.config_source) == (5, DEFAULT_CONFIG)
    assert entry.documentation
    (entry,) = describe_raw(broker, 2, topic, ["retention.ms"], version=1).configs
    assert (entry.value, entry.config_source, entry.config_type) == ("604800000", DEFAULT_CONFIG, 0)
    assert describe_raw(broker, 2, topic, ["no.such.config"]).configs == []


def test_describe_unknown_topic(cadmin: AdminClient) -> None:
    (future,) = cadmin.describe_configs([CResource(ResourceType.TOPIC, "no-such-topic-for-configs")]).values()
    with pytest.raises(KafkaException) as raised:
        future.result(TIMEOUT)
    assert raised.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_describe_bad_resources(broker: BrokerProcess) -> None:
    bad_name = describe_raw(broker, 2, "bad name!")
    assert (bad_name.error_code, bad_name.error_message) == (
        17, "Topic name is invalid: 'bad name!' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'")
    long_name = describe_raw(broker, 2, "x" * 250)
    assert (long_name.error_code, long_name.error_message) == (17, f"Topic name is invalid: the length of '{'x' * 250}' is longer than 249")
    dots = describe_raw(broker, 2, "..")
    assert (dots.error_code, dots.error_message) == (17, "Topic name is invalid: '..' is not allowed")
    other_broker = describe_raw(broker, 4, "99")
    assert (other_broker.error_code, other_broker.error_message) == (42, "Unexpected broker id, expected 1 or empty string, but received 99")
    assert describe_raw(broker, 4, "abc").error_code == 42
    assert describe_raw(broker, 99, "x").error_code == 42
    assert describe_raw(broker, 8, "").error_code == 42
    loggers = describe_raw(broker, 8, "1")
    assert loggers.error_code == 0
    assert ("root", "INFO", 6) in [(c.name, c.value, c.config_source) for c in loggers.configs]


def test_describe_broker(admin: KafkaAdminClient) -> None:
    result = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1", None)], include_synonyms=True, config_filter="all")
    configs = result["broker"]["1"]
    assert (configs["message.max.bytes"]["value"], configs["message.max.bytes"]["config_source"]) == ("1048588", "DEFAULT_CONFIG")
    assert configs["message.max.bytes"]["read_only"] is False
    assert configs["num.partitions"]["read_only"] is True
    assert configs["log.retention.hours"]["read_only"] is True
    assert configs["log.retention.ms"]["value"] is None
    assert configs["node.id"]["value"] == "1"


# -- AlterConfigs / IncrementalAlterConfigs on topics ------------------------------


def test_alter_then_describe_then_delete_restores_default(admin: KafkaAdminClient, cadmin: AdminClient, topic: str) -> None:
    assert admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "3600000"})]) == {"topic": {topic: "OK"}}
    retention = topic_configs(admin, topic)["retention.ms"]
    assert (retention["value"], retention["config_source"]) == ("3600000", "DYNAMIC_TOPIC_CONFIG")
    assert [(s["name"], s["value"], s["source"]) for s in retention["synonyms"]] == [("retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG")]

    assert incremental(cadmin, ResourceType.TOPIC, topic, [("retention.ms", AlterConfigOpType.DELETE, None)]) is None
    retention = topic_configs(admin, topic)["retention.ms"]
    assert (retention["value"], retention["config_source"]) == ("604800000", "DEFAULT_CONFIG")


def test_append_and_subtract_list_config(admin: KafkaAdminClient, cadmin: AdminClient, topic: str) -> None:
    assert incremental(cadmin, ResourceType.TOPIC, topic, [("cleanup.policy", AlterConfigOpType.APPEND, "compact")]) is None
    assert topic_configs(admin, topic)["cleanup.policy"]["value"] == "delete,compact"
    assert incremental(cadmin, ResourceType.TOPIC, topic, [("cleanup.policy", AlterConfigOpType.APPEND, "compact")]) is None
    assert topic_configs(admin, topic)["cleanup.policy"]["value"] == "delete,compact"
    assert incremental(cadmin, ResourceType.TOPIC, topic, [("cleanup.policy", AlterConfigOpType.SUBTRACT, "delete")]) is None
    policy = topic_configs(admin, topic)["cleanup.policy"]
    assert (policy["value"], policy["config_source"]) == ("compact", "DYNAMIC_TOPIC_CONFIG")
    error = incremental(cadmin, ResourceType.TOPIC, topic, [("retention.ms", AlterConfigOpType.APPEND, "5")])
    assert error is not None and error.code() == KafkaError.INVALID_CONFIG
    assert error.str() == "Can't APPEND to key retention.ms because its type is not LIST."


def test_legacy_alter_replaces_every_override(admin: KafkaAdminClient, cadmin: AdminClient, topic: str) -> None:
    assert legacy_alter(cadmin, ResourceType.TOPIC, topic, {"retention.ms": "1000", "segment.ms": "5000"}) is None
    configs = topic_configs(admin, topic)
    assert [configs[k]["config_source"] for k in ("retention.ms", "segment.ms")] == ["DYNAMIC_TOPIC_CONFIG"] * 2
    assert legacy_alter(cadmin, ResourceType.TOPIC, topic, {"segment.ms": "6000"}) is None
    configs = topic_configs(admin, topic)
    assert (configs["segment.ms"]["value"], configs["segment.ms"]["config_source"]) == ("6000", "DYNAMIC_TOPIC_CONFIG")
    assert (configs["retention.ms"]["value"], configs["retention.ms"]["config_source"]) == ("604800000", "DEFAULT_CONFIG")


@pytest.mark.parametrize(
    ("name", "value", "code", "message"),
    [
        ("retention.ms", "abc", KafkaError.INVALID_CONFIG, "Invalid value abc for configuration retention.ms: Not a number of type LONG"),
        ("max.message.bytes", "99999999999", KafkaError.INVALID_CONFIG,
         "Invalid value 99999999999 for configuration max.message.bytes: Not a number of type INT"),
        ("foo.bar", "1", KafkaError.INVALID_CONFIG, "Unknown topic config name: foo.bar"),
        ("segment.bytes", "100", KafkaError.INVALID_CONFIG, "Invalid value 100 for configuration segment.bytes: Value must be at least 1048576"),
        ("preallocate", "yes", KafkaError.INVALID_CONFIG,
         "Invalid value yes for configuration preallocate: Expected value to be either true or false"),
        ("compression.type", "brotli", KafkaError.INVALID_CONFIG,
         "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"),
    ],
)
def test_invalid_topic_config_rejected(admin: KafkaAdminClient, cadmin: AdminClient, topic: str, name: str, value: str, code: int,
                                       message: str) -> None:
    error = incremental(cadmin, ResourceType.TOPIC, topic, [(name, AlterConfigOpType.SET, value)])
    assert error is not None and (error.code(), error.str()) == (code, message)
    assert all(c["config_source"] != "DYNAMIC_TOPIC_CONFIG" for c in topic_configs(admin, topic).values())


def test_alter_unknown_topic(cadmin: AdminClient) -> None:
    error = incremental(cadmin, ResourceType.TOPIC, "no-such-topic-to-alter", [("retention.ms", AlterConfigOpType.SET, "1000")])
    assert error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert error.str() == "The topic 'no-such-topic-to-alter' does not exist."


def test_validate_only_changes_nothing(admin: KafkaAdminClient, cadmin: AdminClient, topic: str) -> None:
    assert incremental(cadmin, ResourceType.TOPIC, topic, [("retention.ms", AlterConfigOpType.SET, "777")], validate_only=True) is None
    retention = topic_configs(admin, topic)["retention.ms"]
    assert (retention["value"], retention["config_source"]) == ("604800000", "DEFAULT_CONFIG")
    error = incremental(cadmin, ResourceType.TOPIC, topic, [("retention.ms", AlterConfigOpType.SET, "x")], validate_only=True)
    assert error is not None and error.code() == KafkaError.INVALID_CONFIG


def test_raw_error_paths(broker: BrokerProcess, topic: str) -> None:
    request = messages.IncrementalAlterConfigsRequest.cls
    resource = request.AlterConfigsResource
    config = resource.AlterableConfig

    def alter(*resources: Any) -> list[tuple[int, str | None]]:
        body = request(resources=list(resources), validate_only=False)
        return [(r.error_code, r.error_message) for r in raw_call(broker, ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, body).responses]

    twice = resource(resource_type=2, resource_name=topic, configs=[config(name="retention.ms", config_operation=0, value="1")])
    assert alter(twice, twice) == [(42, "Each resource must appear at most once.")] * 2
    duplicate_keys = resource(resource_type=2, resource_name=topic, configs=[config(name="retention.ms", config_operation=0, value="1"),
                                                                            config(name="retention.ms", config_operation=1, value=None)])
    assert alter(duplicate_keys) == [(42, "Error due to duplicate config keys")]
    null_value = resource(resource_type=2, resource_name=topic, configs=[config(name="retention.ms", config_operation=0, value=None)])
    assert alter(null_value) == [(42, "Null value not supported for : retention.ms")]
    other_broker = resource(resource_type=4, resource_name="99", configs=[config(name="message.max.bytes", config_operation=0, value="1")])
    assert alter(other_broker) == [(42, "Unexpected broker id, expected 1, but received 99")]
    unknown_type = resource(resource_type=99, resource_name="x", configs=[])
    assert alter(unknown_type) == [(42, "Unknown resource type 99")]
    bad_level = resource(resource_type=8, resource_name="1", configs=[config(name="root", config_operation=0, value="LOUD")])
    assert alter(bad_level)[0][0] == 40


def test_lowered_max_message_bytes_rejects_larger_records(admin: KafkaAdminClient, cadmin: AdminClient, broker: BrokerProcess,
                                                          topic: str) -> None:
    assert incremental(cadmin, ResourceType.TOPIC, topic, [("max.message.bytes", AlterConfigOpType.SET, "1000")]) is None
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, retries=0)
    try:
        with pytest.raises(MessageSizeTooLargeError):
            producer.send(topic, b"x" * 5000).get(TIMEOUT)
        assert producer.send(topic, b"small").get(TIMEOUT).offset == 0
    finally:
        producer.close()


# -- broker resources, persistence --------------------------------------------------


def test_broker_configs_dynamic_and_read_only(broker_factory: Callable[..., BrokerProcess]) -> None:
    kwire = broker_factory({"log.retention.ms": "7200000"})
    admin = KafkaAdminClient(bootstrap_servers=kwire.bootstrap_servers)
    cadmin = AdminClient({"bootstrap.servers": kwire.bootstrap_servers})
    try:
        admin.create_topics([NewTopic("broker-configs", 1, 1)])
        retention = topic_configs(admin, "broker-configs")["retention.ms"]
        assert (retention["value"], retention["config_source"]) == ("7200000", "STATIC_BROKER_CONFIG")
        assert [(s["name"], s["value"], s["source"]) for s in retention["synonyms"]] == [
            ("log.retention.ms", "7200000", "STATIC_BROKER_CONFIG"), ("log.retention.hours", "168", "DEFAULT_CONFIG")]

        error = incremental(cadmin, ResourceType.BROKER, "1", [("num.partitions", AlterConfigOpType.SET, "3")])
        assert error is not None and (error.code(), error.str()) == (KafkaError.INVALID_REQUEST, "Cannot update these configs dynamically: [num.partitions]")
        error = incremental(cadmin, ResourceType.BROKER, "1", [("message.max.bytes", AlterConfigOpType.SET, "-5")])
        assert error is not None and (error.code(), error.str()) == (
            KafkaError.INVALID_REQUEST, "Invalid value -5 for configuration message.max.bytes: Value must be at least 0")

        # Both clients refuse the empty name of the cluster-wide default.
        assert incremental_raw(kwire, 4, "", [("message.max.bytes", 0, "2000000")]) == (0, None)
        assert incremental(cadmin, ResourceType.BROKER, "1", [("log.retention.ms", AlterConfigOpType.SET, "60000")]) is None
        configs = topic_configs(admin, "broker-configs")
        assert (configs["max.message.bytes"]["value"], configs["max.message.bytes"]["config_source"]) == ("2000000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
        assert [(s["name"], s["value"], s["source"]) for s in configs["retention.ms"]["synonyms"]] == [
            ("log.retention.ms", "60000", "DYNAMIC_BROKER_CONFIG"), ("log.retention.ms", "7200000", "STATIC_BROKER_CONFIG"),
            ("log.retention.hours", "168", "DEFAULT_CONFIG")]
        default = describe_raw(kwire, 4, "")
        assert [(c.name, c.value, c.config_source, c.read_only) for c in default.configs] == [
            ("message.max.bytes", "2000000", DYNAMIC_DEFAULT_BROKER_CONFIG, False)]
        # Deleting the cluster default brings back the static/default value.
        assert incremental_raw(kwire, 4, "", [("message.max.bytes", 1, None)]) == (0, None)
        assert topic_configs(admin, "broker-configs")["max.message.bytes"]["config_source"] == "DEFAULT_CONFIG"
    finally:
        admin.close()


def test_configs_survive_restart_and_apply_to_logs(broker_factory: Callable[..., BrokerProcess], tmp_path: Any) -> None:
    data_dir = tmp_path / "restart"
    first = broker_factory(data_dir=data_dir)
    admin = KafkaAdminClient(bootstrap_servers=first.bootstrap_servers)
    cadmin = AdminClient({"bootstrap.servers": first.bootstrap_servers})
    admin.create_topics([NewTopic("survivor", 1, 1)])
    assert incremental(cadmin, ResourceType.TOPIC, "survivor", [("retention.ms", AlterConfigOpType.SET, "86400000")]) is None
    assert incremental_raw(first, 4, "", [("message.max.bytes", 0, "1000")]) == (0, None)
    admin.close()
    first.stop()

    second = broker_factory(data_dir=data_dir)
    admin = KafkaAdminClient(bootstrap_servers=second.bootstrap_servers)
    try:
        configs = topic_configs(admin, "survivor")
        assert (configs["retention.ms"]["value"], configs["retention.ms"]["config_source"]) == ("86400000", "DYNAMIC_TOPIC_CONFIG")
        assert (configs["max.message.bytes"]["value"], configs["max.message.bytes"]["config_source"]) == ("1000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
        # The broker-level default reaches the log opened at start-up.
        producer = KafkaProducer(bootstrap_servers=second.bootstrap_servers, retries=0)
        try:
            deadline = time.monotonic() + TIMEOUT
            with pytest.raises(MessageSizeTooLargeError):
                producer.send("survivor", b"x" * 5000).get(max(0.1, deadline - time.monotonic()))
        finally:
            producer.close()
    finally:
        admin.close()
