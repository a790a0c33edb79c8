"""List every file the HLS playlists and the DASH MPD of a title name, and find the missing ones.

A manifest that points at a segment that is not there plays until that moment and then stalls,
so verification walks the references exactly as a player would (relative to the manifest).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

_URI_ATTR = re.compile(r'URI="([^"]+)"')
_NUMBER = re.compile(r"\$Number(%0(\d+)d)?\$")
DASH_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def missing_references(root: Path, master: str, mpd: str) -> list[str]:
    """Paths (relative to root) named by master.m3u8, its media playlists or the MPD that do not exist,
    or that would leave the title directory."""
    named = hls_references(root, master) + dash_references(root, mpd)
    seen: dict[str, None] = dict.fromkeys(named)
    return [name for name in seen if not _inside(root, name) or not (root / name).is_file()]


def hls_references(root: Path, master: str) -> list[str]:
    """master.m3u8, then every playlist it names and every init/segment those playlists name."""
    out = [master]
    for playlist in _playlist_uris(root, master):
        out.append(playlist)
        if _inside(root, playlist) and (root / playlist).is_file():
            out += _playlist_uris(root, playlist)
    return out


def dash_references(root: Path, mpd: str) -> list[str]:
    """manifest.mpd, then each Representation's initialization and numbered media segments."""
    path = root / mpd
    if not path.is_file():
        return [mpd]
    try:
        tree = ET.parse(path)
    except ET.ParseError:
        return [mpd + " (unparseable)"]
    out = [mpd]
    for template in tree.getroot().iterfind(".//d:SegmentTemplate", DASH_NS):
        out += _template_files(template)
    return out


def _playlist_uris(root: Path, playlist: str) -> list[str]:
    base = PurePosixPath(playlist).parent
    path = root / playlist
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    uris = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            uris.append(line)
        uris += _URI_ATTR.findall(line) if line.startswith("#") else []
    return [str(base / uri) if str(base) != "." else uri for uri in uris]


def _template_files(template: ET.Element) -> list[str]:
    start = int(template.get("startNumber", "1"))
    count = sum(1 + int(s.get("r", "0")) for s in template.iterfind("d:SegmentTimeline/d:S", DASH_NS))
    media = template.get("media", "")
    files = [template.get("initialization", "")]
    files += [_number(media, n) for n in range(start, start + count)]
    return [f for f in files if f]


def _number(media: str, number: int) -> str:
    """Expand $Number$ / $Number%05d$ the way a DASH client does."""
    return _NUMBER.sub(lambda m: str(number).zfill(int(m.group(2) or 0)), media)


def _inside(root: Path, name: str) -> bool:
    """A reference must stay inside the title (edges serve the directory under a signed prefix)."""
    if "://" in name or name.startswith("/"):
        return False
    resolved = (root / name).resolve()
    return resolved == root.resolve() or root.resolve() in resolved.parents
