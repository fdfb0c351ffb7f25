"""A broker node as `kwire serve` and `kwire.testing.Broker` run it.

`Node` holds what outlives a broker restart: the configuration, the fault
rules (kwire/faults.py) and the admin endpoint (kwire/admin.py, when
`kwire.admin.listener` is set). `restart()` stops the `server.Broker`
cleanly and starts a new one on the same data directory and the same
ports (a listener configured with port 0 keeps the port it was given), so
clients reconnect to the address they know, as after a real broker restart.
"""

from __future__ import annotations

import logging

from kwire.config import BrokerConfig, load_config
from kwire.faults import Faults
from kwire.server import Broker

log = logging.getLogger(__name__)


class Node:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.broker: Broker | None = None
        self.admin = None  # kwire.admin.AdminServer when kwire.admin.listener is set
        self.restarts = 0

    @property
    def port(self) -> int:
        assert self.broker is not None and self.broker.bound, "node not started"
        return self.broker.bound[0].port

    @property
    def admin_address(self) -> str | None:
        return self.admin.address if self.admin is not None else None

    async def start(self) -> None:
        # The admin endpoint first: "listening on PLAINTEXT://..." stays the
        # last start-up line, which BrokerProcess waits for.
        if self.config["kwire.admin.listener"]:
            from kwire.admin import AdminServer  # only nodes that ask for it pay the import

            self.admin = AdminServer(self)
            await self.admin.start(self.config["kwire.admin.listener"])
        try:
            await self._start_broker()
        except BaseException:
            await self.stop()
            raise

    async def _start_broker(self) -> None:
        broker = Broker(self.config)
        broker.faults = self.faults
        self.broker = broker
        await broker.start()

    async def restart(self) -> None:
        """Stop the broker cleanly and start it again on the same ports and data."""
        assert self.broker is not None
        bound = ",".join(f"{b.name}://{b.host}:{b.port}" for b in self.broker.bound)
        log.warning("restarting the broker (asked through the admin endpoint or kwire.testing)")
        await self.broker.stop()
        self.config = load_config(None, [f"{k}={v}" for k, v in {**self.config.originals, "listeners": bound}.items()])
        self.restarts += 1
        await self._start_broker()

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.stop()
            self.admin = None
        if self.broker is not None:
            await self.broker.stop()
