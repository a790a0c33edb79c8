"""Rename a published title's audio rendition or make it the default, without re-encoding anything.

Only the two manifests change: the master's `EXT-X-MEDIA:TYPE=AUDIO` lines (NAME, DEFAULT,
AUTOSELECT) and the MPD's audio AdaptationSets (Label, Role). The segments stay byte for byte as
packaged, and the title is published again whole (`subtitles_edit.republish`): a player reads the
old manifests or the new ones, never a mix.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from server.errors import InvalidRequest, JobError, NotFound
from server.media.manifest_refs import missing_references
from server.media.playlists import DASH_NS, DASH_ROLE
from server.media.subtitles_edit import MASTER, MPD, replace_text, republish
from server.storage.blobstore import BlobStore

AUDIO_MEDIA = "#EXT-X-MEDIA:TYPE=AUDIO,"
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
_NS = f"{{{DASH_NS}}}"
ENUMERATED = {"TYPE", "DEFAULT", "AUTOSELECT", "FORCED"}  # the attributes HLS writes without quotes
UNPICKED_ROLES = ("commentary", "description")  # never selected for a viewer without asking


@dataclass(frozen=True)
class AudioTrack:
    """One audio rendition as the master playlist announces it."""

    id: str                 # its CMAF folder: `audio`, `audio-2`
    name: str
    language: str
    default: bool
    autoselect: bool
    channels: str
    characteristics: str
    role: str = ""          # the MPD's Role when known: main, alternate, commentary, description

    @property
    def commentary(self) -> bool:
        if self.role:
            return self.role == "commentary"
        return not self.autoselect and not self.characteristics

    @property
    def descriptions(self) -> bool:
        return self.role == "description" or "describes-video" in self.characteristics

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "language": self.language, "default": self.default,
                "autoselect": self.autoselect, "channels": self.channels,
                "commentary": self.commentary, "descriptions": self.descriptions}


AudioChange = Callable[[list[AudioTrack]], list[AudioTrack]]


def parse_audio(master: str, mpd: str = "") -> list[AudioTrack]:
    """The AUDIO renditions of a master playlist, in its order, with their MPD roles when given."""
    roles = audio_roles(mpd) if mpd else {}
    tracks = [_audio(line) for line in master.splitlines() if line.startswith(AUDIO_MEDIA)]
    return [replace(t, role=roles.get(t.id, "")) for t in tracks]


def _audio(line: str) -> AudioTrack:
    attrs = _attributes(line)
    uri = attrs.get("URI", "")
    return AudioTrack(id=uri.split("/")[1] if uri.startswith("cmaf/") else uri, name=attrs.get("NAME", ""),
                      language=attrs.get("LANGUAGE", ""), default=attrs.get("DEFAULT") == "YES",
                      autoselect=attrs.get("AUTOSELECT") == "YES", channels=attrs.get("CHANNELS", ""),
                      characteristics=attrs.get("CHARACTERISTICS", ""))


def _attributes(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(line.split(":", 1)[1])}


def audio_roles(mpd: str) -> dict[str, str]:
    """Representation id (the CMAF folder) → the Role value of its audio AdaptationSet."""
    roles = {}
    for aset in _audio_sets(ET.fromstring(mpd)):
        role = aset.find(f"{_NS}Role")
        for rep in aset.findall(f"{_NS}Representation"):
            roles[rep.get("id", "")] = role.get("value", "") if role is not None else ""
    return roles


# --- the changes a creator asks for -------------------------------------------------------------

def audio_renamed(track_id: str, name: str, video_id: str) -> AudioChange:
    """The change that gives one audio rendition a new menu name (unique in the group, as HLS wants)."""
    def change(tracks: list[AudioTrack]) -> list[AudioTrack]:
        index = _index(tracks, track_id, video_id)
        taken = [t.name.casefold() for i, t in enumerate(tracks) if i != index]
        if name.casefold() in taken:
            raise InvalidRequest(f"Another audio track of {video_id!r} is already named {name!r}.",
                                 hint="players' menus need a different name for each track")
        return [replace(t, name=name) if i == index else t for i, t in enumerate(tracks)]
    return change


def audio_made_default(track_id: str, video_id: str) -> AudioChange:
    """The change that makes one audio rendition the default (the only one: HLS allows one per group)."""
    def change(tracks: list[AudioTrack]) -> list[AudioTrack]:
        index = _index(tracks, track_id, video_id)
        return [replace(t, default=i == index) for i, t in enumerate(tracks)]
    return change


def _index(tracks: list[AudioTrack], track_id: str, video_id: str) -> int:
    ids = [t.id for t in tracks]
    if track_id not in ids:
        raise NotFound(f"Title {video_id!r} has no audio track {track_id[:40]!r}.",
                       hint=f"its audio tracks: {', '.join(ids) or 'none'}")
    return ids.index(track_id)


# --- publishing ---------------------------------------------------------------------------------

def edit_audio(store: BlobStore, video_id: str, scratch: Path, change: AudioChange) -> list[AudioTrack]:
    """Publish the title again with `change` applied to its audio renditions' names and default;
    returns them as published. The caller holds the title's job lock."""
    return republish(store, video_id, scratch, lambda folder: _rewrite(folder, video_id, change))


