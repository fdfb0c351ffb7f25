"""docker/: the image's entrypoint and healthcheck, run directly (no Docker engine here).

The entrypoint maps KWIRE_* variables onto server.properties keys as Apache
Kafka's image maps KAFKA_* ones; the full test runs the default command
(`kwire serve --config <file>`) through it and asks the healthcheck.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

DOCKER = Path(__file__).resolve().parents[2] / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
HEALTHCHECK = DOCKER / "healthcheck.py"


def entrypoint(env: dict[str, str], *command: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    config = tmp_path / "etc" / "server.properties"
    full_env = {"PATH": os.environ["PATH"], "KWIRE_CONFIG_FILE": str(config), **env}
    result = subprocess.run(["sh", str(ENTRYPOINT), *command], env=full_env, capture_output=True, text=True, timeout=30)
    return result, config.read_text() if config.exists() else ""


def test_environment_maps_onto_server_properties_as_kafkas_image_does(tmp_path: Path) -> None:
    result, properties = entrypoint(
        {
            "KWIRE_LOG_DIRS": "/var/lib/kwire/data",
            "KWIRE_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KWIRE_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "KWIRE_ADVERTISED_LISTENERS": "PLAINTEXT://kwire:9092",
            "KWIRE_KWIRE_ADMIN_LISTENER": "0.0.0.0:9093",
            "KWIRE_SOME__UNDERSCORE___DASH": "a=b c",
            "KWIRE_DEV": "true",
            "KWIRE_LOG_LEVEL": "DEBUG",
            "KAFKA_NUM_PARTITIONS": "7",
            "OTHER": "x",
        },
        "echo", "custom command",
        tmp_path=tmp_path,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "custom command\n", "")
    assert properties.splitlines() == [
        "# written by the kwire image entrypoint from KWIRE_* environment variables",
        "advertised.listeners=PLAINTEXT://kwire:9092",
        "group.initial.rebalance.delay.ms=0",
        "kwire.admin.listener=0.0.0.0:9093",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs=/var/lib/kwire/data",
        "some_underscore-dash=a=b c",
    ]


def test_default_command_serves_and_the_healthcheck_sees_it(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "KWIRE_CONFIG_FILE": str(tmp_path / "server.properties"),
        "KWIRE_LISTENERS": "PLAINTEXT://127.0.0.1:0",
        "KWIRE_LOG_DIRS": str(tmp_path / "data"),
        "KWIRE_DEV": "true",
        "KWIRE_LOG_LEVEL": "DEBUG",
    }
    for key in ("PYENV_VERSION", "PYENV_ROOT", "VIRTUAL_ENV"):
        if key in os.environ:
            env[key] = os.environ[key]
    process = subprocess.Popen(["sh", str(ENTRYPOINT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port: list[int] = []
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not port and (match := re.search(r"listening on PLAINTEXT://127\.0\.0\.1:(\d+)", line)):
                port.append(int(match.group(1)))
                seen.set()
        seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(30) and port, "".join(lines)
        healthy = subprocess.run([sys.executable, str(HEALTHCHECK), f"127.0.0.1:{port[0]}"], capture_output=True, text=True, timeout=30)
        assert (healthy.returncode, healthy.stderr) == (0, "")
        # KWIRE_DEV=true became --dev: the dev default is in force
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port[0]}")
        try:
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1", None)], config_filter="all")["broker"]["1"]
        finally:
            admin.close()
        assert configs["group.initial.rebalance.delay.ms"]["value"] == "0"
        # exec: the broker is the entrypoint's own process, so SIGTERM reaches it
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
    assert (tmp_path / "data").is_dir()
    assert any(" DEBUG " in line for line in lines)  # KWIRE_LOG_LEVEL=DEBUG became --log-level DEBUG
    assert "group.initial.rebalance.delay.ms" not in (tmp_path / "server.properties").read_text()


def test_healthcheck_fails_without_a_broker() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        result = subprocess.run([sys.executable, str(HEALTHCHECK), f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith(f"unhealthy: cannot reach 127.0.0.1:{port}")


@pytest.mark.parametrize("name", ["Dockerfile", "compose.yaml"])
def test_image_files_use_the_entrypoint_and_healthcheck(name: str) -> None:
    text = (DOCKER / name).read_text()
    assert "kwire-healthcheck.py" in text
    if name == "Dockerfile":
        assert re.search(r"^USER kwire$", text, re.M) and 'VOLUME ["/var/lib/kwire/data"]' in text
        assert 'ENTRYPOINT ["kwire-entrypoint"]' in text
