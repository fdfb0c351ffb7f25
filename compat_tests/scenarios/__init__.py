"""Scenarios: small functions from a `Context` to a JSON-able observable result.

A scenario drives the client under test (`ctx.client`) and checks what it
sees with `ctx.expect_equal` (so a run against one target is already a
test); the dict it returns is what `--both` compares between targets,
after `compat_tests.compare.normalise`. Topic names never appear in it.
An operation the client cannot express raises `Unsupported` (n/a); a
scenario for a feature kwire does not serve yet sets `expected_failure`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat_tests.clients import Adapter


class ScenarioFailed(AssertionError):
    """What the client observed is not what the scenario expects."""


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Context], Any]
    doc: str
    # target ("kwire", "kafka" or "*") -> why this fails there for now
    expected_failure: dict[str, str] = field(default_factory=dict)
    # result path prefix -> why kwire and Kafka legitimately differ there
    known_differences: dict[str, str] = field(default_factory=dict)


class Context:
    def __init__(self, client: Adapter, peer: Adapter, setup: Adapter, target: str, scenario: str, log_dir: Path | None = None) -> None:
        self.client = client    # the client under test
        self.peer = peer        # another client, for produced-by-one consumed-by-another
        self.setup = setup      # kafka-python: creates the topics a scenario needs
        self.target = target
        self.scenario = scenario
        self.log_dir = log_dir  # the broker's log.dirs when the runner started it (for kafka-dump-log)

    def topic_name(self, tag: str = "t") -> str:
        return f"compat-{self.scenario}-{self.client.name}-{tag}-{uuid.uuid4().hex[:8]}"

    def new_topic(self, partitions: int = 1, configs: dict[str, str] | None = None, tag: str = "t") -> str:
        name = self.topic_name(tag)
        errors = self.setup.create_topics([{"name": name, "partitions": partitions, "configs": configs or {}}])
        if errors[name] is not None:
            raise RuntimeError(f"setup: creating {name} failed with {errors[name]}")
        return name

    @staticmethod
    def expect_equal(what: str, actual: Any, expected: Any) -> None:
        if actual != expected:
            raise ScenarioFailed(f"{what}:\n  expected {expected!r}\n  observed {actual!r}")


def all_scenarios() -> dict[str, Scenario]:
    from compat_tests.scenarios import (compression, configs, connect, consuming, errors, groups, kafka_cli, offsets, partitioning,
                                        partitions, producing, round_trip, timestamps, topics, transactions, unserved)
    found: dict[str, Scenario] = {}
    for module in (connect, topics, configs, partitions, round_trip, compression, producing, timestamps, offsets, consuming, errors,
                   partitioning, unserved, groups, transactions, kafka_cli):
        for scenario in module.SCENARIOS:
            found[scenario.name] = scenario
    return found
