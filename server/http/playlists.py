"""Manifests rewritten per client. HLS Content Steering: the origin's master playlist with one
pathway per edge. Request routing: the MPD with a `<BaseURL>` on the router.

Each pathway repeats every variant and rendition with absolute URLs on one edge (signed, so the
media playlists' relative segment URLs keep the token) and its own rendition GROUP-IDs, as the
HLS Content Steering spec asks; `EXT-X-CONTENT-STEERING` points the player at the steering manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

GROUP_ATTRS = re.compile(r'\b(AUDIO|SUBTITLES|VIDEO|CLOSED-CAPTIONS|GROUP-ID)="([^"]*)"')
URI_ATTR = re.compile(r'\bURI="([^"]*)"')
PERIOD = re.compile(r"^([ \t]*)(<Period\b)", re.M)
HEADER_TAGS = ("#EXTM3U", "#EXT-X-VERSION", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-START")


@dataclass(frozen=True)
class Pathway:
    """One edge as a pathway: its ID (the edge name) and the signed base URL of the title on it."""

    pathway_id: str
    base_url: str  # ends with "/": relative origin URIs are appended to it


def steered_master(origin_master: str, pathways: list[Pathway], steering_uri: str) -> str:
    """The master playlist for a steering client; `pathways` best first."""
    header, body = _split(origin_master)
    lines = [*header, f'#EXT-X-CONTENT-STEERING:SERVER-URI="{steering_uri}",'
                      f'PATHWAY-ID="{pathways[0].pathway_id}"']
    for pathway in pathways:
        lines += _pathway_lines(body, pathway)
    return "\n".join(lines) + "\n"


def _split(master: str) -> tuple[list[str], list[str]]:
    """(session-level header tags, variant/rendition lines), blank lines and comments dropped."""
    header: list[str] = []
    body: list[str] = []
    for line in (raw.strip() for raw in master.splitlines()):
        if not line or (line.startswith("#") and not line.startswith("#EXT")):
            continue
        (header if line.startswith(HEADER_TAGS) else body).append(line)
    return header, body


def _pathway_lines(body: list[str], pathway: Pathway) -> list[str]:
    out = []
    for line in body:
        if not line.startswith("#"):
            out.append(_absolute(line, pathway))
            continue
        line = GROUP_ATTRS.sub(lambda m: f'{m[1]}="{m[2]}.{pathway.pathway_id}"', line)
        line = URI_ATTR.sub(lambda m: f'URI="{_absolute(m[1], pathway)}"', line)
        if line.startswith("#EXT-X-STREAM-INF:") or line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
            line += f',PATHWAY-ID="{pathway.pathway_id}"'
        out.append(line)
    return out


def _absolute(uri: str, pathway: Pathway) -> str:
    return uri if "://" in uri else pathway.base_url + uri.lstrip("/")


def with_base_url(mpd: str, base_url: str) -> str:
    """The MPD with an MPD-level `<BaseURL>`: players that resolve its relative segment URLs against
    the URL they first asked for (ffmpeg), not the one redirected to, still fetch from `base_url`."""
    if "<BaseURL" in mpd.split("<Period", 1)[0]:  # its own MPD-level one (a text set's does not count)
        return mpd
    element = f"<BaseURL>{xml_escape(base_url)}</BaseURL>"
    return PERIOD.sub(lambda m: f"{m[1]}{element}\n{m[1]}{m[2]}", mpd, count=1)
