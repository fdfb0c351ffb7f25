"""ApiVersions (key 18) over raw sockets, against what Apache Kafka 4.4 answers.

The reference answers are in fixtures/kafka_4_4_api_versions.json, recorded
from a real Kafka 4.4 by fixtures/record_kafka_api_versions.py.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter
from pathlib import Path

import pytest

from kwire.handlers import load_handlers
from kwire_protocol import messages
from kwire_protocol.messages import APIS, ApiKey
from kwire_protocol.primitives import Reader

from tests.broker.fixtures.record_kafka_api_versions import tagged_fields_v3
from tests.broker.wire import WireClient, framed, header_v1, probe

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "kafka_4_4_api_versions.json").read_text())
KAFKA_RANGES = {key: (lo, hi) for key, lo, hi in FIXTURE["api_keys"]}
API_VERSIONS = APIS[ApiKey.API_VERSIONS]
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42


def request(name: str = "kwire-tests", version: str = "1.0") -> object:
    return messages.ApiVersionsRequest(client_software_name=name, client_software_version=version)


def advertised(port: int, version: int = 4) -> dict[int, tuple[int, int]]:
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.API_VERSIONS, version, request())
    assert body.error_code == 0
    keys = [entry.api_key for entry in body.api_keys]
    assert keys == sorted(set(keys)), "each API once, by key"
    return {entry.api_key: (entry.min_version, entry.max_version) for entry in body.api_keys}


def test_advertised_list_is_the_handler_registry(broker) -> None:
    registry = load_handlers()
    assert advertised(broker.port) == {key: (h.advertised_min_version, h.max_version) for key, h in registry.items()}
    # Exactly one handler per advertised API, counted in the sources: the
    # registry refuses a second registration at import, and no module may
    # register an API under another name.
    sources = "\n".join(p.read_text() for p in sorted((Path(registry[ApiKey.API_VERSIONS].fn.__code__.co_filename).parent).glob("*.py")))
    registrations = Counter(re.findall(r"^@handles\(\s*ApiKey\.([A-Z_]+)", sources, re.MULTILINE))
    assert registrations == Counter({ApiKey(key).name: 1 for key in registry})


def test_advertised_version_ranges_are_kafka_4_4s(broker) -> None:
    ours = advertised(broker.port)
    assert FIXTURE["kafka_version"].startswith("4.4")
    assert set(ours) <= set(KAFKA_RANGES), f"APIs Kafka 4.4 does not advertise: {set(ours) - set(KAFKA_RANGES)}"
    differing = {APIS[key].name: (ours[key], KAFKA_RANGES[key]) for key in ours if ours[key] != KAFKA_RANGES[key]}
    assert differing == {}, "kwire's range vs Kafka 4.4's"


@pytest.mark.parametrize("version", range(API_VERSIONS.min_version, API_VERSIONS.max_version + 1))
def test_every_version_answers_the_same_list(broker, version: int) -> None:
    with WireClient.connect(broker.port) as wire:
        correlation_id = wire.send(ApiKey.API_VERSIONS, version, request())
        frame = wire.receive_frame()
    # Response header v0 at every version (KIP-511): the correlation id, then the body.
    assert struct.unpack_from(">i", frame)[0] == correlation_id
    body = API_VERSIONS.response.decode(frame[4:], version)
    assert body.error_code == 0
    assert {e.api_key: (e.min_version, e.max_version) for e in body.api_keys} == advertised(broker.port)
    if version >= 1:
        assert body.throttle_time_ms == 0


def test_tagged_fields_only_where_kafka_sends_them(broker) -> None:
    with WireClient.connect(broker.port) as wire:
        wire.send(ApiKey.API_VERSIONS, 4, request())
        frame = wire.receive_frame()
    ours = tagged_fields_v3(frame[4:])
    kafka = FIXTURE["tagged_fields"]
    assert kafka == {"top_level": [0, 1, 2], "api_version_entry": []}  # features: supported, epoch, finalized
    assert set(ours["top_level"]) <= set(kafka["top_level"])
    assert ours["api_version_entry"] == []
    assert 3 not in ours["top_level"]  # ZkMigrationReady: false, its default, so never written


@pytest.mark.parametrize("version", [API_VERSIONS.max_version + 1, 127, 32767])
def test_unknown_version_gets_a_v0_answer_with_unsupported_version(broker, version: int) -> None:
    kafka = FIXTURE["unknown_version"]
    assert (kafka["error_code"], kafka["api_keys"]) == (UNSUPPORTED_VERSION, [[ApiKey.API_VERSIONS, 0, API_VERSIONS.max_version]])
    with WireClient.connect(broker.port) as wire:
        # A newer client's request: header v2 (client id, then tagged fields),
        # then a body of a layout we do not know.
        wire.send_raw(framed(header_v1(ApiKey.API_VERSIONS, version, 77) + b"\x00" + b"\x05future-fields"))
        frame = wire.receive_frame()
        reader = Reader(frame)
        assert reader.int32() == 77
        body = API_VERSIONS.response.decode(reader, 0)
        assert body.error_code == UNSUPPORTED_VERSION
        assert [[e.api_key, e.min_version, e.max_version] for e in body.api_keys] == kafka["api_keys"]
        # The client retries with a version we serve, on the same connection.
        assert wire.call(ApiKey.API_VERSIONS, 3, request()).error_code == 0


def test_client_software_name_and_version_v3(broker) -> None:
    with WireClient.connect(broker.port) as wire:
        for name, version in [("apache-kafka-java", "4.4.0"), ("librdkafka", "2.16.0"), ("kafka-python", "3.0.12"), ("a", "1")]:
            assert wire.call(ApiKey.API_VERSIONS, 3, request(name, version)).error_code == 0
        kafka = FIXTURE["invalid_client_software_name"]
        assert (kafka["error_code"], kafka["api_keys"]) == (INVALID_REQUEST, [])
        # KIP-511's pattern: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
        for name, version in [("bad name!", "1.0"), ("", "1.0"), ("ok", ""), ("-lead", "1"), ("trail.", "1"), ("ok", "1.0 beta")]:
            body = wire.call(ApiKey.API_VERSIONS, 3, request(name, version))
            assert (body.error_code, body.api_keys) == (INVALID_REQUEST, []), (name, version)
        # The connection stays usable after an INVALID_REQUEST answer.
        assert wire.call(ApiKey.API_VERSIONS, 4, request()).error_code == 0


def test_produce_is_advertised_from_v0_but_v0_to_v2_are_refused(broker) -> None:
    # KAFKA-18659: librdkafka only compresses when Produce v0 is advertised.
    assert KAFKA_RANGES[ApiKey.PRODUCE][0] == 0
    assert advertised(broker.port)[ApiKey.PRODUCE][0] == 0
    assert FIXTURE["malformed_frames"]["Produce v2 (KAFKA-18659)"] == "closed"
    for version in (0, 1, 2):
        # acks=1, timeout_ms=1000, no topics: a valid v0-2 body
        assert probe(broker.port, framed(header_v1(ApiKey.PRODUCE, version) + struct.pack(">hii", 1, 1000, 0))) == "closed"
    with WireClient.connect(broker.port) as wire:
        body = wire.call(ApiKey.PRODUCE, 3, messages.ProduceRequest(acks=1, timeout_ms=1000, topic_data=[]))
        assert body.responses == []


def test_features_are_those_kwire_serves_at_kafka_4_4s_levels(broker) -> None:
    """Kafka 4.4 answered (ReferenceKafka, default configs): supported
    group.version 0-1, kraft.version 0-1, metadata.version 7-33,
    transaction.version 0-2 (and share/streams/ELR, which kwire lacks), all
    finalized at their highest level."""
    with WireClient.connect(broker.port) as wire:
        body = wire.call(ApiKey.API_VERSIONS, 4, request())
        old = wire.call(ApiKey.API_VERSIONS, 2, request())
    supported = {f.name: (f.min_version, f.max_version) for f in body.supported_features}
    finalized = {f.name: (f.min_version_level, f.max_version_level) for f in body.finalized_features}
    assert set(supported) <= set(FIXTURE["supported_features"]) and set(finalized) <= set(FIXTURE["finalized_features"])
    assert supported == {"group.version": (0, 1), "kraft.version": (0, 0), "metadata.version": (7, 33), "transaction.version": (0, 2)}
    assert finalized == {"group.version": (1, 1), "metadata.version": (33, 33), "transaction.version": (2, 2)}
    assert body.finalized_features_epoch >= 0  # Java clients take finalized features only from an epoch above -1
    assert old.supported_features == [] and old.finalized_features == []  # v3+ only
