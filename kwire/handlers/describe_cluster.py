"""DescribeCluster (api key 60), versions 0-2.

Cluster id, controller id and the registered brokers with host, port and
rack, read from the current metadata image (Kafka's
AuthHelper.computeDescribeClusterResponse, as a broker answers it).

- Endpoint type (v1+, KIP-919): kwire answers as a broker, so a request for
  controllers (2) gets MISMATCHED_ENDPOINT_TYPE and an unknown type
  UNSUPPORTED_ENDPOINT_TYPE (INVALID_REQUEST at v0, where the field is
  always 1 anyway). Such an answer carries no cluster id, brokers or
  controller, as Kafka's does.
- Fenced brokers are listed only when the request asks (v2, KIP-1073), with
  `is_fenced` set.
- Controller id: a Kafka broker answers with an alive broker chosen at
  random, because clients send controller-bound admin requests to it (the
  real controllers are not reachable by clients). Every kwire node is a
  broker and a controller, so the quorum leader is such a broker; when it is
  not known (or fenced), the lowest alive broker id stands in.
- Cluster authorized operations only when asked, otherwise Kafka's "not
  requested" value (see kwire/authorizer.py).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_raft.image import MetadataImage

from kwire.authorizer import authorized_operations
from kwire.handlers import handles

DescribeClusterResponse = messages.DescribeClusterResponse
Broker = DescribeClusterResponse.cls.DescribeClusterBroker

# org.apache.kafka.common.message.EndpointType
BROKER_ENDPOINT, CONTROLLER_ENDPOINT = 1, 2
_ENDPOINT_NAMES = {BROKER_ENDPOINT: "BROKER", CONTROLLER_ENDPOINT: "CONTROLLER"}


@handles(ApiKey.DESCRIBE_CLUSTER)
def describe_cluster(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    endpoint_type = body.endpoint_type
    if endpoint_type not in _ENDPOINT_NAMES:
        return _error(version, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, f"Unsupported endpoint type {endpoint_type}")
    if endpoint_type != BROKER_ENDPOINT:
        return _error(version, ErrorCode.MISMATCHED_ENDPOINT_TYPE,
                      f"The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type {_ENDPOINT_NAMES[endpoint_type]}")

    image: MetadataImage = broker.image
    include_fenced = version >= 2 and body.include_fenced_brokers
    brokers = [
        Broker(broker_id=b.node_id, host=b.host, port=b.port, rack=b.rack, is_fenced=b.fenced)
        for _, b in sorted(image.brokers.items())
        if include_fenced or not b.fenced
    ]
    return DescribeClusterResponse(
        throttle_time_ms=0,
        error_code=ErrorCode.NONE,
        error_message=None,
        endpoint_type=BROKER_ENDPOINT,
        cluster_id=image.cluster_id,
        controller_id=_controller_id(image),
        brokers=brokers,
        cluster_authorized_operations=authorized_operations("cluster", body.include_cluster_authorized_operations),
    )


def _controller_id(image: MetadataImage) -> int:
    alive = [b.node_id for b in image.unfenced_brokers()]
    if image.controller_id in alive:
        return image.controller_id
    return alive[0] if alive else -1


def _error(version: int, error: int, message: str) -> Any:
    # v0 knows neither error code, so Kafka falls back to INVALID_REQUEST.
    return DescribeClusterResponse(
        throttle_time_ms=0,
        error_code=ErrorCode.INVALID_REQUEST if version == 0 else error,
        error_message=message,
        endpoint_type=BROKER_ENDPOINT,
        cluster_id="",
        controller_id=-1,
        brokers=[],
    )
