"""Lab fixtures: the CDN tests' tiny real HLS title, origin and signer, reused; traces built by hand."""

from __future__ import annotations

from collections.abc import Sequence

from server.analytics.service import AnalyticsService
from server.events.log import open_event_log
from server.labs.trace import ReplayTrace, build, recorded
from server.paths import DataDir
from tests.cdn.conftest import clock, data_dir, hls_title, origin, signer, store  # noqa: F401
from tests.http.conftest import (  # noqa: F401
    app,
    cdn,
    client,
    data,
    engine,
    insights,
    server,
    services,
    short_title,
    title,
)

MIB = 1024 * 1024


def hand_trace(keys: Sequence[str], size: int = MIB, times: Sequence[float] | None = None,
               sizes: dict[str, int] | None = None) -> ReplayTrace:
    """A trace of the given keys in order, every object `size` bytes unless `sizes` says otherwise;
    keys `t<title>/<name>` place the object in that title."""
    stamps = times if times is not None else [float(i) for i in range(len(keys))]
    return build("hand", [(f"videos/{k}", k.split("/")[0], (sizes or {}).get(k, size), t)
                          for k, t in zip(keys, stamps, strict=True)])


def recorded_trace(in_dir: DataDir) -> ReplayTrace:
    """The edges' requests as the analytics service loads them from the data dir's event log."""
    with open_event_log(in_dir) as log:
        service = AnalyticsService(in_dir, log)
        service.catch_up()
        conn = service.reader()
        try:
            return recorded(conn)
        finally:
            conn.close()
            service.stop()
