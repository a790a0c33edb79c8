"""Value types shared by every media step: what a source is, the ladder, chunks, and outputs.

Written once here so probe, ladder, encode, package and verify agree on one vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VideoInfo:
    """The chosen video stream of a source, as ffprobe reports it plus what we derived."""

    index: int                 # stream index in the container
    codec: str                 # e.g. "h264", "hevc", "vp8"
    width: int                 # coded width (before rotation and SAR)
    height: int                # coded height
    sar: Fraction              # sample aspect ratio (1 for square pixels)
    rotation: int              # degrees clockwise the picture must turn to be upright: 0/90/180/270
    fps: Fraction              # constant output frame rate chosen for the title
    vfr: bool                  # source frame rate is variable
    interlaced: bool           # needs deinterlacing
    pix_fmt: str
    bit_depth: int
    full_range: bool           # JPEG/full range input (yuvj*, color_range=pc)
    hdr: bool                  # PQ/HLG transfer or BT.2020 primaries
    transfer: str = ""         # ffprobe color_transfer, e.g. "smpte2084", "arib-std-b67", "bt709"
    tonemap: bool = False      # HDR source and zscale is available: tone-map to SDR BT.709

    @property
    def display_width(self) -> int:
        """Upright width in square pixels."""
        w, h = self._square()
        return h if self.rotation in (90, 270) else w

    @property
    def display_height(self) -> int:
        w, h = self._square()
        return w if self.rotation in (90, 270) else h

    def _square(self) -> tuple[int, int]:
        if self.sar > 1:
            return round(self.width * self.sar), self.height
        if 0 < self.sar < 1:
            return self.width, round(self.height / self.sar)
        return self.width, self.height


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream of a source."""

    index: int
    codec: str
    channels: int
    sample_rate: int
    language: str = ""
    default: bool = False
    title: str = ""            # the stream's own name, e.g. "Director's commentary"
    comment: bool = False      # disposition comment: a commentary track
    descriptions: bool = False  # disposition visual_impaired/descriptions: audio description
    surround: bool = False     # a 5.1 rendition of this stream, beside its stereo downmix (audio.py)


@dataclass(frozen=True)
class SubtitleInfo:
    """One subtitle stream embedded in a source (text or image), as ffprobe lists it."""

    index: int                 # stream index in the container
    codec: str                 # e.g. "subrip", "ass", "mov_text", "webvtt", "hdmv_pgs_subtitle"
    language: str = ""
    title: str = ""            # the stream's own name, e.g. "English (SDH)"
    default: bool = False
    forced: bool = False
    sdh: bool = False          # disposition hearing_impaired: captions for the deaf and hard of hearing


@dataclass(frozen=True)
class MediaInfo:
    """A probed, validated source: what the pipeline needs to plan and encode it."""

    path: Path
    size: int
    duration: float            # seconds of real, decodable content (not a truncated header's claim)
    format_name: str
    video: VideoInfo | None    # None for an audio-only title
    audio: AudioInfo | None    # the kept audio track (first default)
    dropped_audio: tuple[AudioInfo, ...] = ()  # the other audio streams: alternate renditions of a video
    notes: tuple[str, ...] = ()  # what was done about oddities: "deinterlaced", "rotated -90", ...
    declared_duration: float = 0.0  # what the container claims (0 when it claims nothing)
    subtitles: tuple[SubtitleInfo, ...] = ()  # embedded subtitle streams, in container order
    # the video's keyframe times (probe.keyframe_times): where a cut's decode may start
    # (source_cut.py); None when not scanned, () when the container gives them no time (MXF)
    keyframes: tuple[float, ...] | None = None

    @property
    def expected_frames(self) -> int:
        """Frames every rendition must have at the output rate."""
        if self.video is None:
            return 0
        return round(self.duration * self.video.fps)


@dataclass(frozen=True)
class Rendition:
    """One rung of the ladder (capped CRF) in one video codec (server/media/codecs.py)."""

    name: str                  # "1080p", "720p", … or e.g. "144p" for a tiny source; "720p-av1"
    width: int
    height: int
    bitrate_kbps: int          # nominal rung bitrate; -maxrate
    bufsize_kbps: int          # -bufsize
    crf: int = 23              # on x264's scale; other codecs add their offset
    codec: str = "h264"        # "h264", "av1" or "hevc"
    encoder: str = ""          # a hardware encoder chosen for it (hw_encoders.py); "" = software

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A time range of the source encoded by one task; starts on a segment boundary."""

    index: int
    start: float
    duration: float
    frames: int                # frames this chunk must produce at the output rate

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class WorkLayout:
    """Scratch files of one job, shared by encode (writer) and package (reader)."""

    root: Path

    def chunk_file(self, rendition: str, index: int) -> Path:
        """Video-only MP4 of one chunk of one rung, timestamps starting at 0."""
        return self.root / "chunks" / rendition / f"chunk_{index:05d}.mp4"

    @property
    def reference_dir(self) -> Path:
        """The chunk encodes' pieces of the quality measure's reference (reference_pieces.py)."""
        return self.root / "reference"

    def reference_piece(self, sample_every: int, index: int) -> Path:
        """Raw NUT of one chunk's frames sampled for the quality measure at `sample_every`; the
        step is in the path, so another step never reads these."""
        return self.reference_dir / str(sample_every) / f"chunk_{index:05d}.nut"

    def reference_list(self, sample_every: int) -> Path:
        """The pieces at `sample_every` in order, as an ffconcat list the measure reads as one input."""
        return self.root / f"reference_{sample_every}.ffconcat"

    def chunk_list(self, rendition: str) -> Path:
        """The rung's chunks in order, as an ffconcat list that any ffmpeg command reads as one input."""
        return self.root / f"{rendition}.ffconcat"

    @property
    def audio_file(self) -> Path:
        """AAC-LC stereo 48 kHz of the whole source, encoded once."""
        return self.root / "audio.m4a"

    def alternate_audio_file(self, index: int, surround: bool = False) -> Path:
        """AAC-LC stereo 48 kHz (or 5.1 when `surround`) of the source's audio stream `index` (an
        alternate language, a commentary), encoded by the same ffmpeg as the main track."""
        return self.root / f"audio_{index}{'_51' if surround else ''}.m4a"

    @property
    def package_dir(self) -> Path:
        return self.root / "package"


@dataclass
class PackagedTitle:
    """What packaging produced inside a title directory (paths relative to it)."""

    root: Path
    master: str = "master.m3u8"
    mpd: str = "manifest.mpd"
    # each: name, width, height, bandwidth, frames
    renditions: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[str, Any] | None = None  # codec, channels
    poster: str | None = None
    sprite_vtt: str | None = None
    # each: id, language, name, forced, sdh, default, cues, source (see server/media/text_tracks.py)
    text_tracks: list[dict[str, Any]] = field(default_factory=list)
    # every audio rendition, the main one first, when the title has alternates (audio_tracks.py)
    audio_tracks: list[dict[str, Any]] = field(default_factory=list)
