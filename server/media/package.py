"""Package a title once as CMAF, for HLS and DASH alike, straight from its encoded chunks.

Each rung's chunks are listed in an ffconcat file, which ffmpeg reads as one continuous input
(stream copy, timestamps carried across the seams). ONE ffmpeg cuts every track into fMP4 segments
on the encoder's keyframe grid with its HLS muxer; the playlists and the MPD are then written from
the real segment files (see playlists.py) so that BANDWIDTH, CODECS and durations state what is
there. Packaging is the serial tail of an ingest: no joined copy of a rung is written, every ffmpeg
start (~65 ms of CPU each) is counted, and the poster and the scrub sprite are made while the
tracks are cut.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from server.errors import Cancelled, InvalidRequest, JobError
from server.media.audio_tracks import AudioRendition, alternate_name, rendition_of
from server.media.cmaf import INIT_NAME, PLAYLIST_NAME, Track, scan_track
from server.media.ffmpeg import Tools, run
from server.media.model import AudioInfo, Chunk, PackagedTitle, Rendition, WorkLayout
from server.media.playlists import dash_manifest, master_playlist, media_playlist, plan_variants
from server.media.subtitles import TextTrack
from server.media.text_tracks import SUBS_DIR, TextRendition, write_following
from server.media.thumbs import THUMBS_DIR, make_audio_poster, make_thumbnails

log = logging.getLogger(__name__)

AUDIO_TRACK = "audio"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_PORTABLE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # the concat demuxer's safe names
SPRITE_TILE_WIDTH = 160
# The poster's size cap: the biggest thumbnail the large video sites serve (1280x720); the studio never
# shows it larger, and choosing it from a 1080p rung costs twice the decoding and memory of 720p.
POSTER_MAX_PIXELS = 1280 * 720
# -xerror: without it the concat demuxer skips a chunk it cannot open and ffmpeg still exits 0
QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error", "-xerror", "-y"]


def build_concat_list(root: Path, files: Sequence[Path]) -> str:
    """An ffconcat list of `files`, written as paths relative to `root`, where the list itself lives.

    The header lets ffmpeg recognise the list without `-f concat`, and relative paths of portable
    names pass the demuxer's safe mode, so the list is an ordinary input to any command.
    """
    lines = ["ffconcat version 1.0"]
    for path in files:
        relative = path.relative_to(root)
        if not all(_PORTABLE.fullmatch(part) for part in relative.parts):
            raise InvalidRequest(f"chunk file {relative} has a name the concat list cannot carry safely.")
        lines.append(f"file {relative.as_posix()}")
    return "\n".join(lines) + "\n"


def cut_interval(segment_seconds: float, fps: Fraction | None) -> float:
    """The `-hls_time` that makes ffmpeg cut at every grid keyframe.

    ffmpeg cuts at the first keyframe whose time is >= k·hls_time; the encoder's keyframe for
    boundary k sits on the nearest frame to k·S, up to half a frame EARLY when S·fps is not whole
    (0.98 s at 25 fps: frame 24 = 0.96 s). Half a frame less catches it; no other keyframes exist.
    """
    return segment_seconds - float(Fraction(1, 2) / fps) if fps else segment_seconds


@dataclass(frozen=True)
class CutTrack:
    """One track to cut: its input (a file or an ffconcat list), its stream kind and its directory."""

    source: Path
    stream: str  # "v" or "a"
    directory: Path
    hls_time: float


def build_cut_args(tools: Tools, tracks: Sequence[CutTrack]) -> list[str]:
    """ONE ffmpeg cutting every track into CMAF: init.mp4 + seg_00001.m4s… in its directory, a new
    segment at the first keyframe at or after each multiple of its `hls_time`. Negative timestamps
    are kept so the AAC priming (or a B-frame delay) becomes an edit list instead of shifting the track."""
    args = [tools.ffmpeg, *QUIET]
    for track in tracks:
        args += ["-i", str(track.source)]
    for index, track in enumerate(tracks):
        pattern = str(track.directory).replace("%", "%%") + "/seg_%05d.m4s"
        args += ["-map", f"{index}:{track.stream}:0", "-c", "copy", "-avoid_negative_ts", "disabled",
                 "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", f"{track.hls_time:.6f}",
                 "-hls_playlist_type", "vod", "-hls_flags", "independent_segments",
                 "-hls_fmp4_init_filename", INIT_NAME, "-hls_segment_filename", pattern,
                 "-start_number", "1", str(track.directory / PLAYLIST_NAME)]
    return args


def package_title(tools: Tools, layout: WorkLayout, renditions: Sequence[Rendition], chunks: Sequence[Chunk],
                  fps: Fraction | None, segment_seconds: float, audio: AudioInfo | None, out_dir: Path, *,
                  stop: threading.Event | None = None,
                  alongside: Callable[[PackagedTitle], None] | None = None,
                  text_tracks: Sequence[TextTrack] = (),
                  alternate_audio: Sequence[AudioInfo] = ()) -> PackagedTitle:
    """Package a fully encoded title into `out_dir` (empty staging dir): cmaf/<track>/…, subs/…
    (WebVTT, see text_tracks.py), master.m3u8, manifest.mpd and thumbs/.

    Raises JobError naming the missing or broken input, Cancelled on stop;
    either way nothing of the attempt is left in `out_dir`. Leftovers of an attempt that was killed
    are cleared first, so packaging again after a crash just works.

    `alongside` (the verification, say) gets the title once its tracks and manifests are written,
    while the poster and the sprite are still being made; the title it sees has no thumbnails yet.
    `alternate_audio` are the other audio streams of a video title, encoded beside the main track
    (`layout.alternate_audio_file`), each packaged as its own rendition.
    """
    _check_inputs(layout, renditions, chunks, fps, audio, segment_seconds)
    alternates = tuple(alternate_audio) if audio is not None and renditions else ()
    for info in alternates:
        _need_file(layout.alternate_audio_file(info.index, info.surround), f"audio track {info.index}")
    _discard(out_dir)
    try:
        return _package(tools, layout, renditions, chunks, fps, segment_seconds, audio, out_dir, stop,
                        alongside, text_tracks, alternates)
    except BaseException:
        _discard(out_dir)
        raise


def _package(tools: Tools, layout: WorkLayout, renditions: Sequence[Rendition], chunks: Sequence[Chunk],
             fps: Fraction | None, segment_seconds: float, audio: AudioInfo | None, out_dir: Path,
             stop: threading.Event | None,
             alongside: Callable[[PackagedTitle], None] | None,
             text_tracks: Sequence[TextTrack], alternates: Sequence[AudioInfo]) -> PackagedTitle:
    lists = {r: _write_chunk_list(layout, r, chunks) for r in renditions}
    interval, cmaf = cut_interval(segment_seconds, fps), out_dir / "cmaf"
    tracks = [CutTrack(lists[r], "v", cmaf / r.name, interval) for r in renditions]
    if audio is not None:
        tracks.append(CutTrack(layout.audio_file, "a", cmaf / AUDIO_TRACK, segment_seconds))
    tracks += [CutTrack(layout.alternate_audio_file(a.index, a.surround), "a", cmaf / alternate_name(a),
                        segment_seconds) for a in alternates]
    duration = float(sum(c.frames for c in chunks) / fps) if fps else 0.0
    # the thumbnails decode while the tracks are cut (and checked); leaving the block waits for
    # them, so no ffmpeg is still writing when a failed attempt's directory is discarded
    with ThreadPoolExecutor(1, thread_name_prefix="thumbs") as pool:
        thumbs = pool.submit(_thumbnails, tools, out_dir, layout, renditions, chunks, duration, stop)
        scanned = _cut(tools, tracks, stop)
        videos, sounds = scanned[:len(renditions)], scanned[len(renditions):]
        audio_track = sounds[0] if audio is not None else None
        sound = _audio_renditions(sounds, audio, alternates)
        texts = _write_text(out_dir, text_tracks, videos[0] if videos else audio_track)
        _write_manifests(out_dir, videos, audio_track, fps, segment_seconds, audio.language if audio else "",
                         texts, sound)
        packaged = _describe(out_dir, videos, audio_track, segment_seconds, sound)
        packaged.text_tracks = [t.to_dict() for t in texts]
        if alongside is not None:
            alongside(packaged)
    packaged.poster, packaged.sprite_vtt = thumbs.result()
    return packaged


def _write_chunk_list(layout: WorkLayout, rendition: Rendition, chunks: Sequence[Chunk]) -> Path:
    files = [layout.chunk_file(rendition.name, c.index) for c in sorted(chunks, key=lambda c: c.index)]
    path = layout.chunk_list(rendition.name)
    path.write_text(build_concat_list(layout.root, files), encoding="utf-8")
    return path


def _cut(tools: Tools, tracks: Sequence[CutTrack], stop: threading.Event | None) -> list[Track]:
    for track in tracks:
        track.directory.mkdir(parents=True, exist_ok=False)
    _run(build_cut_args(tools, tracks), "cutting the tracks into CMAF segments", stop)
    return [scan_track(track.directory) for track in tracks]


def _discard(out_dir: Path) -> None:
    """Remove what an attempt wrote (only our own names), leaving the staging dir as it was given."""
    for name in ("cmaf", THUMBS_DIR, SUBS_DIR):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for name in ("master.m3u8", "manifest.mpd"):
        (out_dir / name).unlink(missing_ok=True)


def _check_inputs(layout: WorkLayout, renditions: Sequence[Rendition], chunks: Sequence[Chunk],
                  fps: Fraction | None, audio: AudioInfo | None, segment_seconds: float) -> None:
    if segment_seconds <= 0:
        raise InvalidRequest(f"segment duration must be positive, got {segment_seconds}.")
    if renditions and not fps:
        raise InvalidRequest("video renditions need the title's frame rate to be cut on the segment grid.")
    if not renditions and audio is None:
        raise InvalidRequest("nothing to package: no video rendition and no audio.")
    for rendition in renditions:
        if not _SAFE_NAME.fullmatch(rendition.name) or rendition.name == AUDIO_TRACK:
            raise InvalidRequest(f"rendition name {rendition.name!r} cannot be a directory name.",
                                 hint="use letters, digits, '-' or '_', e.g. 720p")
        for chunk in chunks:
            path = layout.chunk_file(rendition.name, chunk.index)
            _need_file(path, f"chunk {chunk.index} of {rendition.name}")
    if renditions and not chunks:
        raise InvalidRequest("video renditions were given but no chunks.")
    if audio is not None:
        _need_file(layout.audio_file, "the audio track")


def _need_file(path: Path, what: str) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise JobError(f"{what} is missing or empty: {path}.", hint="re-run the encode step for this title")


def _run(args: list[str], what: str, stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Cancelled(f"packaging stopped before {what}.")
    try:
        run(args, what, stop=stop)
    except JobError:
        if stop is not None and stop.is_set():
            raise Cancelled(f"packaging stopped during {what}.") from None
        raise


def _write_text(out_dir: Path, text_tracks: Sequence[TextTrack],
                reference: Track | None) -> list[TextRendition]:
    """The text tracks cut on the segments of `reference`: the first rung, or the audio."""
    if not text_tracks or reference is None:
        return []
    return write_following(out_dir, text_tracks, reference)


def _audio_renditions(sounds: Sequence[Track], audio: AudioInfo | None,
                      alternates: Sequence[AudioInfo]) -> list[AudioRendition]:
    """Every audio rendition, the main one first, when there are alternates (else none: the
    manifests then state the one audio track as they always did)."""
    if not alternates or audio is None:
        return []
    main = rendition_of(sounds[0], audio, default=True)
    return [main, *(rendition_of(t, a, default=False) for t, a in zip(sounds[1:], alternates, strict=True))]


def _write_manifests(out_dir: Path, videos: list[Track], audio: Track | None, fps: Fraction | None,
                     segment_seconds: float, language: str, texts: Sequence[TextRendition] = (),
                     sound: Sequence[AudioRendition] = ()) -> None:
    """Media playlists replace ffmpeg's (they now carry measured durations); then master and MPD."""
    alternates = [r.track for r in sound[1:]]
    for track in [*videos, *([audio] if audio else []), *alternates]:
        (track.directory / PLAYLIST_NAME).write_text(media_playlist(track), encoding="utf-8")
    variants = plan_variants(videos, audio, segment_seconds, alternates)
    master = master_playlist(variants, audio, fps, language, texts, sound)
    (out_dir / "master.m3u8").write_text(master, encoding="utf-8")
    duration = videos[0].duration if videos else audio.duration if audio else 0.0
    mpd = dash_manifest(videos, audio, fps, duration, segment_seconds, language, texts, sound)
    (out_dir / "manifest.mpd").write_text(mpd, encoding="utf-8")


