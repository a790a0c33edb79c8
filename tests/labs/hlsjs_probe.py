"""The rig for checking the ABR lab against hls.js: a title whose rungs differ clearly (noisy 720p, so
every rung sits at its rate cap), a server with one edge in its own region behind steering, and
headless Chromium on resources/web/abr_probe.html. Shared by tests/labs/test_abr_hlsjs.py and
bench/abr_validation.py."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.catalog import Catalog
from server.cdn.cluster import CDN
from server.cdn.origin import StoreOrigin
from server.cdn.steering import Steering
from server.engine import Engine
from server.http.app import create_app
from server.http.runner import HttpServer
from server.http.services import Services
from server.jobs.pipeline import IngestOptions
from server.labs.abr_manifest import Ladder, load_ladder
from server.labs.abr_validate import EDGE_NAME, REGION, loaded_every_segment, validation_topology
from server.paths import DataDir
from tests.conftest import generate_clip
from tests.http.browser import Browser
from tests.http.conftest import Made, publish

NOISE = ["-vf", "noise=alls=25:allf=t+u"]     # incompressible: x264 fills each rung's rate cap


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def encode_ladder_title(out: Path, seconds: int, segment_s: float, fps: int = 12) -> Made:
    """A noisy 1280x720 clip (no audio: one track per fetch) through the real ingest: 4 rungs,
    720p to 240p, `seconds / segment_s` segments; quality is not measured (not needed here)."""
    out.mkdir(parents=True, exist_ok=True)
    clip = generate_clip(out / "source.mp4", seconds=seconds, size="1280x720", fps=fps, audio=False,
                         extra=NOISE)
    data = DataDir.resolve(out / "data")
    options = IngestOptions(workers=2, segment_seconds=segment_s, retries=0, preset="ultrafast",
                            min_chunk_seconds=4.0)
    with _env("MINIFLIX_QUALITY_MEASURE", "off"), Engine(data) as engine:
        ingest = engine.ingest(options)
        job = ingest.run(ingest.create_job(clip))
    assert job.state == "published", job.error
    renditions = tuple(job.result["renditions"])
    return Made(data.origin / "videos" / job.video_id, seconds, seconds * fps, renditions)


class Rig:
    """A data dir with the title, the app on waitress and one steering-reachable edge (RTT `rtt_ms`)."""

    def __init__(self, root: Path, made: Made, video_id: str = "abr-probe-1", rtt_ms: float = 40.0) -> None:
        self.root, self.video_id, self.rtt_ms = root, video_id, rtt_ms
        self.data = DataDir.resolve(root / "data")
        publish(self.data, made, video_id)
        self.engine = Engine(self.data)
        self.services = Services(data=self.data, catalog=self.engine.catalog, store=self.engine.origin,
                                 events=self.engine.events).start()
        self.services.cdn = CDN(validation_topology(rtt_ms), StoreOrigin(self.services.store), self.data,
                                self.services.events, engine="python")
        self.services.steering = Steering(self.services.cdn, self.services.events)
        self.services.cdn.start()
        self.services.started += ["cdn", "steering"]
        self.server = HttpServer(create_app(self.services, {"TESTING": True}), on_stop=self.services.stopping)
        self.server.__enter__()
        self.runs = 0

    @property
    def edge(self) -> Any:
        return self.services.cdn.edge(EDGE_NAME)

    def ladder(self) -> Ladder:
        return load_ladder(Catalog(self.data.catalog_db), self.services.store, self.video_id)

    def warm(self, ladder: Ladder) -> None:
        """Pull every segment into the edge first, so no fetch waits on the origin."""
        for rung in ladder.rungs:
            for k in range(len(ladder.durations)):
                self.edge.fill(f"videos/{self.video_id}/cmaf/{rung.name}/seg_{k + 1:05d}.m4s")

    def play(self, segments: int, timeout_s: float = 600.0) -> dict[str, Any]:
        """Chromium on the probe page until hls.js has loaded every segment; the page's last report."""
        self.runs += 1
        session = f"abr-probe-{self.runs}"
        query = urllib.parse.urlencode({"v": self.video_id, "session": session, "region": REGION})
        browser = Browser(f"{self.server.url}/web/abr_probe.html?{query}", self.root / f"chromium-{session}")
        try:
            deadline = time.monotonic() + timeout_s
            while not loaded_every_segment(report := self.report(session), segments):
                if time.monotonic() > deadline:
                    loaded = len(report.get("fragments") or [])
                    raise TimeoutError(f"hls.js did not load all {segments} segments in {timeout_s:.0f} s: "
                                       f"{loaded} loaded, fatal={report.get('fatal')}")
                time.sleep(0.25)
            return report
        finally:
            browser.close()

    def report(self, session: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"{self.server.url}/web/report/{session}", timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError:
            return {}

    def close(self) -> None:
        self.server.__exit__(None, None, None)
        self.services.stop()
        self.engine.close()
