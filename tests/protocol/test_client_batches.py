"""kwire decodes record batches exactly as real clients produce them.

The fixtures in fixtures/batches/ are the records fields of Produce requests
sent by kafka-python, confluent-kafka (librdkafka) and the Java producer, one
per client and compression codec, captured against a real Kafka by
compat_tests/capture_batches.py. expected.json lists the records each
client was asked to send (plus per-fixture overrides where a client cannot
send a record as listed). Each fixture must decode, with kwire's own
RecordBatch.records(), to exactly those records.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from kwire_protocol.records.batch import split_batches, validate_batches

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "batches"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
CLIENTS = ("kafka-python", "confluent-kafka", "java")
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def _bytes(field: dict | None) -> bytes | None:
    if field is None:
        return None
    if "utf8" in field:
        return field["utf8"].encode("utf-8")
    return base64.b64decode(field["base64"])


def _record(item: dict) -> tuple:
    return (
        item["timestamp"],
        _bytes(item["key"]),
        _bytes(item["value"]),
        [(name, _bytes(value)) for name, value in item["headers"]],
    )


def expected_records(name: str) -> list[tuple]:
    """(timestamp, key, value, headers) of each record fixture `name` should hold."""
    items = list(EXPECTED["records"])
    for index, override in EXPECTED["fixtures"][name]["record_overrides"].items():
        items[int(index)] = override["record"]
    return [_record(item) for item in items]


def test_every_client_and_codec_is_present():
    assert sorted(EXPECTED["fixtures"]) == sorted(f"{c}-{z}" for c in CLIENTS for z in CODECS)


def test_expected_records_cover_the_edge_cases():
    records = [_record(item) for item in EXPECTED["records"]]
    assert any(key is None for _, key, _, _ in records)
    assert any(value is None for _, _, value, _ in records)
    assert any(value == b"" for _, _, value, _ in records)
    assert any(value is None for _, _, _, headers in records for _, value in headers)
    assert any(value is not None and len(value) >= 100 * 1024 for _, _, value, _ in records)
    assert any(ts < records[0][0] for ts, _, _, _ in records)  # a negative timestamp delta


@pytest.mark.parametrize("name", sorted(EXPECTED["fixtures"]))
def test_client_batches_decode_to_expected_records(name):
    fixture = EXPECTED["fixtures"][name]
    blob = (FIXTURES / fixture["file"]).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == fixture["sha256"], f"{name}: fixture file changed since capture"
    validate_batches(blob)

    expected = expected_records(name)
    position = 0
    for batch_index, batch in enumerate(split_batches(blob)):
        assert batch.compression == CODECS[fixture["codec"]], f"{name} batch {batch_index}: compression bits"
        decoded = batch.records()
        assert len(decoded) == batch.records_count, f"{name} batch {batch_index}: record count"
        for within, record in enumerate(decoded):
            index = position + within
            assert index < len(expected), f"{name}: more records than expected"
            timestamp, key, value, headers = expected[index]
            where = f"{name} record {index}"
            assert record.offset == batch.base_offset + within, f"{where}: offset"
            assert record.timestamp == timestamp, f"{where}: timestamp"
            assert record.key == key, f"{where}: key"
            assert record.value == value, f"{where}: value"
            assert [tuple(header) for header in record.headers] == headers, f"{where}: headers"
        position += len(decoded)
    assert position == len(expected), f"{name}: decoded {position} records, expected {len(expected)}"
