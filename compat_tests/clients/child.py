"""Run a client's consume-transform-produce step as a child process that may be SIGKILLed.

The child reads one JSON command on stdin and writes JSON lines on stdout
(the drivers' protocol): {"ok": RESULT} or {"error": NAME, "message": ...}
when it finishes, or, when asked to hold, {"held": RESULT} once its
transaction has everything but the commit, after which it waits (bounded)
for the kill. `run_transform_child` kills it by its pid at that line, so the
transaction is left open as a crashed worker leaves it.

`python -m compat_tests.clients.child CLIENT BOOTSTRAP` is the child for the
Python clients: it calls the adapter's `transform_steps`.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from compat_tests.clients.base import ClientError

HOLD_SECONDS = 60  # how long a held child waits for its kill before it gives up (and aborts)


def run_transform_child(argv: list[str], command: Any, *, crash: bool, timeout: float, cwd: Path | None = None) -> Any:
    """RESULT of the child's "ok" (or, with crash, "held") line; raises ClientError for its "error"."""
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: a chatty child never blocks on it
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=cwd)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert child.stdin is not None
            child.stdin.write(json.dumps(command))
            child.stdin.close()
            return _answer(child, lines, crash, time.monotonic() + timeout, stderr)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)
            reader.join(10)  # the pipe is at its end once the child is gone
            if child.stdout is not None:
                child.stdout.close()


def _answer(child: subprocess.Popen, lines: queue.Queue[str | None], crash: bool, deadline: float, stderr: Any) -> Any:
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ClientError("REQUEST_TIMED_OUT", "the child gave no answer in time") from None
        if line is None:
            child.wait(10)
            stderr.seek(0)
            raise RuntimeError(f"the child exited {child.returncode} without an answer:\n{stderr.read()[-3000:].decode(errors='replace')}")
        if not line.startswith("{"):
            continue
        answer = json.loads(line)
        if "error" in answer:
            raise ClientError(answer["error"], answer.get("message") or "")
        if "held" in answer and crash:
            child.send_signal(signal.SIGKILL)
            return answer["held"]
        if "ok" in answer:
            return answer["ok"]


def main() -> None:
    from compat_tests.clients.python_clients import ADAPTERS
    adapter = ADAPTERS[sys.argv[1]](sys.argv[2])
    command = json.loads(sys.stdin.read())

    def emit(answer: dict[str, Any]) -> None:
        print(json.dumps(answer), flush=True)

    try:
        emit({"ok": adapter.transform_steps(**command, held=lambda result: (emit({"held": result}), time.sleep(HOLD_SECONDS)))})
    except ClientError as exc:
        emit({"error": exc.name, "message": str(exc)})


if __name__ == "__main__":
    main()
