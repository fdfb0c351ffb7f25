"""Capture record batches from real clients into tests/protocol/fixtures/batches/.

    python -m compat_tests.capture_batches [--clients kafka-python,confluent-kafka,java]
                                           [--codecs none,gzip,snappy,lz4,zstd]

Starts a reference Apache Kafka (compat_tests.reference_kafka) behind a
recording proxy (compat_tests.capture_proxy); the broker advertises the
proxy's port, so every request of every client passes through it. Then each
client (kafka-python, confluent-kafka/librdkafka, and the Java kafka-clients
4.4.0 producer via compat_tests/java/CaptureProducer.java) produces the same
list of records (`fixture_records()`) to its own single-partition topic, once
per compression codec.

From the Produce requests each run sent, the records field of partition 0
is taken exactly as the client sent it; the fields are concatenated in the
order they were sent (normally there is one request holding one batch) and
saved as `<client>-<codec>.bin`. The Produce requests are decoded with
kafka-python's protocol classes (kafka.protocol.producer.ProduceRequest);
kwire's own decoder is not involved. `expected.json` lists the records sent
and, per fixture, what was observed (client version, Produce version, batch
header fields, first bytes of the compressed payload).

Before writing anything, each blob is checked: the batch CRCs (kwire's
validate_batches, header-only) and kafka-python's record reader must give
back exactly the records sent. Fixtures are regenerated only by hand; tests
use the committed files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compat_tests import reference_kafka
from compat_tests.capture_proxy import RecordingProxy

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "protocol" / "fixtures" / "batches"
JAVA_PRODUCER = Path(__file__).resolve().parent / "java" / "CaptureProducer.java"

CLIENTS = ("kafka-python", "confluent-kafka", "java")
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PRODUCE = 0
BASE_TIMESTAMP = 1_700_000_000_000
LARGE_VALUE_SIZE = 100 * 1024
CLIENT_TIMEOUT = 120.0

Record = dict  # {"timestamp": int, "key": bytes|None, "value": bytes|None, "headers": [(str, bytes|None)]}


def _large_value() -> bytes:
    """~100 KB: half repetitive text (compresses well), half pseudo-random bytes (does not)."""
    text = b"".join(b"line %06d of the large value, repeated to give the codec work\n" % i for i in range(1000))
    half = LARGE_VALUE_SIZE // 2
    noise = random.Random(20240601).randbytes(LARGE_VALUE_SIZE - half)
    return text[:half] + noise


def fixture_records() -> list[Record]:
    """The records every client sends, in order (all to partition 0)."""
    t = BASE_TIMESTAMP
    records: list[Record] = [
        {"timestamp": t, "key": b"key-0", "value": b"first record", "headers": []},
        {"timestamp": t + 1, "key": None, "value": b"record with a null key", "headers": []},
        {"timestamp": t + 2, "key": b"tombstone", "value": None, "headers": []},
        {
            "timestamp": t + 3,
            "key": b"with-headers",
            "value": b"record with headers",
            "headers": [
                ("trace-id", b"4bf92f3577b34da6"),
                ("null-header", None),
                ("empty-header", b""),
                ("repeated", b"first"),
                ("repeated", b"second"),
                ("\u00fcnic\u00f6de-h\u00e9ader", "v\u00e4rde \u2713".encode()),
                ("binary", bytes([0, 255, 1, 254])),
            ],
        },
        {"timestamp": t + 4, "key": b"empty-value", "value": b"", "headers": []},
        {"timestamp": t + 5, "key": b"", "value": b"record with an empty key", "headers": []},
        {"timestamp": t + 6, "key": b"large", "value": _large_value(), "headers": [("size", b"102400")]},
        {"timestamp": t + 7, "key": bytes(range(256)), "value": bytes(range(255, -1, -1)) * 4, "headers": []},
        # Earlier than the first record: a negative timestamp delta.
        {"timestamp": t - 60_000, "key": b"earlier", "value": b"timestamp before the first record", "headers": []},
        {"timestamp": t + 9, "key": None, "value": None, "headers": [("only", b"headers")]},
    ]
    for i in range(10, 60):
        value = (
            '{"id": %d, "user": "user-%04d", "email": "user-%04d@example.com", "plan": "%s", '
            '"tags": ["alpha", "beta", "gamma"], "note": "the same words again and again"}'
            % (i, i, i, ("free", "pro", "team")[i % 3])
        ).encode()
        records.append({"timestamp": t + 1000 * i, "key": b"user-%04d" % i, "value": value, "headers": []})
    return records


def records_for_client(client: str, records: list[Record]) -> tuple[list[Record], dict[int, str]]:
    """The records `client` can actually send, and why any of them differ from `records`.

    kafka-python's KafkaProducer.send() rejects a header whose value is None
    ("All headers items must be (str, bytes) tuples") and a record whose key
    and value are both None; for it those headers are left out and such a
    key becomes b"". The other clients send the list unchanged.
    """
    if client != "kafka-python":
        return records, {}
    adapted, reasons = [], {}
    for index, record in enumerate(records):
        record = dict(record)
        why = []
        if any(value is None for _, value in record["headers"]):
            record["headers"] = [(name, value) for name, value in record["headers"] if value is not None]
            why.append("kafka-python cannot send a null header value: left out")
        if record["key"] is None and record["value"] is None:
            record["key"] = b""
            why.append("kafka-python refuses a null key with a null value: key sent as empty")
        if why:
            reasons[index] = "; ".join(why)
        adapted.append(record)
    return adapted, reasons


# -- JSON form of the records ----------------------------------------------------


def encode_bytes(data: bytes | None) -> dict | None:
    """{"utf8": text} when the bytes are printable UTF-8 (or empty), else {"base64": ...}; None stays null."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch == "\n" for ch in text):
        return {"utf8": text}
    return {"base64": base64.b64encode(data).decode()}


