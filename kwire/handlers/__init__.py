"""The handler registry: one place that says which APIs and versions kwire serves.

A handler module registers each API once with `@handles(ApiKey.X, min, max)`.
Dispatch, the ApiVersions answer and the docs table all read `REGISTRY`;
a test checks that every advertised API has exactly one handler.

A handler is a plain function `(broker, request) -> response body` (or an
async one, for long polls and quorum writes). It never touches the socket;
returning None means "no response" (Produce with acks=0), and returning
CLOSE_CONNECTION means "no response, close the connection" (a failed acks=0
Produce: the client has no other way to learn of the error).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kwire_protocol.messages import APIS, Api

HandlerFn = Callable[[Any, Any], Any | Awaitable[Any]]


class _CloseConnection:
    """What a handler returns to have its connection closed instead of
    answered (Kafka's RequestChannel.CloseConnectionResponse)."""

    def __repr__(self) -> str:
        return "CLOSE_CONNECTION"


CLOSE_CONNECTION = _CloseConnection()


@dataclass(frozen=True)
class Handler:
    api: Api
    min_version: int
    max_version: int
    fn: HandlerFn
    # What ApiVersions advertises as the minimum; below min_version requests
    # are refused. Only Produce differs (KAFKA-18659, see handlers/produce.py).
    advertised_min_version: int

    def serves(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version


REGISTRY: dict[int, Handler] = {}


def handles(api_key: int, min_version: int | None = None, max_version: int | None = None, *, advertised_min_version: int | None = None) -> Callable[[HandlerFn], HandlerFn]:
    api = APIS[api_key]
    lo = api.min_version if min_version is None else min_version
    hi = api.max_stable_version if max_version is None else max_version
    if not (api.min_version <= lo <= hi <= api.max_version):
        raise ValueError(f"{api.name}: versions {lo}-{hi} outside what the codec knows ({api.min_version}-{api.max_version})")

    def register(fn: HandlerFn) -> HandlerFn:
        if api_key in REGISTRY:
            raise RuntimeError(f"{api.name} has two handlers: {REGISTRY[api_key].fn.__module__} and {fn.__module__}")
        REGISTRY[api_key] = Handler(api, lo, hi, fn, lo if advertised_min_version is None else advertised_min_version)
        return fn

    return register


def load_handlers() -> dict[int, Handler]:
    """Import every module of this package: each registers its APIs on import."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
