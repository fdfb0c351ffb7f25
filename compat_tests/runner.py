"""Run scenarios x clients against targets, compare targets, write the matrix.

Targets: "kwire" (a `kwire serve` child, BrokerProcess), "kafka" (the
reference Apache Kafka, ReferenceKafka) or HOST:PORT (already running).
Both started brokers run with auto.create.topics.enable=false, which the
error scenarios need. Cells: pass, fail, expected-failure, unexpected-pass,
n/a (the client cannot express the scenario, or cannot run here) and, with
two targets, differs (both passed with different observable results).
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat_tests import clients as client_registry
from compat_tests.clients import ClientError, Unsupported
from compat_tests.compare import differences, normalise
from compat_tests.scenarios import Context, Scenario, ScenarioFailed

TARGET_CONFIG = {"auto.create.topics.enable": "false"}
FAILING = ("fail", "unexpected-pass", "differs")


@dataclass
class Cell:
    scenario: str
    client: str
    target: str
    status: str
    detail: str = ""
    result: Any = None
    seconds: float = 0.0


@dataclass
class Report:
    targets: list[str]
    cells: list[Cell] = field(default_factory=list)
    differs: list[dict[str, Any]] = field(default_factory=list)

    def failures(self) -> list[Cell]:
        return [c for c in self.cells if c.status in FAILING and not (c.status == "differs" and c.detail.startswith("known"))]

    def to_json(self) -> dict[str, Any]:
        return {"targets": self.targets, "cells": [vars(c) for c in self.cells], "differences": self.differs}

    def matrix_text(self) -> str:
        scenarios = list(dict.fromkeys(c.scenario for c in self.cells))
        columns = list(dict.fromkeys((c.client, c.target) for c in self.cells))
        status = {(c.scenario, c.client, c.target): c.status for c in self.cells}
        header = ["scenario"] + [f"{client}@{target}" for client, target in columns]
        rows = [[s] + [status.get((s, client, target), "") for client, target in columns] for s in scenarios]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
        return "\n".join(lines) + "\n"


@contextlib.contextmanager
def start_target(target: str) -> Iterator[tuple[str, Path | None]]:
    """The bootstrap address of `target` and its log dir (None when it is not ours), started
    (and stopped by PID afterwards) when it is ours."""
    if target == "kwire":
        from kwire.testing import BrokerProcess
        with BrokerProcess(overrides=TARGET_CONFIG) as broker:
            yield broker.bootstrap_servers, broker.data_dir
    elif target == "kafka":
        from compat_tests.reference_kafka import ReferenceKafka
        with ReferenceKafka(config=TARGET_CONFIG, log_level="WARN") as kafka:
            yield kafka.bootstrap_servers, kafka.data_dir
    else:
        yield target, None


def _peer(client: str) -> str:
    return "confluent" if client == "kafka-python" else "kafka-python"


def run_cell(scenario: Scenario, client: str, target: str, bootstrap: str, log_dir: Path | None = None) -> Cell:
    began = time.monotonic()
    unavailable = client_registry.available(client)
    if unavailable:
        return Cell(scenario.name, client, target, "n/a", unavailable)
    adapter = client_registry.make(client, bootstrap)
    ctx = Context(adapter, client_registry.make(_peer(client), bootstrap), client_registry.make("kafka-python", bootstrap), target, scenario.name,
                  log_dir)
    xfail = scenario.expected_failure.get(target) or scenario.expected_failure.get("*")
    try:
        result = json.loads(json.dumps(scenario.run(ctx)))
    except Unsupported as exc:
        return Cell(scenario.name, client, target, "n/a", str(exc), seconds=time.monotonic() - began)
    except Exception as exc:  # noqa: BLE001 - every failure is a cell, reported with its traceback
        detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, AssertionError) else traceback.format_exc(limit=4)
        # Only an observed failure (a wrong result, a Kafka error) is the expected one: a
        # crash in the adapter or a client refusing its configuration is a plain fail.
        observed = isinstance(exc, (ScenarioFailed, ClientError))
        return Cell(scenario.name, client, target, "expected-failure" if xfail and observed else "fail",
                    f"{xfail}\n{detail}" if xfail else detail, seconds=time.monotonic() - began)
    status = "unexpected-pass" if xfail else "pass"
    return Cell(scenario.name, client, target, status, xfail or "", result, time.monotonic() - began)


def run(targets: list[str], scenarios: list[Scenario], client_names: list[str], log: Any = print) -> Report:
    report = Report(targets)
    for target in targets:
        log(f"== target {target}")
        with start_target(target) as (bootstrap, log_dir):
            log(f"   bootstrap {bootstrap}")
            for scenario in scenarios:
                for client in client_names:
                    cell = run_cell(scenario, client, target, bootstrap, log_dir)
                    report.cells.append(cell)
                    log(f"   {cell.status:16} {scenario.name} x {client} ({cell.seconds:.1f}s)")
                    if cell.status in FAILING:
                        log("      " + cell.detail.replace("\n", "\n      "))
    if len(targets) == 2:
        _compare(report, {s.name: s for s in scenarios}, log)
    return report


def _compare(report: Report, scenarios: dict[str, Scenario], log: Any) -> None:
    left, right = report.targets
    cells = {(c.scenario, c.client, c.target): c for c in report.cells}
    for (name, client, target), cell in list(cells.items()):
        if target != left:
            continue
        other = cells[(name, client, right)]
        if cell.status != other.status:
            report.differs.append({"scenario": name, "client": client, "path": "<status>", left: cell.status, right: other.status})
            continue
        if cell.status != "pass":
            continue
        found = differences(normalise(cell.result), normalise(other.result))
        known = scenarios[name].known_differences
        unexplained = [d for d in found if not any(d[0].startswith(prefix) for prefix in known)]
        for path, a, b in found:
            reason = next((r for prefix, r in known.items() if path.startswith(prefix)), None)
            report.differs.append({"scenario": name, "client": client, "path": path, left: a, right: b, "reason": reason})
            log(f"   differs {name} x {client} at {path}: {left}={a!r} {right}={b!r}" + (f" (known: {reason})" if reason else ""))
        if found:
            for c in (cell, other):
                c.status = "differs"
                c.detail = "known difference" if not unexplained else f"{len(unexplained)} unexplained difference(s)"


def write(report: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.json").write_text(json.dumps(report.to_json(), indent=1, default=str) + "\n")
    (out / "matrix.txt").write_text(report.matrix_text())
