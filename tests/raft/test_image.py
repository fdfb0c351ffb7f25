"""MetadataImage: immutability, helpers, and the JSON form used by snapshots."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from kwire_raft.image import (BrokerRegistration, MetadataImage, PartitionImage, TopicImage, image_from_dict,
                              image_to_dict)

TID = uuid.UUID("6f1c3c7e-8a32-4b7e-9d7b-1e0b8a6c2d11")


def sample_image() -> MetadataImage:
    parts = {0: PartitionImage(0, 1, 3, 5, [1, 2], [1, 2]), 1: PartitionImage(1, 2, 0, 0, (2, 1), (2,))}
    topic = TopicImage("orders", TID, parts, {"cleanup.policy": "compact"})
    return MetadataImage(
        cluster_id="MkU3OEVBNTcwNTJENDM2Qg",
        controller_id=1,
        offset=42,
        brokers={1: BrokerRegistration(1, "127.0.0.1", 9092, None, False, 7),
                 2: BrokerRegistration(2, "127.0.0.1", 9093, "r2", True, 9)},
        topics={"orders": topic},
        broker_configs={"": {"log.retention.ms": "1000"}, "2": {"log.retention.ms": "5"}},
        next_producer_id=3000,
    )


def test_fields_cannot_be_assigned() -> None:
    image = sample_image()
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.offset = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.topics["orders"].name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.brokers[1].fenced = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.topics["orders"].partitions[0].leader = 2  # type: ignore[misc]


def test_mappings_and_sequences_are_read_only() -> None:
    image = sample_image()
    topic = image.topics["orders"]
    for mapping in (image.topics, image.topics_by_id, image.brokers, image.broker_configs,
                    image.broker_configs[""], topic.partitions, topic.configs):
        with pytest.raises(TypeError):
            mapping["new"] = 1  # type: ignore[index]
    part = topic.partitions[0]
    assert isinstance(part.replicas, tuple) and isinstance(part.isr, tuple)
    with pytest.raises(AttributeError):
        image.__dict__  # slots: no instance dict to poke at


def test_callers_dicts_are_copied() -> None:
    configs = {"a": "1"}
    brokers = {1: BrokerRegistration(1, "h", 1)}
    topic = TopicImage("t", TID, {}, configs)
    image = MetadataImage("c", brokers=brokers)
    configs["a"] = "2"
    brokers[2] = BrokerRegistration(2, "h", 2)
    assert topic.configs == {"a": "1"}
    assert list(image.brokers) == [1]


def test_topic_id_must_be_uuid() -> None:
    with pytest.raises(TypeError):
        TopicImage("t", str(TID))  # type: ignore[arg-type]


def test_helpers() -> None:
    image = sample_image()
    assert image.topic("orders") is image.topic_by_id(TID)
    assert image.topic("nope") is None and image.topic_by_id(uuid.uuid4()) is None
    assert image.partition("orders", 1).leader == 2
    assert image.partition("orders", 9) is None and image.partition("nope", 0) is None
    assert image.topic("orders").num_partitions == 2
    assert image.broker(2).rack == "r2"
    assert [b.node_id for b in image.unfenced_brokers()] == [1]
    assert image.broker_config(1) == {"log.retention.ms": "1000"}
    assert image.broker_config(2) == {"log.retention.ms": "5"}
    assert image.with_controller(1) is image
    assert image.with_controller(2).controller_id == 2 and image.controller_id == 1


def test_json_round_trip() -> None:
    image = sample_image()
    back = image_from_dict(image_to_dict(image))
    # controller_id is this node's view of the quorum, not snapshot content
    assert back == dataclasses.replace(image, controller_id=-1)
    assert back.topic_by_id(TID).name == "orders"