def decode_bytes(field: dict | None) -> bytes | None:
    if field is None:
        return None
    if "utf8" in field:
        return field["utf8"].encode("utf-8")
    return base64.b64decode(field["base64"])


def records_to_json(records: list[Record]) -> list[dict]:
    return [
        {
            "timestamp": r["timestamp"],
            "key": encode_bytes(r["key"]),
            "value": encode_bytes(r["value"]),
            "headers": [[name, encode_bytes(value)] for name, value in r["headers"]],
        }
        for r in records
    ]


def records_from_json(items: list[dict]) -> list[Record]:
    return [
        {
            "timestamp": item["timestamp"],
            "key": decode_bytes(item["key"]),
            "value": decode_bytes(item["value"]),
            "headers": [(name, decode_bytes(value)) for name, value in item["headers"]],
        }
        for item in items
    ]


# -- clients -------------------------------------------------------------------


def produce_kafka_python(bootstrap: str, topic: str, codec: str, records: list[Record]) -> str:
    import kafka
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="capture-kafka-python",
        compression_type=None if codec == "none" else codec,
        batch_size=1024 * 1024,
        linger_ms=10_000,
        max_request_size=4 * 1024 * 1024,
    )
    try:
        futures = [
            producer.send(topic, key=r["key"], value=r["value"], partition=0,
                          timestamp_ms=r["timestamp"], headers=list(r["headers"]))
            for r in records
        ]
        producer.flush(timeout=CLIENT_TIMEOUT)
        for future in futures:
            future.get(timeout=CLIENT_TIMEOUT)
    finally:
        producer.close(timeout=10)
    return f"kafka-python {kafka.__version__}"


def produce_confluent_kafka(bootstrap: str, topic: str, codec: str, records: list[Record]) -> str:
    import confluent_kafka

    errors: list[str] = []
    delivered = [0]

    def on_delivery(error, message) -> None:
        if error is not None:
            errors.append(str(error))
        else:
            delivered[0] += 1

    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap,
        "client.id": "capture-confluent-kafka",
        "compression.type": codec,
        "linger.ms": 10_000,
        "batch.size": 4 * 1024 * 1024,
        "message.max.bytes": 4 * 1024 * 1024,
    })
    for r in records:
        producer.produce(topic, value=r["value"], key=r["key"], partition=0, timestamp=r["timestamp"],
                         headers=list(r["headers"]), on_delivery=on_delivery)
    remaining = producer.flush(CLIENT_TIMEOUT)
    if remaining or errors or delivered[0] != len(records):
        raise RuntimeError(f"confluent-kafka: {remaining} undelivered, {delivered[0]} delivered, errors {errors[:3]}")
    del producer
    return f"confluent-kafka {confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}"


