"""ApiClient against the real embedded server: JSON requests, readable errors, uploads, the SSE stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.client import ApiClient, ApiError, SseParser, is_loopback
from tests.conftest import generate_clip


def call(qtbot: Any, method: Any, *args: Any, **kwargs: Any) -> tuple[Any, ApiError | None]:
    """Run one asynchronous request and wait for its callback: (result, error)."""
    out: dict[str, Any] = {}
    method(*args, on_ok=lambda r: out.setdefault("ok", r), on_error=lambda e: out.setdefault("err", e),
           **kwargs)
    qtbot.waitUntil(lambda: bool(out), timeout=20_000)
    return out.get("ok"), out.get("err")


def test_get_returns_decoded_json(qtbot: Any, api_client: ApiClient) -> None:
    health, err = call(qtbot, api_client.get, "/api/health")
    assert err is None
    assert health["ok"] is True and health["services"]["ingest"] is True


def test_errors_carry_the_servers_message_and_status(qtbot: Any, api_client: ApiClient) -> None:
    _, err = call(qtbot, api_client.get, "/api/titles/no-such-title")
    assert isinstance(err, ApiError)
    assert err.status == 404 and err.kind == "NotFound"
    assert "no-such-title" in err


def test_unreachable_server_is_said_in_words(qtbot: Any) -> None:
    client = ApiClient("http://127.0.0.1:9")  # discard port: nothing listens
    _, err = call(qtbot, client.get, "/api/health")
    assert err is not None and err.status == 0
    assert "Cannot reach the server at http://127.0.0.1:9" in err
    client.deleteLater()


def test_errors_without_a_callback_go_to_the_error_signal(qtbot: Any, api_client: ApiClient) -> None:
    with qtbot.waitSignal(api_client.error, timeout=10_000) as signal:
        api_client.post("/api/jobs/jnothing/cancel")
    assert "jnothing" in signal.args[0]


def test_query_lists_repeat_the_key(api_client: ApiClient) -> None:
    url = api_client.qurl("/api/search", {"q": "cat", "tags": ["a", "b"], "skip": None})
    assert url.query() == "q=cat&tags=a&tags=b"


def test_upload_streams_the_file_and_reports_progress(qtbot: Any, api_client: ApiClient,
                                                      tmp_path: Path) -> None:
    clip = generate_clip(tmp_path / "uploaded clip.mp4", seconds=1.0, size="160x90")
    progress: list[tuple[int, int]] = []
    out: dict[str, Any] = {}
    api_client.upload(clip, lambda s, t: progress.append((s, t)), lambda job: out.setdefault("job", job),
                      lambda e: out.setdefault("err", e))
    qtbot.waitUntil(lambda: bool(out), timeout=20_000)
    assert "err" not in out, out.get("err")
    assert out["job"]["original_name"] == "uploaded clip.mp4"
    assert progress[-1] == (clip.stat().st_size, clip.stat().st_size)
    call(qtbot, api_client.post, f"/api/jobs/{out['job']['job_id']}/cancel")


def test_event_stream_delivers_batches_and_reports_connection(qtbot: Any, api_client: ApiClient,
                                                             tmp_path: Path) -> None:
    with qtbot.waitSignal(api_client.connection_changed, timeout=10_000) as connected:
        api_client.start_events(["videos"])
        call(qtbot, api_client.get, "/api/health")  # the stream's first bytes arrive promptly
    assert connected.args[0] is True
    clip = generate_clip(tmp_path / "evented.mp4", seconds=1.0, size="160x90")
    batches: list[list[dict[str, Any]]] = []
    api_client.events.connect(batches.append)
    job, err = call(qtbot, api_client.post, "/api/jobs", {"path": str(clip)})
    assert err is None
    qtbot.waitUntil(lambda: any(e["key"] == job["video_id"] for b in batches for e in b), timeout=20_000)
    first = next(e for b in batches for e in b if e["key"] == job["video_id"])
    assert first["topic"] == "videos" and first["value"]["type"] == "uploaded"
    call(qtbot, api_client.post, f"/api/jobs/{job['job_id']}/cancel")


def test_sse_parser_joins_split_chunks_and_keeps_the_cursor() -> None:
    parser = SseParser()
    assert parser.feed(b'retry: 1000\n: comment\n\nid: videos=1\nevent: videos\ndata: {"a"') == []
    events = parser.feed(b': 1}\n\n')
    assert events == [{"a": 1}] and parser.last_id == "videos=1"


def test_loopback_servers_count_as_local() -> None:
    assert is_loopback("http://127.0.0.1:8080") and is_loopback("http://localhost:1")
    assert not is_loopback("http://studio.example:8080")
