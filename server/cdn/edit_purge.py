"""Purge this server's edges when a title's tracks change anywhere: a CLI (`subtitles add|remove`,
`audio rename|default`) publishes the title again in another process and announces it on the
`videos` topic; this follower reads that and drops the edges' copies, so they stop serving the old
master before their TTL. The HTTP routes purge directly as well; a second purge costs one origin fetch.

The consumer group `edge-purge` (one server per data dir runs the edges) starts at the log's head the
first time and commits what it handled, so a change made while the server was down is purged at its
next start: edges keep their caches on disk across restarts.
"""

from __future__ import annotations

import logging
from typing import Protocol

from server.background import Worker
from server.events.api import VIDEOS
from server.events.log import EventLog
from server.events.model import Event

log = logging.getLogger(__name__)

TRACK_CHANGES = ("subtitles_changed", "audio_changed")
POLL_S = 0.25
GROUP = "edge-purge"


class Purgeable(Protocol):
    def purge_title(self, video_id: str) -> int: ...


class EditPurge:
    """A thread that purges a title from `cdn` whenever a track change of it is announced."""

    def __init__(self, cdn: Purgeable, events: EventLog) -> None:
        self.cdn, self.events = cdn, events
        self.group = GROUP
        self._worker = Worker("edge-purge", self._follow)

    def start(self) -> None:
        if not self.events.committed(self.group):  # the first start: earlier changes are not ours
            self.events.partitions_of(VIDEOS)  # the topic exists from here on, so its heads do
            self.events.commit(self.group, self.events.heads([VIDEOS]))
        self._purge(self._poll(0))  # what changed while this server was down
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _follow(self) -> None:
        while not self._worker.stopping.is_set():
            try:
                self._purge(self._poll(POLL_S))
            except Exception:  # a closed or failing log must not kill the server; try again
                log.exception("following track changes failed")
                self._worker.stopping.wait(1.0)

    def _poll(self, timeout: float) -> list[Event]:
        return self.events.poll(self.group, [VIDEOS], timeout=timeout, start="latest")

    def _purge(self, batch: list[Event]) -> None:
        for video_id in dict.fromkeys(e.key for e in batch if e.type in TRACK_CHANGES):
            log.info("tracks of %s changed: purging it from the edges", video_id)
            self.cdn.purge_title(video_id)
        if batch:
            self.events.commit(self.group, batch)
