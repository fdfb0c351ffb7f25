"""Docker HEALTHCHECK for the kwire image: exit 0 when the broker answers ApiVersions.

    python healthcheck.py [host:port]     (default: $KWIRE_HEALTHCHECK_BOOTSTRAP or 127.0.0.1:9092)

Speaks the Kafka protocol (ApiVersions v0, the request every client sends
first), so "healthy" means what a client needs, not just an open port.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

TIMEOUT_S = 3.0


def check(address: str) -> str | None:
    """None when healthy, else what is wrong."""
    host, _, port = address.rpartition(":")
    # ApiVersions v0 request: header v1 (api key 18, version 0, correlation id 1, client id), empty body.
    client_id = b"kwire-healthcheck"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=TIMEOUT_S) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            data = b""
            while len(data) < 10:  # size, correlation id, error code
                chunk = sock.recv(64)
                if not chunk:
                    return "connection closed before an answer"
                data += chunk
    except OSError as e:
        return f"cannot reach {address}: {e}"
    correlation_id, error_code = struct.unpack(">ih", data[4:10])
    if correlation_id != 1:
        return f"answer with correlation id {correlation_id}, expected 1"
    if error_code != 0:
        return f"ApiVersions answered error code {error_code}"
    return None


def main(argv: list[str]) -> int:
    address = argv[1] if len(argv) > 1 else os.environ.get("KWIRE_HEALTHCHECK_BOOTSTRAP", "127.0.0.1:9092")
    problem = check(address)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
