"""`kwire serve`: run a broker node.

    kwire serve [--config server.properties] [--override key=value ...] [--dev]
    kwire faults add|list|remove|clear --admin HOST:PORT ...   (kwire/admin.py)
    kwire restart --admin HOST:PORT

Configuration errors, an occupied port or an unwritable data directory end
the process with one line on stderr and exit status 2, not a traceback.
SIGTERM and SIGINT shut down cleanly.

At start-up the soft limit on open files is raised to the hard limit: each
client connection, segment and index holds a descriptor, and distributions
often default the soft limit to 1024 (Kafka deployments commonly allow
about 100000).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import signal
import sys

from kwire import admin
from kwire.config import ConfigError, load_config
from kwire.node import Node

# --dev: what a test or CI run wants, not what production wants (issue 8).
DEV_OVERRIDES = {
    "group.initial.rebalance.delay.ms": "0",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "auto.create.topics.enable": "true",
    "kwire.metadata.fsync": "false",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kwire", description="A Kafka wire-protocol compatible broker.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a broker node (broker and controller)")
    serve.add_argument("--config", help="a Kafka server.properties file")
    serve.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="set one configuration key (repeatable)")
    serve.add_argument("--dev", action="store_true", help="defaults for tests and CI: no rebalance delay, replication factor 1 for internal topics, no metadata fsync")
    serve.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    admin.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command != "serve":
        return admin.run_command(args)

    try:
        logging.basicConfig(level=args.log_level.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    except ValueError as e:
        parser.error(str(e))
    _raise_open_files_limit()
    try:
        config = load_config(args.config, args.override, base=DEV_OVERRIDES if args.dev else None)
        asyncio.run(_serve(Node(config)))
    except ConfigError as e:
        print(f"kwire: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20  # Linux refuses an infinite NOFILE
    if soft == target or (soft != resource.RLIM_INFINITY and soft > target):
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        logging.getLogger("kwire").warning("cannot raise the open files limit from %s to %s: %s", soft, hard, e)


async def _serve(node: Node) -> None:
    # Handlers first: a SIGTERM that arrives while starting (or right after
    # "listening on" is logged) still means a clean shutdown.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await node.start()
    for key, value in node.config.unknown.items():
        logging.getLogger("kwire").warning("configuration %s=%s is not used by kwire", key, value)
    await stop.wait()
    await node.stop()


if __name__ == "__main__":
    sys.exit(main())
