"""Audio and subtitle tracks of what is playing: the menus' items, the viewer's remembered choice.

The backend says which tracks the media library found (VLC names each after the master playlist's
`NAME`, e.g. `audio Français - [French]`, and gives it a new id when it switches); the server's
`GET /api/titles/<id>/tracks` says what each one is (language tag, SDH, forced). A track is matched
by its name, never by the library's id.

The choice is remembered per user (QSettings `player/audio_language`, `player/subtitle_language`:
a language tag, `off`, or unset) and applied to every load that offers it: the next title, and
the same title after a re-steer or a quality change, which load a fresh stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from studio.player.backend import PlaybackBackend

AUDIO_KEY, SUBTITLE_KEY = "player/audio_language", "player/subtitle_language"
OFF = "off"
_VLC_NAME = re.compile(r"^(?:audio|subs)\s+(?P<name>.*?)(?:\s+-\s+\[(?P<language>[^\]]*)\])?$")
# Three-letter tags whose first two letters are not the two-letter tag.
_ALIASES = {"ger": "de", "deu": "de", "dut": "nl", "nld": "nl", "chi": "zh", "zho": "zh", "fre": "fr",
            "fra": "fr", "gre": "el", "ell": "el", "per": "fa", "fas": "fa", "cze": "cs", "ces": "cs",
            "jpn": "ja", "kor": "ko", "swe": "sv", "pol": "pl", "por": "pt", "spa": "es"}


@dataclass(frozen=True)
class MenuTrack:
    """One item of the Audio or Subtitles menu."""

    id: int            # the backend's id for it right now
    name: str          # the manifest's NAME, as the backend reports it
    language: str = ""  # a language tag when the server knows the track, else the backend's language name
    sdh: bool = False
    forced: bool = False

    @property
    def label(self) -> str:
        """What the menu shows: the name, with SDH / forced marked when the name does not say it."""
        marks = [m for m, on in (("SDH", self.sdh), ("forced", self.forced)) if on and m not in self.name]
        language = f" · {self.language}" if self.language and self.language not in self.name else ""
        return self.name + language + "".join(f" [{m}]" for m in marks)


def same_language(a: str, b: str) -> bool:
    """`fr`, `fra`, `fre` and `fr-CA` are one language for a preference; so are `de`, `ger`, `deu`."""
    return bool(a) and bool(b) and _base(a) == _base(b)


def _base(tag: str) -> str:
    primary = tag.split("-")[0].lower()
    return _ALIASES.get(primary, primary[:2])


def vlc_name(description: str) -> tuple[str, str]:
    """(NAME, language name) from VLC's `audio English - [English]` / `subs Français (SDH) - [French]`."""
    found = _VLC_NAME.match(description.strip())
    if found is None:
        return description.strip(), ""
    return found["name"].strip(), (found["language"] or "").strip()


def menu_tracks(found: list[tuple[int, str]], published: list[dict[str, Any]]) -> list[MenuTrack]:
    """The backend's (id, description) list, each matched by name to the server's track facts, in the
    master playlist's order (the backend's own order changes when it switches); unknown ones last."""
    by_name = {str(p.get("name", "")): p for p in published}
    order = {name: i for i, name in enumerate(by_name)}
    out = []
    for track_id, description in found:
        name, language = vlc_name(description)
        facts = by_name.get(name, {})
        out.append(MenuTrack(track_id, name, str(facts.get("language") or language),
                             bool(facts.get("sdh")), bool(facts.get("forced"))))
    return sorted(out, key=lambda t: order.get(t.name, len(order)))


