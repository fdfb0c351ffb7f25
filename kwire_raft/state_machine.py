"""The replicated metadata state: a pysyncobj `SyncObj` with one replicated method.

`MetadataStateMachine.apply(command)` is the only way metadata changes. It
is decorated with pysyncobj's `@replicated`: calling it on any voter sends
the command to the raft leader, which appends it to the replicated log; once
a majority holds it, every voter runs the method body, which hands the
command to the pure `commands.apply_command` and publishes the image it
returns.

Why one replicated method taking a command dict, and not one per command
(`create_topics`, `delete_topics`, ...): pysyncobj writes a method into its
journal as a number, the method's position in the sorted list of the
class's replicated method names. Adding a command later would renumber the
others, and an old journal would replay as the wrong commands. With a
single method the number is always 0 and the command says what it is by
name ("op"), like the typed records of Kafka's metadata log (KIP-631).
Commands are plain data, so the pickles in the journal name no kwire class.

Snapshots: pysyncobj compacts its log by writing a "full dump" and
dropping older journal entries. kwire plugs in its own serializer
(`SyncObjConf.serializer`/`deserializer`), so the dump is the JSON of the
image (persistence.py) rather than a pickle of this object. pysyncobj calls
both on its tick thread between ticks, when the image is exactly the state
after the last applied entry, which is the entry the dump is labelled with.

All of this class runs on the one thread that ticks pysyncobj (see
quorum.py), so `_image` is written by one thread only; other threads read
it through `MetadataQuorum.image`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable, Iterable

from pysyncobj import SyncObj, SyncObjConf, replicated
from pysyncobj.node import Node
from pysyncobj.transport import Transport

from .commands import apply_command
from .image import MetadataImage
from .persistence import Entry, read_snapshot, write_snapshot

log = logging.getLogger(__name__)


class LocalTransport(Transport):
    """Transport of a single-voter quorum: it opens no socket.

    pysyncobj's `Transport` is its documented extension point (SyncObj takes
    a `transportClass`). With no other voters, SyncObj never sends a
    message, elects itself as soon as its election timeout passes
    (`__connectedToAnyone` is true when there are no other nodes) and
    commits with its own vote; so the embedded quorum needs no port at all.
    """

    def send(self, node: Node, message: Any) -> bool:
        return False


class MetadataStateMachine(SyncObj):
    def __init__(self, image: MetadataImage, on_image: Callable[[MetadataImage], None],
                 self_node: Node, other_nodes: Iterable[Node], conf: SyncObjConf,
                 transport_class: type[Transport]) -> None:
        # Set before SyncObj.__init__, which inspects every attribute.
        self._image = image
        self._on_image = on_image
        self.snapshot_error: Exception | None = None
        conf.serializer = self._write_snapshot
        conf.deserializer = self._read_snapshot
        super().__init__(self_node, list(other_nodes), conf, transportClass=transport_class)

    @property
    def image(self) -> MetadataImage:
        return self._image

    @replicated
    def apply(self, command: dict[str, Any]) -> Any:
        image, result = apply_command(self._image, command)
        self._publish(image)
        return result

    def set_controller(self, controller_id: int) -> None:
        """Record who leads the quorum (this node's view); a change publishes a new image."""
        if controller_id != self._image.controller_id:
            self._image = self._image.with_controller(controller_id)
            self._on_image(self._image)

    def _publish(self, image: MetadataImage) -> None:
        self._image = image.with_controller(self._image.controller_id)
        self._on_image(self._image)

    # pysyncobj's custom serializer protocol: serializer(path, (last, prev, cluster))
    # and deserializer(path) -> (last, prev, cluster).
    def _write_snapshot(self, path: str, data: tuple[Entry, Entry, Iterable[Node]]) -> None:
        last, prev, cluster = data
        write_snapshot(path, self._image, last, prev, [str(node.id) for node in cluster])

    def _read_snapshot(self, path: str) -> tuple[Entry, Entry, list[str]]:
        try:
            image, last, prev, voters = read_snapshot(path)
        except Exception as exc:
            # pysyncobj logs and ignores a failed load, then waits forever for
            # entries the snapshot replaced; remember why, for wait_ready.
            self.snapshot_error = exc
            raise
        if image.cluster_id != self._image.cluster_id:
            log.warning("snapshot %s has cluster id %s, this node %s; keeping this node's",
                        path, image.cluster_id, self._image.cluster_id)
        self._publish(replace(image, cluster_id=self._image.cluster_id))
        return last, prev, voters
