"""The whole compatibility matrix in every test run (issue 5: CI runs the suite
on every change, against kwire and against the reference Apache Kafka).

One test runs `python -m compat_tests --both`: every registered scenario x
every registered client (compat_tests.scenarios.all_scenarios and
compat_tests.clients.ADAPTERS, so scenarios and clients added there are in
it without touching this file) against kwire and the reference Kafka, with
the field-by-field comparison. Without java or mvn the reference Kafka
cannot run and the matrix is kwire's alone (the Java cells are then n/a,
with the reason). It fails when a cell expected to pass did not (the
suite's exit status) and lists those cells.

The matrix is kept in build/compat/ (matrix.txt, matrix.json, and log.txt,
the suite's output as it ran) for CI to keep as an artifact.

The suite runs as a child process so that it is bounded: after RUN_TIMEOUT
it gets SIGINT (its `with` blocks stop the brokers), then SIGKILL. Every
process it starts (brokers, Kafka's JVM, client drivers) inherits a
marker in its environment; whatever still carries it once the suite has
exited is killed by PID and fails the test, so a leaked process is a bug
found rather than a CI machine slowly filling up.

Measured on this kind of machine (2 cores, shared), 2026-11-29: 15 min
22 s for 592 cells from a fresh clone with empty Maven, Go and npm caches
(docs/compatibility.md, "In CI").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from compat_tests.clients import ADAPTERS
from compat_tests.reference_kafka import missing_prerequisites
from compat_tests.runner import Cell, Report
from compat_tests.scenarios import all_scenarios

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "build" / "compat"
RUN_TIMEOUT = 2700.0  # seconds; the whole matrix took 15-20 minutes on 2 shared cores (640 cells)
INTERRUPT_GRACE = 90.0  # after SIGINT: time for the suite to stop its brokers
MARKER = "KWIRE_COMPAT_RUN"


def marked_processes(token: str) -> list[int]:
    """PIDs of the processes whose environment carries MARKER=token."""
    needle = f"{MARKER}={token}".encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read() + b"\0":
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def running(pid: int) -> bool:
    """Not exited (a zombie has exited: it waits for its parent to read its status)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        command = "(exited)"
    return f"{pid}: {command[:200]}"


def run_bounded(command: list[str], log: Path, timeout: float = RUN_TIMEOUT, grace: float = INTERRUPT_GRACE) -> tuple[int | None, list[str]]:
    """Exit status of `command` run in the repository with its output in `log`
    (None: it did not finish within `timeout` and was interrupted), and the
    processes it left behind, now killed."""
    token = uuid.uuid4().hex
    with open(log, "w") as out:
        child = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env={**os.environ, MARKER: token})
        try:
            status: int | None = child.wait(timeout)
        except subprocess.TimeoutExpired:
            status = None
            child.send_signal(signal.SIGINT)
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    leftovers = marked_processes(token)
    described = [describe(pid) for pid in leftovers]
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(map(running, leftovers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return status, described


def test_full_matrix() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in ("matrix.txt", "matrix.json"):
        (OUT / stale).unlink(missing_ok=True)
    targets = ["--target", "kwire"] if missing_prerequisites() else ["--both"]
    status, leftovers = run_bounded([sys.executable, "-m", "compat_tests", *targets, "--out", str(OUT)], OUT / "log.txt")
    log_tail = "\n".join((OUT / "log.txt").read_text(errors="replace").splitlines()[-60:])
    assert status is not None, f"the suite did not finish within {RUN_TIMEOUT:.0f} s; its output ends:\n{log_tail}"
    assert not leftovers, "the suite left processes running (killed now):\n" + "\n".join(leftovers)
    assert (OUT / "matrix.json").exists(), f"the suite exited {status} without a matrix; its output ends:\n{log_tail}"

    saved = json.loads((OUT / "matrix.json").read_text())
    report = Report(saved["targets"], [Cell(**cell) for cell in saved["cells"]], saved["differences"])
    failing = [f"{c.scenario} x {c.client} @ {c.target}: {c.status}\n    " + c.detail[-800:].replace("\n", "\n    ")
               for c in report.failures()]
    assert status == 0 and not failing, "cells expected to pass did not:\n" + "\n".join(failing) + f"\n(matrix in {OUT})"

    # Nothing left out: one cell per scenario, client and target.
    expected = {(s, c, t) for s in all_scenarios() for c in ADAPTERS for t in report.targets}
    assert {(c.scenario, c.client, c.target) for c in report.cells} == expected


def test_a_hanging_run_is_interrupted_and_its_processes_killed(tmp_path: Path) -> None:
    # A stand-in for a suite stuck in a cell: it starts a process of its own, then hangs.
    hanging = "import subprocess, sys, time; p = subprocess.Popen(['sleep', '600']); print(p.pid, flush=True); time.sleep(600)"
    status, leftovers = run_bounded([sys.executable, "-c", hanging], tmp_path / "log.txt", timeout=1.0, grace=5.0)
    assert status is None
    child = int((tmp_path / "log.txt").read_text().split()[0])
    assert leftovers == [f"{child}: sleep 600 "]
    assert not running(child)
