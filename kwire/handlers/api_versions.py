"""ApiVersions (api key 18), versions 0-5.

Answers with every API in the handler registry and the versions served.
KIP-511: a request of a version newer than we serve gets a v0-shaped answer
with UNSUPPORTED_VERSION and one entry, ApiVersions with the versions we
serve, so the client can retry with a version we know (the connection does
that part: see connection.py). Kafka 4.4 lists only that entry too
(tests/broker/fixtures/kafka_4_4_api_versions.json); clients read only it.
The response header is always v0 (handled by kwire_protocol.frames).

Features (KIP-584, v3+): kwire lists the features whose behaviour it
serves, at Kafka 4.4's levels: transaction.version 2 (KIP-890
transactions v2: Java clients 4.x then send EndTxn v5 and Produce v12+
without AddPartitionsToTxn), group.version 1 (the KIP-848 consumer
protocol), metadata.version 33 (4.4's; it gates broker-side metadata
formats, which clients do not use), and kraft.version 0 (supported only:
no dynamic controller quorum, KIP-853, so it is not finalized).
share.version, streams.version and eligible.leader.replicas.version are
not listed, since kwire has no share groups, streams groups or ELR.
The features never change while a broker runs, so the finalized epoch is
0 (Kafka's is the metadata offset of the last feature change; clients
only compare it with -1 and with later answers).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import REGISTRY, handles

ApiVersionsResponse = messages.ApiVersionsResponse
SupportedFeature = ApiVersionsResponse.cls.SupportedFeatureKey
FinalizedFeature = ApiVersionsResponse.cls.FinalizedFeatureKey

# name -> (lowest supported, highest supported, finalized level or None)
FEATURES: dict[str, tuple[int, int, int | None]] = {
    "group.version": (0, 1, 1),
    "kraft.version": (0, 0, None),
    "metadata.version": (7, 33, 33),
    "transaction.version": (0, 2, 2),
}
FINALIZED_FEATURES_EPOCH = 0


def supported_versions() -> list[Any]:
    return [
        ApiVersionsResponse.cls.ApiVersion(api_key=key, min_version=h.advertised_min_version, max_version=h.max_version)
        for key, h in sorted(REGISTRY.items())
    ]


def unsupported_version_response() -> Any:
    own = [v for v in supported_versions() if v.api_key == ApiKey.API_VERSIONS]
    return ApiVersionsResponse(error_code=ErrorCode.UNSUPPORTED_VERSION, api_keys=own)


@handles(ApiKey.API_VERSIONS)
def api_versions(broker: Any, request: Any) -> Any:
    body = request.body
    if request.version >= 3 and not (_valid_client_field(body.client_software_name) and _valid_client_field(body.client_software_version)):
        # KIP-511: names must match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
        return ApiVersionsResponse(error_code=ErrorCode.INVALID_REQUEST, api_keys=[])
    return ApiVersionsResponse(
        error_code=ErrorCode.NONE, api_keys=supported_versions(), throttle_time_ms=0,
        supported_features=[SupportedFeature(name=name, min_version=lo, max_version=hi) for name, (lo, hi, _) in FEATURES.items()],
        finalized_features_epoch=FINALIZED_FEATURES_EPOCH,
        finalized_features=[FinalizedFeature(name=name, min_version_level=level, max_version_level=level)
                            for name, (_, _, level) in FEATURES.items() if level is not None],
    )


def _valid_client_field(value: str) -> bool:
    if not value:
        return False
    if not (value[0].isascii() and value[0].isalnum() and value[-1].isascii() and value[-1].isalnum()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "-.") for c in value)
