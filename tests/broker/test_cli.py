"""`kwire serve`: starting, refusing to start with one clear line, stopping cleanly.

Every process is started here and stopped by its PID (SIGTERM, then SIGKILL
if it has not exited); every wait is bounded.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from tests.broker.wire import WireClient, create_topic, fetch_request, metadata_request, produce_request

START_TIMEOUT = 30.0
LISTENING = re.compile(r"listening on PLAINTEXT://[\d.]+:(\d+)")
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"


class Serve:
    """One `kwire serve` child process, its output collected by a thread."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        self.port: int | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._ready.set()
        self._ready.set()

    def wait_listening(self) -> int:
        assert self._ready.wait(START_TIMEOUT) and self.port is not None, "".join(self.lines[-30:])
        return self.port

    def terminate(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._reader.join(5)
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def serve() -> Iterator:  # type: ignore[type-arg]
    started: list[Serve] = []

    def start(*args: str, entry: str = "module") -> Serve:
        command = [sys.executable, "-m", "kwire"] if entry == "module" else [_console_script()]
        process = Serve([*command, "serve", *args])
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def _console_script() -> str:
    script = Path(sys.executable).with_name("kwire")
    if script.exists():
        return str(script)
    found = shutil.which("kwire")
    if found is None:
        pytest.skip("the kwire console script is not installed")
    return found


def _overrides(data_dir: Path, port: int = 0) -> list[str]:
    return ["--override", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--override", f"log.dirs={data_dir}"]


def _api_versions_ok(port: int) -> bool:
    with WireClient.connect(port) as wire:
        request = messages.ApiVersionsRequest(client_software_name="kwire-tests", client_software_version="1.0")
        return wire.call(ApiKey.API_VERSIONS, 3, request).error_code == 0


# -- starting ----------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["console script", "module"])
def test_serve_starts_answers_and_stops_on_sigterm(serve, tmp_path: Path, entry: str) -> None:
    broker = serve(*_overrides(tmp_path / "data"), entry="module" if entry == "module" else "script")
    port = broker.wait_listening()
    assert _api_versions_ok(port)
    assert broker.terminate() == 0
    assert "Traceback" not in broker.output


# -- refusing to start -------------------------------------------------------------


def _refused(serve, *args: str) -> str:  # type: ignore[no-untyped-def]
    """Run `kwire serve args`, expect exit status 2 and one error line; return it."""
    broker = serve(*args)
    try:
        code = broker.process.wait(START_TIMEOUT)
    finally:
        broker.kill()
    output = broker.output
    assert code == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("kwire: error: ")]
    assert len(errors) == 1, output
    assert output.rstrip("\n").splitlines()[-1] == errors[0]  # the last thing printed
    return errors[0]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("num.partitions", "abc", "invalid value 'abc' for configuration num.partitions: expected int"),
        ("num.partitions", "0", "invalid value '0' for configuration num.partitions: must be at least 1"),
        ("auto.create.topics.enable", "yes", "invalid value 'yes' for configuration auto.create.topics.enable"),
        ("listeners", "127.0.0.1:9092", "invalid listener '127.0.0.1:9092'"),
    ],
)
def test_bad_config_value(serve, tmp_path: Path, key: str, value: str, expected: str) -> None:
    line = _refused(serve, *_overrides(tmp_path / "data"), "--override", f"{key}={value}")
    assert expected in line


def test_occupied_port(serve, tmp_path: Path) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        port = occupant.getsockname()[1]
        line = _refused(serve, *_overrides(tmp_path / "data", port))
    assert line == f"kwire: error: cannot listen on 127.0.0.1:{port} (PLAINTEXT): the port is in use"


