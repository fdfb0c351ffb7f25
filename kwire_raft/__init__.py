"""kwire_raft: the cluster metadata quorum (KRaft-style, on pysyncobj).

The broker uses `MetadataQuorum` (quorum.py): `start()`, `wait_ready()`,
`image` (an immutable `MetadataImage`, image.py), `subscribe()`, and write
methods that return futures of per-item results carrying Kafka error codes
(commands.py, errors.py). See docs/raft.md.

This package imports nothing from kwire, kwire_storage or kwire_protocol.
"""

import sys


def _import_pysyncobj_without_cryptography() -> None:
    """Import pysyncobj with its password encryption left out.

    pysyncobj imports `cryptography` (Fernet, PBKDF2) when it is first
    imported, for SyncObjConf.password, which kwire never sets: that is about
    6 MB of resident memory and 7 ms of start-up (docs/performance.md).
    Hiding `cryptography` during that first import takes pysyncobj's own
    fallback (HAS_CRYPTO = False, as when the library is not installed);
    `cryptography` stays importable for everyone else afterwards.
    """
    if "pysyncobj" in sys.modules or "cryptography" in sys.modules:
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]
    try:
        import pysyncobj  # noqa: F401
    finally:
        del sys.modules["cryptography"]


_import_pysyncobj_without_cryptography()

# After the import above, on purpose.
from .commands import ConfigChange, ItemResult, LeaderChange, NewPartitions, NewTopic, PartitionResult
from .errors import NotLeaderError, QuorumError, QuorumStoppedError, QuorumTimeoutError
from .image import BrokerRegistration, MetadataImage, PartitionImage, TopicImage
from .persistence import new_cluster_id
from .quorum import MULTI_VOTER_TIMINGS, SINGLE_VOTER_TIMINGS, MetadataQuorum, RaftTimings, parse_voters

__all__ = [
    "BrokerRegistration", "ConfigChange", "ItemResult", "LeaderChange", "MULTI_VOTER_TIMINGS",
    "MetadataImage", "MetadataQuorum", "NewPartitions", "NewTopic", "NotLeaderError", "PartitionImage",
    "PartitionResult", "QuorumError", "QuorumStoppedError", "QuorumTimeoutError", "RaftTimings",
    "SINGLE_VOTER_TIMINGS", "TopicImage", "new_cluster_id", "parse_voters",
]