def produce_java(bootstrap: str, topic: str, codec: str, records: list[Record]) -> str:
    def field(data: bytes | None) -> str:
        return "-" if data is None else base64.b64encode(data).decode()

    lines = []
    for r in records:
        parts = [str(r["timestamp"]), field(r["key"]), field(r["value"]), str(len(r["headers"]))]
        for name, value in r["headers"]:
            parts += [field(name.encode()), field(value)]
        lines.append("\t".join(parts))
    classpath = reference_kafka.resolve_classpath(reference_kafka.SERVER)
    with tempfile.TemporaryDirectory(prefix="kwire-capture-") as scratch:
        spec = Path(scratch) / "records.tsv"
        spec.write_text("\n".join(lines) + "\n")
        log4j = Path(scratch) / "log4j2.properties"
        log4j.write_text(reference_kafka.LOG4J2_CONFIG.format(level="WARN"))
        # The single-file source launcher takes the .java file where a main class would go.
        subprocess.run(
            reference_kafka.java_command(str(JAVA_PRODUCER), [bootstrap, topic, codec, str(spec)],
                                         classpath=classpath, log4j_config=log4j),
            check=True, timeout=CLIENT_TIMEOUT, capture_output=True, text=True,
        )
    return f"kafka-clients (Java) {reference_kafka.KAFKA_VERSION}"


PRODUCERS = {
    "kafka-python": produce_kafka_python,
    "confluent-kafka": produce_confluent_kafka,
    "java": produce_java,
}


# -- extraction and checks -------------------------------------------------------


def partition_records(frame: bytes, api_version: int) -> list[tuple[str | None, int, bytes]]:
    """(topic name or None, partition, records bytes) for each partition in a Produce request frame."""
    from kafka.protocol.producer import ProduceRequest

    request = ProduceRequest.decode(frame, version=api_version, header=True)
    found = []
    for topic in request.topic_data:
        name = getattr(topic, "name", None) if api_version < 13 else None
        for partition in topic.partition_data:
            if partition.records is not None:
                found.append((name, partition.index, bytes(partition.records)))
    return found


def check_with_kafka_python(blob: bytes, expected: list[Record]) -> list[dict]:
    """Decode with kafka-python's record reader; raise unless it gives exactly `expected`."""
    from kafka.record import MemoryRecords

    from kwire_protocol.records.batch import validate_batches

    validate_batches(blob)  # CRCs and header sanity, no record decoding
    got: list[Record] = []
    batches = []
    records = MemoryRecords(blob)
    while records.has_next():
        batch = records.next_batch()
        if not batch.validate_crc():
            raise AssertionError("kafka-python reports a CRC mismatch")
        batches.append(batch)
        for record in batch:
            got.append({"timestamp": record.timestamp, "key": record.key, "value": record.value,
                        "headers": [(name, value) for name, value in record.headers]})
    if got != expected:
        for index, (a, b) in enumerate(zip(got, expected)):
            if a != b:
                raise AssertionError(f"record {index} differs: got {str(a)[:300]} expected {str(b)[:300]}")
        raise AssertionError(f"got {len(got)} records, expected {len(expected)}")
    return batches


def describe_batches(blob: bytes) -> list[dict]:
    from kwire_protocol.records.batch import HEADER_SIZE, split_batches

    described = []
    for batch in split_batches(blob):
        payload = bytes(batch.buffer[HEADER_SIZE : HEADER_SIZE + 16])
        described.append({
            "size": batch.size,
            "base_offset": batch.base_offset,
            "partition_leader_epoch": batch.partition_leader_epoch,
            "attributes": batch.attributes,
            "compression": batch.compression,
            "timestamp_type": batch.timestamp_type,
            "last_offset_delta": batch.last_offset_delta,
            "base_timestamp": batch.base_timestamp,
            "max_timestamp": batch.max_timestamp,
            "producer_id": batch.producer_id,
            "producer_epoch": batch.producer_epoch,
            "base_sequence": batch.base_sequence,
            "records_count": batch.records_count,
            "payload_head_hex": payload.hex(),
        })
    return described


