"""Fixtures: single-voter quorums in temp dirs, always stopped at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from kwire_raft import MetadataQuorum


@pytest.fixture
def quorums() -> Iterator[list[MetadataQuorum]]:
    """A list to put quorums in; each is stopped after the test, passed or not."""
    started: list[MetadataQuorum] = []
    yield started
    for q in started:
        q.stop(timeout=5)


@pytest.fixture
def open_quorum(tmp_path: Path, quorums: list[MetadataQuorum]) -> Callable[..., MetadataQuorum]:
    """open_quorum(**kwargs): start a ready single-voter quorum on tmp_path/meta (the same dir each call)."""

    def make(**kwargs: object) -> MetadataQuorum:
        q = MetadataQuorum(1, tmp_path / "__cluster_metadata-0", **kwargs)  # type: ignore[arg-type]
        quorums.append(q)
        q.start()
        q.wait_ready(5)
        return q

    return make
