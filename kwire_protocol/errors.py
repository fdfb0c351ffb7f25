"""Errors raised by the codec, and Kafka's error codes.

`ProtocolError` means the peer sent bytes we cannot accept (their fault):
the broker closes that connection. `CorruptRecordError` is a ProtocolError
about record batches, which the broker answers with CORRUPT_MESSAGE instead.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Bytes from the peer that do not decode: truncated, oversized or inconsistent."""


class CorruptRecordError(ProtocolError):
    """A record batch failed its CRC, length or format checks."""
