"""Run a real Apache Kafka as a reference for compatibility work.

The server (Kafka 4.4.0) and the command-line tools are resolved by Maven
from the pom in compat_tests/java/reference-kafka/ (cached in ~/.m2), and
run straight from their jars: no Kafka distribution tarball is needed.

    with ReferenceKafka() as kafka:
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        ...
        run_tool("org.apache.kafka.tools.DumpLogSegments",
                 ["--files", segment_path, "--print-data-log"])

A `ReferenceKafka` is one KRaft node in combined mode (broker and controller
in one JVM, a standalone controller quorum) listening on 127.0.0.1 on two
free ports, with its config, logs and data in a temporary directory that
`stop()` removes. The JVM is stopped by its PID: SIGTERM, then SIGKILL if it
has not exited within `stop_timeout` seconds.

For manual use::

    python -m compat_tests.reference_kafka serve [--seconds N]
    python -m compat_tests.reference_kafka classpath [--tools]
    python -m compat_tests.reference_kafka tool MAIN_CLASS [ARGS...]

Classpaths: the 4.4.0 release does not publish the kafka-tools artifacts to
the Maven repository we reach (the newest there is 4.3.1), so the tools
(org.apache.kafka.tools.*) run on a separate 4.3.1 classpath, the pom's
`tools` profile. `kafka.tools.StorageTool` is part of the 4.4.0 server jar.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kwire_protocol.errors import ProtocolError

KAFKA_VERSION = "4.4.0"
POM_DIR = Path(__file__).resolve().parent / "java" / "reference-kafka"
POM = POM_DIR / "pom.xml"
# Classpath files are written here by Maven (target/ is git-ignored).
CLASSPATH_CACHE = POM_DIR / "target"

SERVER = "server"
TOOLS = "tools"

MAVEN_TIMEOUT = 900.0
JVM_OPTIONS = ["-Xms256m", "-Xmx1g", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]

LOG4J2_CONFIG = """\
# Minimal Log4j 2 configuration for the reference Kafka (written by reference_kafka.py).
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = OUT
"""


class ReferenceKafkaError(RuntimeError):
    """Kafka could not be resolved, formatted, started or stopped."""


def missing_prerequisites() -> str | None:
    """Why a reference Kafka cannot run here (java or mvn missing), or None."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found on PATH: the reference Kafka needs a JDK (17+) and Maven"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolve_classpath(profile: str = SERVER, *, timeout: float = MAVEN_TIMEOUT) -> str:
    """The Java classpath of the pom's `server` or `tools` profile.

    Runs `mvn dependency:build-classpath` (downloading into ~/.m2 the first
    time) unless a classpath file newer than the pom exists and all of its
    jars are still there.
    """
    if profile not in (SERVER, TOOLS):
        raise ValueError(f"profile must be {SERVER!r} or {TOOLS!r}, not {profile!r}")
    reason = missing_prerequisites()
    if reason:
        raise ReferenceKafkaError(reason)
    output = CLASSPATH_CACHE / f"{profile}.classpath"
    if output.exists() and output.stat().st_mtime >= POM.stat().st_mtime:
        classpath = output.read_text().strip()
        if classpath and all(Path(jar).exists() for jar in classpath.split(os.pathsep)):
            return classpath
    CLASSPATH_CACHE.mkdir(parents=True, exist_ok=True)
    command = [
        "mvn", "-q", "-B", "-f", str(POM), f"-P{profile}",
        "dependency:build-classpath", f"-Dmdep.outputFile={output}",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ReferenceKafkaError(f"Maven did not resolve the {profile} classpath within {timeout:.0f}s") from exc
    if result.returncode != 0 or not output.exists():
        raise ReferenceKafkaError(
            f"Maven failed to resolve the {profile} classpath (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    return output.read_text().strip()


def _log4j_config(directory: Path, level: str = "INFO") -> Path:
    path = directory / "log4j2.properties"
    path.write_text(LOG4J2_CONFIG.format(level=level))
    return path


def java_command(main_class: str, args: list[str], *, classpath: str, log4j_config: Path | None = None,
                 jvm_options: list[str] | None = None) -> list[str]:
    command = ["java", *(jvm_options or []), "-cp", classpath]
    if log4j_config is not None:
        command.append(f"-Dlog4j2.configurationFile={log4j_config}")
    return [*command, main_class, *args]


def run_tool(main_class: str, args: list[str], *, profile: str = TOOLS, timeout: float = 300.0,
             input: str | bytes | None = None, text: bool = True, check: bool = True,
             log_level: str = "WARN") -> subprocess.CompletedProcess:
    """Run a Kafka command-line tool's main class and wait for it (bounded).

    `profile` picks the classpath: TOOLS for org.apache.kafka.tools.* (for
    example DumpLogSegments, ConsoleProducer, TopicCommand), SERVER for the
    4.4.0 server jar's own tools (kafka.tools.StorageTool). Output is
    captured; with `check`, a non-zero exit raises CalledProcessError.
    """
    classpath = resolve_classpath(profile)
    with tempfile.TemporaryDirectory(prefix="kwire-kafka-tool-") as scratch:
        command = java_command(main_class, args, classpath=classpath,
                               log4j_config=_log4j_config(Path(scratch), log_level))
        if isinstance(input, str) and not text:
            input = input.encode()
        return subprocess.run(command, input=input, capture_output=True, text=text, timeout=timeout, check=check)


def random_cluster_id() -> str:
    """A Kafka Uuid string: 16 random bytes, URL-safe base64 without padding, with no "-"
    in it, as Kafka 4.4's Uuid.randomUuid draws them (kafka-storage takes an id starting
    with "-" for an option)."""
    for _ in range(1000):  # about 30% of draws have a "-"
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if "-" not in cluster_id:
            return cluster_id
    raise RuntimeError("no cluster id without '-' in 1000 draws")


def _metadata_broker_count(host: str, port: int, timeout: float) -> int:
    """Send one Metadata v12 request (no topics) and return how many brokers it lists.

    The broker lists itself only once it is registered and unfenced, that
    is, ready for clients.
    """
    from kwire.testing import call
    from kwire_protocol.messages import ApiKey, MetadataRequest

    request = MetadataRequest(topics=[], allow_auto_topic_creation=False)
    response = call(f"{host}:{port}", ApiKey.METADATA, 12, request, client_id="kwire-reference-kafka-probe", timeout=timeout)
    return len(response.brokers)


class ReferenceKafka:
    """One Apache Kafka node (KRaft, broker + controller) in a temp dir.

    `advertised_port` makes the broker tell clients to connect to another
    port on 127.0.0.1 than the one it listens on: a recording proxy in front
    of the broker uses it so that clients keep talking through the proxy
    after bootstrap. `jvm_options` replaces JVM_OPTIONS (a small heap for
    tests) for the broker's JVM, for example with kafka-server-start.sh's.
    """

    def __init__(self, *, startup_timeout: float = 120.0, stop_timeout: float = 30.0,
                 advertised_port: int | None = None, config: dict[str, str] | None = None,
                 log_level: str = "INFO", jvm_options: list[str] | None = None) -> None:
        self.startup_timeout = startup_timeout
        self.jvm_options = list(JVM_OPTIONS if jvm_options is None else jvm_options)
        self.stop_timeout = stop_timeout
        self.advertised_port = advertised_port
        self.extra_config = dict(config or {})
        self.log_level = log_level
        self.process: subprocess.Popen | None = None
        self.directory: Path | None = None
        self.port: int | None = None
        self.controller_port: int | None = None
        self.cluster_id: str | None = None
        self.exit_code: int | None = None
        self.startup_seconds: float | None = None

    # -- public --------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise ReferenceKafkaError("Kafka is not started")
        return f"127.0.0.1:{self.advertised_port or self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def data_dir(self) -> Path:
        if self.directory is None:
            raise ReferenceKafkaError("Kafka is not started")
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        if self.directory is None:
            raise ReferenceKafkaError("Kafka is not started")
        return self.directory / "server.log"

    def start(self) -> ReferenceKafka:
        if self.process is not None:
            raise ReferenceKafkaError("Kafka is already started")
        began = time.monotonic()
        classpath = resolve_classpath(SERVER)
        self.directory = Path(tempfile.mkdtemp(prefix="kwire-reference-kafka-"))
        try:
            self.port = free_port()
            self.controller_port = free_port()
            while self.controller_port == self.port:
                self.controller_port = free_port()
            self.cluster_id = random_cluster_id()
            properties = self._write_properties()
            log4j = _log4j_config(self.directory, self.log_level)
            self._format_storage(classpath, properties, log4j)
            with open(self.log_file, "ab") as log:
                self.process = subprocess.Popen(
                    java_command("kafka.Kafka", [str(properties)], classpath=classpath,
                                 log4j_config=log4j, jvm_options=self.jvm_options),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.directory, start_new_session=True,
                )
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> int | None:
        """Stop the JVM by PID (SIGTERM, then SIGKILL) and remove the temp dir."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=self.stop_timeout)
            self.exit_code = process.returncode
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        return self.exit_code

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, ReferenceKafkaError):
            return ""

    def __enter__(self) -> ReferenceKafka:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------

    def _write_properties(self) -> Path:
        assert self.directory is not None
        advertised = self.advertised_port or self.port
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{advertised}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.directory / "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
        }
        config.update(self.extra_config)
        path = self.directory / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in config.items()))
        return path

    def _format_storage(self, classpath: str, properties: Path, log4j: Path) -> None:
        command = java_command(
            "kafka.tools.StorageTool",
            ["format", "--config", str(properties), "--cluster-id", str(self.cluster_id), "--standalone"],
            classpath=classpath, log4j_config=log4j,
        )
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=self.startup_timeout)
        except subprocess.TimeoutExpired as exc:
            raise ReferenceKafkaError(f"formatting the storage took over {self.startup_timeout:.0f}s") from exc
        if result.returncode != 0:
            raise ReferenceKafkaError(
                f"kafka.tools.StorageTool format failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}"
            )

    def _wait_until_ready(self) -> None:
        assert self.process is not None and self.port is not None
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReferenceKafkaError(
                    f"Kafka exited with code {self.process.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                if _metadata_broker_count("127.0.0.1", self.port, timeout=5.0) > 0:
                    return
            except (OSError, ValueError, ProtocolError) as exc:
                last_error = exc
            time.sleep(0.25)
        raise ReferenceKafkaError(
            f"Kafka did not answer within {self.startup_timeout:.0f}s (last error: {last_error!r}):\n{self.log_tail()}"
        )


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat_tests.reference_kafka", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start Kafka, print its bootstrap address, run until Ctrl-C or --seconds")
    serve.add_argument("--seconds", type=float, default=3600.0, help="stop after this long (default 3600)")
    serve.add_argument("--port", type=int, default=None, help="advertise this port instead of the listener's")
    classpath = commands.add_parser("classpath", help="print the resolved classpath")
    classpath.add_argument("--tools", action="store_true", help="the tools classpath instead of the server's")
    tool = commands.add_parser("tool", help="run a Kafka tool main class with the tools classpath")
    tool.add_argument("--server-classpath", action="store_true", help="use the server classpath (kafka.tools.*)")
    tool.add_argument("main_class")
    tool.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)

    if options.command == "classpath":
        print(resolve_classpath(TOOLS if options.tools else SERVER))
        return 0
    if options.command == "tool":
        result = run_tool(options.main_class, options.args, profile=SERVER if options.server_classpath else TOOLS,
                          check=False, timeout=3600.0)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode
    kafka = ReferenceKafka(advertised_port=options.port)
    try:
        kafka.start()
        print(f"Kafka {KAFKA_VERSION} ready in {kafka.startup_seconds:.1f}s: bootstrap_servers={kafka.bootstrap_servers} "
              f"pid={kafka.pid} dir={kafka.directory}", flush=True)
        deadline = time.monotonic() + options.seconds
        while time.monotonic() < deadline and kafka.process is not None and kafka.process.poll() is None:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        code = kafka.stop()
        print(f"Kafka stopped (exit code {code})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