class TrackSelector(QObject):
    """Keeps the menus in step with the backend's tracks and applies the remembered choice."""

    changed = Signal()  # the lists or the active tracks changed: menus read `audio`, `subtitles`, …

    def __init__(self, client: Any, backend: PlaybackBackend, settings: QSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client, self.backend, self.settings = client, backend, settings
        self.audio: list[MenuTrack] = []
        self.subtitles: list[MenuTrack] = []
        self.active_audio: str = ""      # the NAME of the active track ("" none)
        self.active_subtitles: str = ""
        self._published: dict[str, list[dict[str, Any]]] = {"audio": [], "subtitles": []}
        self._known = False  # the server's facts arrived (or cannot): preferences match tags, not names
        self._applied = {"audio": -1, "subtitles": -1}  # the load each kind's preference was applied to
        backend.stats_changed.connect(self.refresh)

    def open(self, video_id: str) -> None:
        """A new title: forget the old tracks and ask the server what this one's are."""
        self._published, self._known = {"audio": [], "subtitles": []}, False
        self.client.get(f"/api/titles/{video_id}/tracks", on_ok=self._facts,
                        on_error=lambda _t: self._facts({}))

    def _facts(self, doc: dict[str, Any]) -> None:
        self._published = {"audio": doc.get("audio", []), "subtitles": doc.get("subtitles", [])}
        self._known = True
        self.audio, self.subtitles = [], []  # rebuilt with the facts on the next poll
        self.refresh()

    def refresh(self, _stats: object = None) -> None:
        """Read the backend's tracks; on a new load that offers them, apply the remembered choice."""
        audio = menu_tracks(self.backend.audio_tracks(), self._published["audio"])
        subtitles = menu_tracks(self.backend.subtitle_tracks(), self._published["subtitles"])
        active = (self._name(audio, self.backend.active_audio()),
                  self._name(subtitles, self.backend.active_subtitle()))
        if (audio, subtitles, active) == (self.audio, self.subtitles,
                                          (self.active_audio, self.active_subtitles)):
            return
        self.audio, self.subtitles = audio, subtitles
        self.active_audio, self.active_subtitles = active
        if self._known:
            self._apply_preferences()
        self.changed.emit()

    @staticmethod
    def _name(tracks: list[MenuTrack], track_id: int) -> str:
        return next((t.name for t in tracks if t.id == track_id), "")

    def _apply_preferences(self) -> None:
        """Once per load and kind, as soon as the load offers tracks of that kind."""
        load = self.backend.loads
        if self.audio and self._applied["audio"] != load:
            self._applied["audio"] = load
            audio = str(self.settings.value(AUDIO_KEY, "") or "")
            pick = next((t for t in self.audio if same_language(t.language, audio)), None)
            if pick is not None and pick.name != self.active_audio:
                self.backend.set_audio_track(pick.id)
        if self.subtitles and self._applied["subtitles"] != load:
            self._applied["subtitles"] = load
            self._apply_subtitles(str(self.settings.value(SUBTITLE_KEY, "") or ""))

    def _apply_subtitles(self, wanted: str) -> None:
        """`off`: none; a language: its first full (not forced) track; unset: the title's default."""
        if wanted == OFF:
            return self.backend.set_subtitle_track(-1)
        if wanted:
            pick = next((t for t in self.subtitles if same_language(t.language, wanted) and not t.forced),
                        None)
        else:
            default = {str(p.get("name")) for p in self._published["subtitles"] if p.get("default")}
            pick = next((t for t in self.subtitles if t.name in default), None)
        if pick is not None:
            self.backend.set_subtitle_track(pick.id)
        return None

    def choose_audio(self, name: str) -> None:
        """The viewer picked an audio track by name: switch, and remember its language."""
        track = next((t for t in self.audio if t.name == name), None)
        if track is None:
            return
        self.backend.set_audio_track(track.id)
        if track.language:
            self.settings.setValue(AUDIO_KEY, track.language)
        self.refresh()

    def choose_subtitles(self, name: str) -> None:
        """The viewer picked a subtitle track by name, or "" for Off: switch, and remember it."""
        track = next((t for t in self.subtitles if t.name == name), None)
        self.backend.set_subtitle_track(track.id if track is not None else -1)
        self.settings.setValue(SUBTITLE_KEY, (track.language or track.name) if track is not None else OFF)
        self.refresh()
