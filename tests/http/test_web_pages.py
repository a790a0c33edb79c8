"""The browser test pages load only what the web blueprint serves: every script and style a page
names under /web/ answers 200 with its type, so a page never runs without the file it shares."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from server.http.web import WEB_ROOT

PAGES = ("player.html", "dash.html", "abr_probe.html", "codec_probe.html")
LINKED = re.compile(r'<(?:script src|link rel="stylesheet" href)="(/web/[^"]+)"')
TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_links_is_served_with_its_type(client: FlaskClient, page: str) -> None:
    linked = LINKED.findall((WEB_ROOT / page).read_text(encoding="utf-8"))
    assert "/web/page-report.js" in linked
    for url in linked:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == TYPES[url[url.rindex("."):]], url
