"""Run a real kwire broker for tests: a child process on a free port.

    with BrokerProcess(tmp_path) as broker:
        KafkaProducer(bootstrap_servers=broker.bootstrap_servers)

The broker listens on 127.0.0.1 port 0 (the OS picks a free port, so there
is no race with other tests) and reports the port in its start-up log line,
which this class waits for, bounded in time. `stop()` sends SIGTERM and
falls back to SIGKILL; `kill()` is SIGKILL at once, for crash tests.
Everything started is stopped by PID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

_LISTENING = re.compile(r"listening on PLAINTEXT://([\d.]+):(\d+)")


class BrokerProcess:
    def __init__(self, data_dir: str | Path, overrides: dict[str, str] | None = None, *, dev: bool = True, start_timeout: float = 20.0) -> None:
        self.data_dir = Path(data_dir)
        self.overrides = {"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": str(self.data_dir), **(overrides or {})}
        self.dev = dev
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None
        self.port: int | None = None
        self.output: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def bootstrap_servers(self) -> str:
        assert self.port is not None, "broker not started"
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> BrokerProcess:
        command = [sys.executable, "-m", "kwire", "serve"]
        if self.dev:
            command.append("--dev")
        for key, value in self.overrides.items():
            command += ["--override", f"{key}={value}"]
        self.port = None
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        ready = threading.Event()
        self._reader = threading.Thread(target=self._read_output, args=(self.process, ready), daemon=True)
        self._reader.start()
        if not ready.wait(self.start_timeout) or self.port is None:
            self.kill()
            raise RuntimeError(f"kwire did not start within {self.start_timeout}s:\n" + "".join(self.output[-40:]))
        return self

    def _read_output(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            if self.port is None:
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match.group(2))
                    ready.set()
        ready.set()  # the process ended

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return process.returncode if process.returncode is not None and process.returncode >= 0 else None

    def kill(self) -> None:
        """SIGKILL at once (a no-op if the process has exited); then release its output pipe."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        if process.stdout is not None and not (self._reader is not None and self._reader.is_alive()):
            process.stdout.close()

    def restart(self) -> BrokerProcess:
        self.stop()
        return self.start()

    def __enter__(self) -> BrokerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns a true value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
