"""franz-go in the compatibility suite: the suite builds its Go driver itself
(go build of compat_tests/go/driver, modules checked against the committed
go.sum) and franz-go scenarios pass against kwire: records with headers,
Java-compatible key placement, consumer groups (commit and resume, a
cooperative rebalance, KIP-848's consumer protocol) and a transaction's
isolation. The full matrix, with the reference Kafka, is
`python -m compat_tests --both --clients franz-go`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from compat_tests.__main__ import main
from compat_tests.clients.franz import DRIVER_DIR, build_driver

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="the franz-go driver needs Go: go is not on PATH")

SCENARIOS = ["produce-consume-round-trip", "key-partitioning-murmur2", "group-commit-resume", "group-two-members-cooperative",
             "group-two-members-consumer-protocol", "transactions-commit-abort-isolation"]


def test_the_suite_builds_the_driver_at_the_pinned_versions() -> None:
    binary = build_driver()
    assert build_driver() == binary  # built once per run, named by the sources' hash
    info = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True, timeout=60, check=True).stdout
    modules = {fields[1]: fields[2] for fields in (line.split() for line in info.splitlines()) if fields[:1] == ["dep"]}
    assert modules["github.com/twmb/franz-go"] == "v1.22.3"
    assert modules["github.com/twmb/franz-go/pkg/kadm"] == "v1.20.0"
    assert (DRIVER_DIR / "go.sum").read_text().count("github.com/twmb/franz-go v1.22.3") == 2


def test_franz_scenarios_pass_against_kwire(tmp_path: Path) -> None:
    assert main(["--target", "kwire", "--clients", "franz-go", "--scenarios", *SCENARIOS, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "matrix.json").read_text())
    assert {c["scenario"]: c["status"] for c in report["cells"]} == {name: "pass" for name in SCENARIOS}, report["cells"]
    results = {c["scenario"]: c["result"] for c in report["cells"]}
    assert results["produce-consume-round-trip"]["produced_offsets"] == [0, 1, 2, 3, 4]
    assert results["group-commit-resume"]["resumed_at_commit"] is True
    assert results["group-two-members-cooperative"] == {"split": [2, 2], "revoked": 2}
    assert results["group-two-members-consumer-protocol"]["group_type"] == "consumer"
    assert results["transactions-commit-abort-isolation"]["read_committed"] == [[0, "c0"], [1, "c1"], [2, "c2"], [7, "c3"]]