def test_unwritable_data_dir(serve, tmp_path: Path) -> None:
    # Root may write anywhere permissions allow nothing, but not below a regular file.
    regular_file = tmp_path / "a-file"
    regular_file.write_text("")
    line = _refused(serve, *_overrides(regular_file / "data"))
    assert line == f"kwire: error: log directory {regular_file / 'data'} is not writable: Not a directory"
    line = _refused(serve, *_overrides(regular_file))
    assert line == f"kwire: error: log directory {regular_file} is not writable: File exists"


def test_data_dir_in_use_by_another_broker(serve, tmp_path: Path) -> None:
    first = serve(*_overrides(tmp_path / "data"))
    first.wait_listening()
    line = _refused(serve, *_overrides(tmp_path / "data"))
    assert line == f"kwire: error: {tmp_path / 'data'} is in use by another process"
    assert first.terminate() == 0


def test_unknown_config_file(serve, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "server.properties"
    line = _refused(serve, "--config", str(missing), *_overrides(tmp_path / "data"))
    assert line == f"kwire: error: cannot read config file {missing}: No such file or directory"


# -- stopping ----------------------------------------------------------------------


def test_sigterm_shuts_down_cleanly_and_the_next_start_skips_recovery(serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    broker = serve(*_overrides(data))
    port = broker.wait_listening()
    create_topic(port, "kept")
    with WireClient.connect(port) as wire:
        assert wire.call(ApiKey.PRODUCE, 9, produce_request("kept", [b"a", b"b", b"c"])).responses[0].partition_responses[0].error_code == 0
    assert broker.terminate() == 0
    assert (data / CLEAN_SHUTDOWN_FILE).exists()
    assert "Traceback" not in broker.output

    again = serve(*_overrides(data))
    port = again.wait_listening()
    assert f"log directory {data}: clean shutdown marker found, 1 logs opened without recovery" in again.output
    assert "recovered" not in again.output
    with WireClient.connect(port) as wire:
        (partition,) = wire.call(ApiKey.FETCH, 12, fetch_request("kept", 0)).responses[0].partitions
    assert partition.high_watermark == 3
    assert not (data / CLEAN_SHUTDOWN_FILE).exists()  # removed while running

    # After a crash there is no marker, and the logs are recovered.
    again.kill()
    assert again.process.returncode == -signal.SIGKILL
    crashed = serve(*_overrides(data))
    crashed.wait_listening()
    assert f"log directory {data}: no clean shutdown marker, 1 logs recovered from their recovery points" in crashed.output
    assert crashed.terminate() == 0


# -- server.properties ---------------------------------------------------------------

# Apache Kafka 4.x's config/server.properties (KRaft, combined mode), with
# ports and the data directory filled in, and a continuation line.
SERVER_PROPERTIES = """\
############################# Server Basics #############################
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:{controller_port}

############################# Socket Server Settings #############################
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:{port},CONTROLLER://localhost:{controller_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,\\
    SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

############################# Log Basics #############################
log.dirs={data}
num.partitions=3
num.recovery.threads.per.data.dir=1

############################# Internal Topic Settings  #############################
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

############################# Log Retention Policy #############################
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_config_file_with_kafka_keys(serve, tmp_path: Path) -> None:
    port, controller_port = _free_port(), _free_port()
    config = tmp_path / "server.properties"
    config.write_text(SERVER_PROPERTIES.format(port=port, controller_port=controller_port, data=tmp_path / "data"))
    broker = serve("--config", str(config))
    assert broker.wait_listening() == port
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.METADATA, 12, metadata_request(["auto-created"], allow_auto_topic_creation=True))
        assert [(b.node_id, b.host, b.port) for b in body.brokers] == [(1, "localhost", port)]
        deadline = time.monotonic() + 10
        while True:  # auto-creation may answer LEADER_NOT_AVAILABLE first, as Kafka does
            (topic,) = wire.call(ApiKey.METADATA, 12, metadata_request(["auto-created"])).topics
            if topic.error_code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert (topic.error_code, len(topic.partitions)) == (0, 3)  # num.partitions from the file
    assert (tmp_path / "data").is_dir()
    assert broker.terminate() == 0