def _describe(out_dir: Path, videos: list[Track], audio: Track | None,
              segment_seconds: float, sound: Sequence[AudioRendition] = ()) -> PackagedTitle:
    variants = plan_variants(videos, audio, segment_seconds, [r.track for r in sound[1:]])
    renditions = [{"name": v.track.name, "width": v.track.init.width, "height": v.track.init.height,
                   "bandwidth": v.bandwidth, "frames": v.track.frames, "codec": v.track.init.codec}
                  for v in variants if videos]
    audio_info = {"codec": audio.init.codec, "channels": audio.init.channels} if audio else None
    return PackagedTitle(root=out_dir, renditions=renditions, audio=audio_info,
                         audio_tracks=[r.to_dict() for r in sound])


def _thumbnails(tools: Tools, out_dir: Path, layout: WorkLayout, renditions: Sequence[Rendition],
                chunks: Sequence[Chunk], duration: float,
                stop: threading.Event | None) -> tuple[str, str | None]:
    """(poster, sprite track) relative to `out_dir`: the poster from `poster_rung`, the sprite from the
    smallest rung still as wide as a tile; an audio-only title's poster from its sound."""
    if stop is not None and stop.is_set():
        raise Cancelled("packaging stopped before the thumbnails.")
    if not renditions:
        return make_audio_poster(tools, layout.audio_file, out_dir), None
    by_size = _first_codec_by_size(renditions)
    small = next((r for r in by_size if r.width >= SPRITE_TILE_WIDTH), by_size[-1])
    poster_chunk, poster_at = poster_source(chunks, duration)
    poster, _sprite, vtt = make_thumbnails(
        tools, layout.chunk_file(poster_rung(renditions).name, poster_chunk.index), duration, out_dir,
        tile_width=SPRITE_TILE_WIDTH, sprite_video=layout.chunk_list(small.name),
        sprite_size=(small.width, small.height), poster_at=poster_at)
    return poster, vtt


def poster_rung(renditions: Sequence[Rendition]) -> Rendition:
    """The largest rung within POSTER_MAX_PIXELS (in either orientation), else the smallest rung."""
    by_size = _first_codec_by_size(renditions)
    return next((r for r in reversed(by_size) if r.width * r.height <= POSTER_MAX_PIXELS), by_size[0])


def _first_codec_by_size(renditions: Sequence[Rendition]) -> list[Rendition]:
    """The rungs of the first codec (H.264, which every client decodes and ffmpeg decodes fastest),
    smallest first: the poster and the sprite come from them."""
    first = [r for r in renditions if r.codec == renditions[0].codec]
    return sorted(first, key=lambda r: r.width * r.height)


def poster_source(chunks: Sequence[Chunk], duration: float) -> tuple[Chunk, float]:
    """The chunk holding the poster's moment (a third in) and that moment's time inside the chunk:
    a seek within one chunk file is exact, where the concat demuxer's seek decodes from far back."""
    at = duration / 3
    ordered = sorted(chunks, key=lambda c: c.start)
    chunk = next((c for c in reversed(ordered) if c.start <= at), ordered[0])
    return chunk, max(0.0, at - chunk.start)