def _rewrite(folder: Path, video_id: str, change: AudioChange) -> list[AudioTrack]:
    master, mpd = _read(folder / MASTER), _read(folder / MPD)
    tracks = parse_audio(master, mpd)
    if not tracks:
        raise InvalidRequest(f"Title {video_id!r} has no audio track to change.")
    edited = change(tracks)
    replace_text(folder / MASTER, master_with_audio(master, edited))
    replace_text(folder / MPD, mpd_with_audio(mpd, edited))
    missing = missing_references(folder, MASTER, MPD)
    if missing:
        said = [f"{name} is named by a manifest but does not exist." for name in missing[:3]]
        raise JobError("the edited audio tracks failed verification: " + "; ".join(said))
    return parse_audio(_read(folder / MASTER), _read(folder / MPD))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def master_with_audio(master: str, tracks: list[AudioTrack]) -> str:
    """The master with each AUDIO line's NAME, DEFAULT and AUTOSELECT from `tracks` (matched by URI);
    every other attribute and line as packaged."""
    by_id = {t.id: t for t in tracks}
    lines = []
    for line in master.splitlines():
        track = by_id.get(_audio(line).id) if line.startswith(AUDIO_MEDIA) else None
        lines.append(_audio_line(line, track) if track else line)
    return "\n".join(lines) + "\n"


def _audio_line(line: str, track: AudioTrack) -> str:
    attrs = _attributes(line)
    picked = track.default or (track.role not in UNPICKED_ROLES and not _unpicked(track))
    attrs.update(NAME=_quoted(track.name), DEFAULT=_yes(track.default), AUTOSELECT=_yes(picked))
    pairs = (f"{k}={v}" if k in ENUMERATED else f'{k}="{v}"' for k, v in attrs.items())
    return "#EXT-X-MEDIA:" + ",".join(pairs)


def _unpicked(track: AudioTrack) -> bool:
    """No MPD role to go by: a commentary or a description as packaging marked it."""
    return not track.role and (track.descriptions or (not track.autoselect and not track.default))


def mpd_with_audio(mpd: str, tracks: list[AudioTrack]) -> str:
    """The MPD with each audio AdaptationSet's Label and Role from `tracks` (matched by its
    Representation id); a commentary or description keeps its Role, the others are main or alternate."""
    ET.register_namespace("", DASH_NS)
    root = ET.fromstring(mpd)
    by_id = {t.id: t for t in tracks}
    for aset in _audio_sets(root):
        reps = aset.findall(f"{_NS}Representation")
        track = by_id.get(reps[0].get("id", "")) if reps else None
        if track is not None:
            _label_and_role(aset, track)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _label_and_role(aset: ET.Element, track: AudioTrack) -> None:
    for old in aset.findall(f"{_NS}Label") + aset.findall(f"{_NS}Role"):
        aset.remove(old)
    role = track.role if track.role in UNPICKED_ROLES else "main" if track.default else "alternate"
    label = ET.Element(f"{_NS}Label")
    label.text = track.name
    # the schema puts Label before Role, both before the Representations
    aset.insert(0, ET.Element(f"{_NS}Role", {"schemeIdUri": DASH_ROLE, "value": role}))
    aset.insert(0, label)


def _audio_sets(root: ET.Element) -> list[ET.Element]:
    return [a for p in root.findall(f"{_NS}Period") for a in p.findall(f"{_NS}AdaptationSet")
            if a.get("contentType") == "audio"]


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


def _quoted(text: str) -> str:
    """An attribute value HLS can carry: no double quote, no line break."""
    return " ".join(text.replace('"', "'").split())
