"""Schemathesis against the live server: every operation of docs/openapi.json, valid and invalid input,
on real waitress over loopback with a published title, edges, analytics, search and ingest running.

Bounded: `EXAMPLES` cases per operation and mode, derandomized (the same cases every run, so a
failure is reproducible and never flaky), no shrinking. Three operations are left out: the event
stream never ends (its tests are in test_http_events_telemetry.py), `POST /api/samples` encodes
up to two minutes of video per call (tested in test_http_jobs_uploads.py) and `POST /api/demo/week`
plays up to 20,000 simulated sessions per call (tested in tests/analytics/test_demo_week.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from server.catalog import Title
from server.http.runner import HttpServer
from server.http.services import Services
from tests.http.conftest import VIDEO_ID

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES = 15
LEFT_OUT = {("GET", "/api/events/stream"), ("POST", "/api/samples"), ("POST", "/api/demo/week")}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]  # invalid input is refused (4xx), not acted on
# Half the cases use path parameters that exist, so they reach past the 404 into the real work.
KNOWN = {"video_id": VIDEO_ID, "key": f"videos/{VIDEO_ID}/master.m3u8", "session": "fuzz"}
KNOWN_NAMES = {"/api/analytics/": "cache_hit_ratio", "/play/": "master.m3u8", "/api/edges/": "{edge}"}


def operations() -> list[Any]:
    schema = schemathesis.openapi.from_path(str(OPENAPI))
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if (op.method.upper(), op.path) not in LEFT_OUT]


def existing(operation: Any, edge: str) -> dict[str, str]:
    """Path parameters of `operation` that name something that exists (the title, an edge, a query)."""
    names = [name.format(edge=edge) for prefix, name in KNOWN_NAMES.items()
             if operation.path.startswith(prefix)]
    known = {**KNOWN, **({"name": names[0]} if names else {})}
    wanted = {p.name for p in operation.path_parameters}
    return {name: value for name, value in known.items() if name in wanted}


def cases(operation: Any, mode: GenerationMode, fixed: dict[str, str]) -> Any:
    """Generated cases of one operation: with any path parameters, and with ones that exist."""
    generated = operation.as_strategy(generation_mode=mode)
    if not fixed:
        return generated
    return generated | operation.as_strategy(generation_mode=mode, path_parameters=fixed)


def fuzz(operation: Any, mode: GenerationMode, base_url: str, fixed: dict[str, str]) -> None:
    """Run EXAMPLES cases of one operation; raises the first failed check (with the request to replay)."""
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(case=cases(operation, mode, fixed))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, timeout=30)
        case.validate_response(response, checks=CHECKS)
    run()


def test_no_operation_fails_or_leaves_its_schema(server: HttpServer, cdn: Services, ingest: Services,
                                                 insights: Services, title: Title) -> None:
    failures: dict[str, str] = {}
    edge = cdn.cdn.topology.edges[0].name
    for operation in operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, server.url, existing(operation, edge))
            except Unsatisfiable:  # nothing invalid to send (e.g. only free-text path parts)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, reported at once
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


@pytest.mark.parametrize("path", ["/api/events/stream", "/api/samples"])
def test_what_is_left_out_is_still_documented(path: str) -> None:
    assert path in schemathesis.openapi.from_path(str(OPENAPI)).raw_schema["paths"]
