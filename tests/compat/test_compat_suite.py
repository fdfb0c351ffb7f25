"""The compatibility suite (compat_tests) as a product: it passes against kwire,
it fails when an expectation is wrong (so it cannot pass vacuously), and its
comparison normalises what legitimately differs. The whole matrix with --both
runs in test_compat_matrix.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat_tests.__main__ import main
from compat_tests.scenarios import round_trip

# The Python clients that run fastest; the Java and kcat cells run in the full suite.
FAST_CLIENTS = ["kafka-python", "confluent"]


def cells(out: Path) -> dict[tuple[str, str, str], str]:
    report = json.loads((out / "matrix.json").read_text())
    return {(c["scenario"], c["client"], c["target"]): c["status"] for c in report["cells"]}


def test_suite_passes_against_kwire(tmp_path: Path) -> None:
    assert main(["--target", "kwire", "--clients", *FAST_CLIENTS, "--out", str(tmp_path)]) == 0
    statuses = cells(tmp_path)
    assert statuses[("produce-consume-round-trip", "kafka-python", "kwire")] == "pass"
    assert statuses[("transactional-produce", "confluent", "kwire")] == "pass"
    assert statuses[("null-header-value", "kafka-python", "kwire")] == "n/a"
    assert set(statuses.values()) <= {"pass", "expected-failure", "n/a"}
    assert "produce-consume-round-trip" in (tmp_path / "matrix.txt").read_text()


def test_a_broken_expectation_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    right = round_trip.expected_records

    def wrong(records: list[dict]) -> list[dict]:
        expected = right(records)
        expected[1] = {**expected[1], "value": "not what was produced"}
        return expected

    monkeypatch.setattr(round_trip, "expected_records", wrong)
    assert main(["--target", "kwire", "--clients", "kafka-python", "--scenarios", "produce-consume-round-trip",
                 "--out", str(tmp_path)]) == 1
    assert cells(tmp_path) == {("produce-consume-round-trip", "kafka-python", "kwire"): "fail"}


def test_compare_normalises_what_legitimately_differs() -> None:
    from compat_tests.compare import differences, normalise
    kwire = {"cluster_id": "abc", "brokers": [[1, "127.0.0.1", 1111]], "records": [
        {"offset": 0, "timestamp": 5, "timestamp_type": "LogAppendTime", "value": "v"}]}
    kafka = {"cluster_id": "xyz", "brokers": [[1, "127.0.0.1", 2222]], "records": [
        {"offset": 0, "timestamp": 9, "timestamp_type": "LogAppendTime", "value": "w"}]}
    assert differences(normalise(kwire), normalise(kafka)) == [("records[0].value", "v", "w")]