def capture(clients: list[str], codecs: list[str], output: Path) -> dict:
    records = fixture_records()
    proxy = RecordingProxy()
    kafka = reference_kafka.ReferenceKafka(advertised_port=proxy.port, startup_timeout=180, log_level="WARN")
    fixtures: dict[str, dict] = {}
    try:
        kafka.start()
        proxy.upstream = ("127.0.0.1", kafka.port)
        proxy.start()
        print(f"reference Kafka at {kafka.bootstrap_servers} (listener {kafka.port}), started in "
              f"{kafka.startup_seconds:.1f}s", flush=True)
        _create_topics(kafka.bootstrap_servers, [f"capture-{c}-{z}" for c in clients for z in codecs])
        for client in clients:
            for codec in codecs:
                name = f"{client}-{codec}"
                topic = f"capture-{name}"
                mark = len(proxy.captured())
                began = time.monotonic()
                sent, reasons = records_for_client(client, records)
                version = PRODUCERS[client](kafka.bootstrap_servers, topic, codec, sent)
                time.sleep(0.5)  # let the proxy thread record the last frames
                produced = [r for r in proxy.captured()[mark:] if r.api_key == PRODUCE]
                blobs = []
                for request in produced:
                    for topic_name, partition, blob in partition_records(request.frame, request.api_version):
                        if topic_name not in (None, topic) or partition != 0:
                            raise AssertionError(f"{name}: unexpected produce to {topic_name}/{partition}")
                        blobs.append(blob)
                blob = b"".join(blobs)
                check_with_kafka_python(blob, sent)
                (output / f"{name}.bin").write_bytes(blob)
                fixtures[name] = {
                    "file": f"{name}.bin",
                    "client": client,
                    "client_version": version,
                    "codec": codec,
                    "produce_api_versions": sorted({r.api_version for r in produced}),
                    "produce_requests": len(produced),
                    "sha256": hashlib.sha256(blob).hexdigest(),
                    # Records this client sent differently from the common list (index -> record, reason).
                    "record_overrides": {
                        str(index): {"record": records_to_json([sent[index]])[0], "reason": reason}
                        for index, reason in reasons.items()
                    },
                    "batches": describe_batches(blob),
                }
                print(f"{name}: {len(blob)} bytes in {len(fixtures[name]['batches'])} batch(es), "
                      f"{len(produced)} Produce request(s) v{fixtures[name]['produce_api_versions']}, "
                      f"{time.monotonic() - began:.1f}s ({version})", flush=True)
    finally:
        proxy.stop()
        kafka.stop()
    return fixtures


def _create_topics(bootstrap: str, topics: list[str]) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1) for topic in topics])
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat_tests.capture_batches", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--codecs", default=",".join(CODECS))
    parser.add_argument("--output", type=Path, default=FIXTURES)
    options = parser.parse_args(argv)
    clients = [c for c in options.clients.split(",") if c]
    codecs = [c for c in options.codecs.split(",") if c]
    for value, allowed in ((clients, CLIENTS), (codecs, CODECS)):
        unknown = set(value) - set(allowed)
        if unknown:
            parser.error(f"unknown: {sorted(unknown)} (choose from {allowed})")
    reason = reference_kafka.missing_prerequisites()
    if reason:
        print(f"cannot capture: {reason}", file=sys.stderr)
        return 1
    options.output.mkdir(parents=True, exist_ok=True)
    fixtures = capture(clients, codecs, options.output)

    expected_path = options.output / "expected.json"
    previous = json.loads(expected_path.read_text()) if expected_path.exists() else {}
    merged = dict(previous.get("fixtures", {}))
    merged.update(fixtures)
    document = {
        "description": "Record batches captured from real producers; see compat_tests/capture_batches.py. "
                       "Every fixture holds the records below, in this order, all sent to partition 0. "
                       "Byte strings are {\"utf8\": text} or {\"base64\": data}; null is null.",
        "records": records_to_json(fixture_records()),
        "fixtures": dict(sorted(merged.items())),
    }
    expected_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(fixtures)} fixture(s) and {expected_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
