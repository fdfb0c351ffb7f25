"""The newer scenario kinds cannot pass vacuously either: a client that sees
something else than Kafka's behaviour (a reset policy that skips a record)
and a log whose records are not the ones expected (kafka-dump-log on
kwire's segment) make the suite fail, cell and exit status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compat_tests.__main__ import main
from compat_tests.clients import python_clients
from compat_tests.clients.kafka_cli import missing_tools
from compat_tests.scenarios import kafka_cli


def cells(out: Path) -> dict[tuple[str, str, str], str]:
    report = json.loads((out / "matrix.json").read_text())
    return {(c["scenario"], c["client"], c["target"]): c["status"] for c in report["cells"]}


def test_a_reset_policy_that_skips_a_record_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    right = python_clients.KafkaPythonAdapter.consume_from

    def skipping(self: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return right(self, *args, **kwargs)[1:]

    monkeypatch.setattr(python_clients.KafkaPythonAdapter, "consume_from", skipping)
    assert main(["--target", "kwire", "--clients", "kafka-python", "--scenarios", "auto-offset-reset", "--out", str(tmp_path)]) == 1
    assert cells(tmp_path) == {("auto-offset-reset", "kafka-python", "kwire"): "fail"}


@pytest.mark.skipif(missing_tools() is not None, reason=f"kafka-dump-log cannot run: {missing_tools()}")
def test_dump_log_of_other_records_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_cli, "DUMP_RECORDS", [{**r, "value": r["value"] + "!"} for r in kafka_cli.DUMP_RECORDS])
    assert main(["--target", "kwire", "--clients", "kafka-python", "--scenarios", "cli-dump-log", "--out", str(tmp_path)]) == 1
    assert cells(tmp_path) == {("cli-dump-log", "kafka-python", "kwire"): "fail"}
