"""kafkajs in the compatibility suite: the suite installs its Node driver itself
(npm ci from the committed lock) and a few kafkajs scenarios pass against kwire:
records with headers, every codec across clients, offsets by timestamp, a
broker-refused record, Java-compatible key placement, consumer groups (commit
and resume, a rebalance, the admin calls) and a consume-transform-produce
transaction.
The full matrix, with the reference Kafka, is `python -m compat_tests --both`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from compat_tests.__main__ import main
from compat_tests.clients.kafkajs import INSTALLED_LOCK, install_driver, missing_tools

pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=f"kafkajs driver needs Node: {missing_tools()}")

SCENARIOS = ["produce-consume-round-trip", "compression-cross-client", "offsets-earliest-latest-by-timestamp",
             "error-record-too-large", "key-partitioning-murmur2", "group-commit-resume", "group-two-members-roundrobin",
             "group-admin-list-describe-lag-delete", "transactions-consume-transform-produce"]


def test_the_suite_installs_the_driver_from_its_lock() -> None:
    install_driver()
    lock = INSTALLED_LOCK.parent.parent / "package-lock.json"
    assert INSTALLED_LOCK.read_text().strip() == hashlib.sha256(lock.read_bytes()).hexdigest()
    installed = json.loads((INSTALLED_LOCK.parent / "kafkajs" / "package.json").read_text())
    assert installed["version"] == "2.2.4"


def test_kafkajs_scenarios_pass_against_kwire(tmp_path: Path) -> None:
    assert main(["--target", "kwire", "--clients", "kafkajs", "--scenarios", *SCENARIOS, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "matrix.json").read_text())
    statuses = {c["scenario"]: c["status"] for c in report["cells"]}
    assert statuses == {name: "pass" for name in SCENARIOS}, report["cells"]
    results = {c["scenario"]: c["result"] for c in report["cells"]}
    assert results["produce-consume-round-trip"]["produced_offsets"] == [0, 1, 2, 3, 4]
    assert results["error-record-too-large"] == {"error": "MESSAGE_TOO_LARGE"}
    assert set(results["compression-cross-client"]) == {"none", "gzip", "snappy", "lz4", "zstd"}
    assert results["group-commit-resume"]["resumed_at_commit"] is True
    assert results["group-two-members-roundrobin"] == {"split": [2, 2], "revoked": 4}
