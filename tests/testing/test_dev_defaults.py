"""`kwire serve --dev` and the test brokers: dev defaults on, Kafka's defaults otherwise."""

from __future__ import annotations

from kwire.cli import DEV_OVERRIDES
from kwire.config import load_config
from kwire.testing import Broker

DEV = {
    "group.initial.rebalance.delay.ms": 0,
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "auto.create.topics.enable": True,
    "kwire.metadata.fsync": False,
}
KAFKA = {
    "group.initial.rebalance.delay.ms": 3000,
    "offsets.topic.replication.factor": 3,
    "transaction.state.log.replication.factor": 3,
    "auto.create.topics.enable": True,
    "kwire.metadata.fsync": True,
}


def test_dev_overrides_and_plain_defaults() -> None:
    dev = load_config(None, [], base=DEV_OVERRIDES)
    plain = load_config(None, [])
    assert {k: dev[k] for k in DEV} == DEV
    assert {k: plain[k] for k in KAFKA} == KAFKA
    # what the user sets still wins over --dev
    assert load_config(None, ["group.initial.rebalance.delay.ms=250"], base=DEV_OVERRIDES)["group.initial.rebalance.delay.ms"] == 250


def test_in_process_broker_runs_with_dev_defaults_unless_asked_not_to() -> None:
    with Broker() as dev:
        assert {k: dev.node.config[k] for k in DEV} == DEV
        assert dev.node.broker.quorum._fsync is False
    with Broker(dev=False, overrides={"offsets.topic.replication.factor": "1"}) as plain:
        assert plain.node.config["group.initial.rebalance.delay.ms"] == 3000
        assert plain.node.broker.quorum._fsync is True
