"""DescribeLogDirs (api key 35), versions 1-5.

One result per log directory: its absolute path, and per hosted partition
the size of its segments, the offset lag and whether it is a future log;
v4+ adds the total and usable bytes of the directory's file system (KIP-827),
v5 whether the directory is cordoned (KIP-1066). Topics null asks for every
partition; otherwise only the listed partitions that have a log here appear
(unknown ones are left out, not reported as errors), and topics left with no
partition are dropped, as Kafka's ReplicaManager.describeLogDirs does.

- Offset lag: Kafka reports max(high watermark - log end offset, 0) for a
  current log, which is 0 for a leader; kwire computes the same.
- is_future_key is always false: kwire has no AlterReplicaLogDirs, so there
  are no future logs.
- Total/usable bytes are what Java's FileStore.getTotalSpace/getUsableSpace
  return (f_blocks and f_bavail times the fragment size).
- kwire uses one log directory (the first of log.dirs) and reports only it;
  it is never cordoned.
- A directory that cannot be read answers KAFKA_STORAGE_ERROR for that
  directory, with no topics, as Kafka does for an offline directory.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

DescribeLogDirsResponse = messages.DescribeLogDirsResponse
Result = DescribeLogDirsResponse.cls.DescribeLogDirsResult
Topic = Result.DescribeLogDirsTopic
Partition = Topic.DescribeLogDirsPartition

LONG_MAX = 2**63 - 1


@handles(ApiKey.DESCRIBE_LOG_DIRS)
def describe_log_dirs(broker: Any, request: Any) -> Any:
    requested = request.body.topics
    wanted: set[tuple[str, int]] | None = None
    if requested is not None:
        wanted = {(t.topic, p) for t in requested for p in t.partitions}
    return DescribeLogDirsResponse(
        throttle_time_ms=0,
        error_code=ErrorCode.NONE,
        results=[_describe(broker, Path(broker.log_dir), wanted)],
    )


def _describe(broker: Any, log_dir: Path, wanted: set[tuple[str, int]] | None) -> Any:
    path = str(log_dir.absolute())  # Kafka: Paths.get(dir).toAbsolutePath, not resolved
    try:
        stats = os.statvfs(log_dir)
    except OSError:
        return Result(error_code=ErrorCode.KAFKA_STORAGE_ERROR, log_dir=path, topics=[])
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for (topic, index), log in sorted(broker.log_manager.logs.items()):
        if wanted is not None and (topic, index) not in wanted:
            continue
        by_topic[topic].append(Partition(
            partition_index=index,
            partition_size=log.size,
            offset_lag=max(log.high_watermark - log.log_end_offset, 0),
            is_future_key=False,
        ))
    return Result(
        error_code=ErrorCode.NONE,
        log_dir=path,
        topics=[Topic(name=name, partitions=partitions) for name, partitions in by_topic.items()],
        total_bytes=_space(stats.f_blocks * stats.f_frsize),
        usable_bytes=_space(stats.f_bavail * stats.f_frsize),
        is_cordoned=False,
    )


def _space(value: int) -> int:
    # Java's FileStore reports overflowing sizes as negative numbers, and
    # Kafka then answers Long.MAX_VALUE (ReplicaManager.adjustForLargeFileSystems).
    return LONG_MAX if value > LONG_MAX else value
