"""docs/openapi.json describes every route the app serves, and nothing it does not."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Flask

from server.http.services import Services

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_every_route_is_in_the_openapi_file(app: Flask, cdn: Services, ingest: Services,
                                            insights: Services) -> None:
    documented = {(path, method.upper()) for path, ops in json.loads(OPENAPI.read_text())["paths"].items()
                  for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        path = re.sub(r"\{[^}]*'[^}]*\}", "{name}", path)
        served |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert served - documented == set(), "routes missing from docs/openapi.json"
    assert documented - served == set(), "docs/openapi.json lists routes the app does not serve"
