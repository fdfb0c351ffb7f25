"""Produce: the batch-header checks of Kafka's LogValidator and the producer-state refusals.

Raw Produce requests with batches real clients never send. Each answer
(error code, no message, base offset -1, the log start offset) is what
Apache Kafka 4.4 answered to the same request (compat_tests.reference_kafka):
a control batch from a client, a producer id without a sequence and a
record count that disagrees with the offset range are INVALID_RECORD; a
sequence gap and an older epoch come from the producer state.
"""

from __future__ import annotations

import struct
from typing import Any

from crc32c import crc32c

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_protocol.records.batch import CRC_START, TRANSACTIONAL_MASK
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.control import build_control_batch
from kwire_protocol.records.record import NewRecord

from kwire.testing import BrokerProcess

from tests.broker.wire import WireClient, create_topic

TopicData = messages.ProduceRequest.cls.TopicProduceData
RECORD = [NewRecord(key=None, value=b"v", timestamp=1_700_000_000_000)]


def patched(batch: bytes, *, attributes_off: int = 0, records_count: int | None = None) -> bytes:
    """A batch with header fields changed and its CRC recomputed, so only the change is wrong."""
    data = bytearray(batch)
    (attributes,) = struct.unpack_from(">h", data, 21)
    struct.pack_into(">h", data, 21, attributes & ~attributes_off)
    if records_count is not None:
        struct.pack_into(">i", data, 57, records_count)
    struct.pack_into(">I", data, 17, crc32c(bytes(data[CRC_START:])))
    return bytes(data)


def produce(wire: WireClient, topic: str, records: bytes) -> tuple[Any, ...]:
    body = wire.call(ApiKey.PRODUCE, 9, messages.ProduceRequest(acks=1, timeout_ms=5000, topic_data=[
        TopicData(name=topic, partition_data=[TopicData.PartitionProduceData(index=0, records=records)])]))
    p = body.responses[0].partition_responses[0]
    return p.error_code, p.error_message, p.base_offset, p.log_start_offset


def test_log_validator_and_producer_state_refusals(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.port, topic_name)
    marker = build_control_batch(True, producer_id=5, producer_epoch=0, coordinator_epoch=0, timestamp=1_700_000_000_000)
    with WireClient.connect(broker.port) as wire:
        assert produce(wire, topic_name, build_batch(RECORD))[0] == ErrorCode.NONE
        refused = (ErrorCode.INVALID_RECORD, None, -1, 0)
        assert produce(wire, topic_name, patched(marker, attributes_off=TRANSACTIONAL_MASK)) == refused
        assert produce(wire, topic_name, build_batch(RECORD, producer_id=99, producer_epoch=0, base_sequence=-1)) == refused
        assert produce(wire, topic_name, patched(build_batch(RECORD + RECORD), records_count=3)) == refused
        assert produce(wire, topic_name, build_batch(RECORD, producer_id=77, producer_epoch=1, base_sequence=0))[:3] == (0, None, 1)
        assert produce(wire, topic_name, build_batch(RECORD, producer_id=77, producer_epoch=1, base_sequence=5)) == (
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, None, -1, 0)
        assert produce(wire, topic_name, build_batch(RECORD, producer_id=77, producer_epoch=0, base_sequence=1)) == (
            ErrorCode.INVALID_PRODUCER_EPOCH, None, -1, 0)


def test_a_batch_with_a_wrong_crc_is_refused_and_not_appended(broker: BrokerProcess, topic_name: str) -> None:
    # The handler checks the CRC itself and hands the checked batch to the
    # log, which does not check it again: the refusal must still come, as
    # Kafka's (CORRUPT_MESSAGE, no message, log start offset -1), with
    # nothing written.
    create_topic(broker.port, topic_name)
    good = build_batch(RECORD)
    corrupt = bytearray(good)
    corrupt[-1] ^= 0xFF  # a record byte: the header still parses, the CRC no longer matches
    with WireClient.connect(broker.port) as wire:
        assert produce(wire, topic_name, good)[:3] == (ErrorCode.NONE, None, 0)
        assert produce(wire, topic_name, bytes(corrupt)) == (ErrorCode.CORRUPT_MESSAGE, None, -1, -1)
        assert produce(wire, topic_name, good)[:3] == (ErrorCode.NONE, None, 1)
