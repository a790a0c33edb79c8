"""docs/openapi.json stays true to the route table of the full app (every blueprint registered),
so the fuzz test covers every route: each one documented, with its path parameters and error shape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from server.http.app import REQUIRES, create_app
from server.http.services import Services
from server.paths import DataDir

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def full_app(data: DataDir) -> Flask:
    """The app with every blueprint: each service it needs is present (the routes are only listed,
    never called, so nothing has to run behind them)."""
    services = Services(data=data, catalog=object(), store=object())  # type: ignore[arg-type]
    for name in {need for needs in REQUIRES.values() for need in needs} - {"catalog", "store", "publisher"}:
        setattr(services, name, object())
    return create_app(services)


def openapi_path(rule: str) -> str:
    """`/play/<video_id>/<any('a', 'b'):name>` → `/play/{video_id}/{name}`."""
    return CONVERTER.sub(lambda m: "{" + m[1].split("(")[0].split(":")[-1] + "}", rule)


def served(app: Flask) -> dict[tuple[str, str], list[str]]:
    """(path, method) → path parameter names, for every route of `app`."""
    out: dict[tuple[str, str], list[str]] = {}
    for rule in app.url_map.iter_rules():
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            out[(openapi_path(rule.rule), method.lower())] = sorted(rule.arguments - set(rule.defaults or {}))
    return out


def documented() -> dict[tuple[str, str], dict[str, Any]]:
    paths = json.loads(OPENAPI.read_text())["paths"]
    return {(path, method): op for path, ops in paths.items() for method, op in ops.items()}


def test_every_route_of_the_full_app_is_documented(full_app: Flask) -> None:
    missing = sorted(set(served(full_app)) - set(documented()))
    assert missing == [], f"routes missing from docs/openapi.json: {missing}"
    extra = sorted(set(documented()) - set(served(full_app)))
    assert extra == [], f"docs/openapi.json lists routes the app does not serve: {extra}"


def test_every_path_parameter_is_declared(full_app: Flask) -> None:
    docs = documented()
    for key, names in served(full_app).items():
        declared = sorted(p["name"] for p in docs.get(key, {}).get("parameters", []) if p["in"] == "path")
        assert declared == names, f"{key}: path parameters {declared} in the docs, {names} in the route"


def test_every_operation_documents_the_error_shape() -> None:
    for key, op in documented().items():
        assert op["responses"].get("default") == {"$ref": "#/components/responses/Error"}, key
