"""compat_tests.reference_kafka's own pieces that need no JVM."""

from __future__ import annotations

import base64

from compat_tests.reference_kafka import random_cluster_id


def test_cluster_ids_are_kafka_uuids_without_a_dash() -> None:
    # One plain base64url draw in 64 starts with "-", which kafka-storage format takes
    # for an option (it failed a --both run); Kafka's Uuid.randomUuid never draws a "-".
    ids = [random_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and "-" not in i for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
