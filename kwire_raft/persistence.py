"""Files of the metadata directory that kwire_raft writes itself.

The metadata dir (by convention `<log.dirs>/__cluster_metadata-0/`, the
directory name Kafka gives its metadata log) holds:

    meta.properties      cluster.id and node.id, written once (this module)
    snapshot.json        the last snapshot: image + the raft position it covers (this module)
    raft.journal         pysyncobj's FileJournal: every raft log entry since the snapshot
    raft.journal.meta    pysyncobj: current term, voted-for, commit index (pickled dict)

Snapshots are JSON rather than pysyncobj's default (a gzip'd pickle of the
object's attributes) so that they can be read by any tool, do not depend on
kwire_raft's class names, and hold only plain data. pysyncobj calls
`write_snapshot` with a temp path and renames it into place itself
(atomic), so a crash mid-write leaves the previous snapshot.

Both writers fsync the file before it becomes visible under its name, so a
snapshot or meta.properties that exists is complete even after a power loss.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

from .image import MetadataImage, image_from_dict, image_to_dict

META_PROPERTIES = "meta.properties"
SNAPSHOT_FILE = "snapshot.json"
JOURNAL_FILE = "raft.journal"

SNAPSHOT_FORMAT = 1

# A raft log entry as pysyncobj keeps it: (command bytes, index, term).
Entry = tuple[bytes, int, int]


def new_cluster_id() -> str:
    """Kafka's form of a cluster id: a random UUID as 22 chars of URL-safe base64.

    Like Kafka's Uuid.randomUuid, never one starting with "-" (it would read
    as an option on a command line) nor the reserved zero id.
    """
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        if not text.startswith("-") and any(raw):
            return text


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------
# meta.properties (same keys as Kafka's kafka-storage format output)

def read_meta_properties(directory: Path) -> dict[str, str]:
    path = directory / META_PROPERTIES
    if not path.exists():
        return {}
    props = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def write_meta_properties(directory: Path, cluster_id: str, node_id: int) -> None:
    text = f"#kwire metadata directory\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"
    _write_durably(directory / META_PROPERTIES, text.encode("utf-8"))


# ----------------------------------------------------------------------------
# snapshot.json

def _entry_to_json(entry: Entry) -> list[Any]:
    command, index, term = entry
    return [base64.b64encode(bytes(command)).decode("ascii"), index, term]


def _entry_from_json(data: list[Any]) -> Entry:
    return base64.b64decode(data[0]), int(data[1]), int(data[2])


def write_snapshot(path: str | Path, image: MetadataImage, last: Entry, prev: Entry, voters: list[str]) -> None:
    """Write a snapshot of `image`, which is the state after applying raft entry `last`.

    pysyncobj needs the last two applied entries back to line the journal
    up with the snapshot on load, and the voter set it had.
    """
    doc = {
        "format": SNAPSHOT_FORMAT,
        "raft": {"last": _entry_to_json(last), "prev": _entry_to_json(prev), "voters": sorted(voters)},
        "image": image_to_dict(image),
    }
    path = Path(path)
    with open(path, "wb") as f:
        f.write(json.dumps(doc, separators=(",", ":")).encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def read_snapshot(path: str | Path) -> tuple[MetadataImage, Entry, Entry, list[str]]:
    doc = json.loads(Path(path).read_bytes())
    if doc.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"unsupported snapshot format {doc.get('format')!r} in {path}")
    raft = doc["raft"]
    return (image_from_dict(doc["image"]), _entry_from_json(raft["last"]), _entry_from_json(raft["prev"]),
            list(raft["voters"]))
