"""The admin endpoint: fault injection and restarts over a tiny HTTP/JSON API.

Off unless `kwire.admin.listener=host:port` is set (port 0: any free port;
the chosen address is logged as "admin endpoint listening on
http://host:port"). It has no authentication: bind it to 127.0.0.1 only,
in tests and CI. A separate port, not a Kafka API, so no Kafka client can
reach it by accident and the Kafka listener stays exactly Kafka's protocol.

    GET    /health          {"status": "ok", "bootstrap_servers": ..., "restarts": n}
    GET    /faults          {"faults": [rule, ...]}
    POST   /faults          body: {"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER",
                                   "count": 3, "latency_ms": 0, "drop": false,
                                   "topic": null, "partition": null}  -> 201 {"fault": rule}
    DELETE /faults/<id>     {"removed": true}, or 404
    DELETE /faults          {"removed": n}
    POST   /restart         {"status": "restarted", "restarts": n}

Errors are {"error": "..."} with status 400 (a bad rule) or 404. Each
request is one HTTP/1.1 exchange on its own connection (`Connection:
close`), which is all curl and urllib need.

The client half (`AdminClient`, and `kwire faults ...` / `kwire restart`)
is plain urllib, so it does not import the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
HEADER_TIMEOUT_S = 10.0
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}
_RULE_FIELDS = {"api", "error", "count", "latency_ms", "drop", "topic", "partition"}


class AdminServer:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.address = ""
        self._server: asyncio.base_events.Server | None = None

    async def start(self, listener: str) -> None:
        from kwire.config import ConfigError

        host, colon, port = listener.rpartition(":")
        if not colon or not port.isdigit():
            raise ConfigError(f"invalid kwire.admin.listener {listener!r}: expected host:port")
        try:
            self._server = await asyncio.start_server(self._serve, host.strip("[]"), int(port), reuse_address=True)
        except OSError as e:
            raise ConfigError(f"cannot listen on {listener} (kwire.admin.listener): {e.strerror or e}") from None
        bound_host, bound_port = self._server.sockets[0].getsockname()[:2]
        self.address = f"{bound_host}:{bound_port}"
        log.info("admin endpoint listening on http://%s", self.address)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await asyncio.wait_for(self._read_and_answer(reader), HEADER_TIMEOUT_S * 3)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError) as e:
            status, payload = 400, {"error": f"bad HTTP request: {e or type(e).__name__}"}
        except Exception as e:  # our fault: answer, log, keep serving
            log.exception("admin endpoint failed")
            status, payload = 500, {"error": str(e)}
        body = json.dumps(payload).encode()
        head = f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _read_and_answer(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        request_line = (await reader.readline()).decode("latin-1").strip()
        method, _, rest = request_line.partition(" ")
        path = rest.partition(" ")[0]
        length = 0
        while True:
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length > MAX_BODY:
            return 413, {"error": f"body larger than {MAX_BODY} bytes"}
        raw = await reader.readexactly(length) if length else b""
        return await self.answer(method, path, raw)

    async def answer(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        node = self.node
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts == ["health"] and method == "GET":
            broker = node.broker
            if broker is None or not broker.bound:
                return 503, {"status": "starting"}
            return 200, {"status": "ok", "bootstrap_servers": f"{broker.bound[0].host}:{broker.bound[0].port}", "restarts": node.restarts}
        if parts == ["faults"]:
            if method == "GET":
                return 200, {"faults": [r.to_dict() for r in node.faults.rules()]}
            if method == "DELETE":
                return 200, {"removed": node.faults.clear()}
            if method == "POST":
                try:
                    spec = json.loads(raw or b"{}")
                    if not isinstance(spec, dict) or "api" not in spec or set(spec) - _RULE_FIELDS:
                        raise ValueError(f"a fault is an object with 'api' and any of {sorted(_RULE_FIELDS - {'api'})}")
                    rule = node.faults.add(spec.pop("api"), spec.pop("error", None), **spec)
                except (ValueError, TypeError) as e:
                    return 400, {"error": str(e)}
                return 201, {"fault": rule.to_dict()}
            return 405, {"error": f"{method} /faults is not served"}
        if len(parts) == 2 and parts[0] == "faults" and parts[1].isdigit() and method == "DELETE":
            if node.faults.remove(int(parts[1])):
                return 200, {"removed": True}
            return 404, {"error": f"no fault #{parts[1]}"}
        if parts == ["restart"] and method == "POST":
            await node.restart()
            return 200, {"status": "restarted", "restarts": node.restarts}
        return 404, {"error": f"{method} {path} is not served"}


class AdminError(RuntimeError):
    """The admin endpoint refused a request (the message is its error)."""


class AdminClient:
    """Talks to a broker's admin endpoint: `AdminClient("127.0.0.1:9093").add_fault(...)`."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        # Imported here: the broker imports this module for the endpoint, and
        # urllib.request (http.client, email) would cost it 2 MB of memory.
        import urllib.error
        import urllib.request

        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"http://{self.address}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            with e:
                try:
                    message = json.loads(e.read()).get("error", str(e))
                except ValueError:
                    message = str(e)
            raise AdminError(message) from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")  # type: ignore[no-any-return]

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["faults"]  # type: ignore[no-any-return]

    def add_fault(self, api: str | int, error: str | int | None = None, **options: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", {"api": api, "error": error, **options})["fault"]  # type: ignore[no-any-return]

    def remove_fault(self, rule_id: int) -> bool:
        try:
            return bool(self._call("DELETE", f"/faults/{int(rule_id)}")["removed"])
        except AdminError:
            return False

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "/faults")["removed"])

    def restart(self) -> None:
        self._call("POST", "/restart", {})


