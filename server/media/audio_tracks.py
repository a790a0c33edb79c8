"""A title's audio renditions as manifests announce them: the main track and its alternates
(other languages, a commentary, an audio description), each its own CMAF track.

The main track keeps its place (`cmaf/audio`, HLS DEFAULT=YES, DASH Role main); every other audio
stream of a video source is encoded the same way (AAC-LC stereo, on the title's clock) into
`cmaf/audio-<stream index>`; every stream with 6 channels or more also as 5.1 into
`cmaf/audio-<stream index>-51`.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.media.cmaf import Track
from server.media.model import AudioInfo
from server.media.text_tracks import LANGUAGE_NAMES

MAIN_TRACK = "audio"
# Apple's HLS authoring spec: an audio description announces itself to the accessibility settings.
DESCRIBES_VIDEO = "public.accessibility.describes-video"


def alternate_name(info: AudioInfo) -> str:
    """The CMAF directory of an alternate rendition: `audio-<stream>` (stereo), `audio-<stream>-51`."""
    return f"{MAIN_TRACK}-{info.index}{'-51' if info.surround else ''}"


@dataclass(frozen=True)
class AudioRendition:
    """One packaged audio track and what a player's audio menu shows of it."""

    track: Track
    language: str
    name: str
    default: bool
    commentary: bool = False
    descriptions: bool = False

    @property
    def role(self) -> str:
        """The DASH Role value (urn:mpeg:dash:role:2011)."""
        if self.commentary:
            return "commentary"
        if self.descriptions:
            return "description"
        return "main" if self.default else "alternate"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.track.name, "language": self.language, "label": self.name,
                "default": self.default, "commentary": self.commentary, "descriptions": self.descriptions,
                "codec": self.track.init.codec, "channels": self.track.init.channels}


def rendition_of(track: Track, info: AudioInfo | None, *, default: bool) -> AudioRendition:
    """`track` described from its source stream (`info`; None: nothing known)."""
    if info is None:
        return AudioRendition(track, "", "Main", default)
    return AudioRendition(track, info.language if info.language != "und" else "", audio_label(info, default),
                          default, info.comment, info.descriptions)


def audio_label(info: AudioInfo, default: bool) -> str:
    """The stream's own title, else the language's name (plus what kind of track), else Main."""
    if info.title:
        return info.title
    language = LANGUAGE_NAMES.get(info.language.split("-")[0].lower(), "")
    kind = " (commentary)" if info.comment else " (audio description)" if info.descriptions else ""
    if language:
        return language + kind
    if kind:
        return kind.strip(" ()").capitalize()
    return "Main" if default else f"Audio {info.index}"