# --- kwire faults / kwire restart -----------------------------------------------


def add_commands(commands: Any) -> None:
    """Add `kwire faults ...` and `kwire restart` to the CLI's subparsers."""
    faults = commands.add_parser("faults", help="inject faults into a running broker (needs kwire.admin.listener)")
    actions = faults.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="answer the next requests of an API with an error, late, or by closing")
    add.add_argument("--api", required=True, help="Kafka API name, e.g. Produce, Fetch, JoinGroup")
    add.add_argument("--error", help="Kafka error name or code, e.g. NOT_LEADER_OR_FOLLOWER")
    add.add_argument("--count", default="1", help="how many requests (default 1; 'forever' until removed)")
    add.add_argument("--latency-ms", type=int, default=0, help="delay the answer this long")
    add.add_argument("--drop", action="store_true", help="close the connection instead of answering")
    add.add_argument("--topic", help="only requests naming this topic")
    add.add_argument("--partition", type=int, help="only requests naming this partition of --topic")
    actions.add_parser("list", help="list the fault rules")
    remove = actions.add_parser("remove", help="remove one rule")
    remove.add_argument("id", type=int)
    actions.add_parser("clear", help="remove every rule")
    restart = commands.add_parser("restart", help="restart a running broker in place (needs kwire.admin.listener)")
    for parser in (add, *(actions.choices[name] for name in ("list", "remove", "clear")), restart):
        parser.add_argument("--admin", required=True, metavar="HOST:PORT", help="the broker's kwire.admin.listener address")


def run_command(args: argparse.Namespace) -> int:
    client = AdminClient(args.admin)
    try:
        if args.command == "restart":
            client.restart()
            print("restarted")
        elif args.action == "add":
            count = None if args.count == "forever" else int(args.count)
            rule = client.add_fault(args.api, args.error, count=count, latency_ms=args.latency_ms, drop=args.drop, topic=args.topic, partition=args.partition)
            print(json.dumps(rule))
        elif args.action == "list":
            for rule in client.faults():
                print(json.dumps(rule))
        elif args.action == "remove":
            if not client.remove_fault(args.id):
                print(f"kwire: error: no fault #{args.id}", file=sys.stderr)
                return 1
        elif args.action == "clear":
            print(f"removed {client.clear_faults()}")
    except (AdminError, ValueError) as e:
        print(f"kwire: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"kwire: error: cannot reach the admin endpoint at {args.admin}: {getattr(e, 'reason', e)}", file=sys.stderr)
        return 2
    return 0
