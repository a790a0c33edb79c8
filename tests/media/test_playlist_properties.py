"""Properties of the manifest writers: whatever ladder they are given, the HLS playlists and the DASH
MPD they write parse back (m3u8, mpegdash) to that same ladder — renditions, bandwidths, resolutions,
codecs and segment times — and both place the first frame of every track at 0 s."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import m3u8
from hypothesis import given, settings
from hypothesis import strategies as st
from mpegdash.nodes import MPEGDASH, SegmentTemplate
from mpegdash.parser import MPEGDASHParser

from server.media.cmaf import Track, track_peak
from server.media.mp4box import Fragment, TrackInit
from server.media.playlists import dash_manifest, master_playlist, media_playlist, plan_variants

AAC_FRAME = 1024
# (frame rate, a timescale in which one frame is a whole number of ticks), as ffmpeg picks them
CLOCKS = [(Fraction(25), 12800), (Fraction(24), 12288), (Fraction(30), 15360),
          (Fraction(30000, 1001), 30000), (Fraction(50), 12800), (Fraction(60), 15360)]
LANGUAGES = ["", "und", "eng", "pt-BR"]


@dataclass(frozen=True)
class Ladder:
    """What the writers are given: video rungs on one segment grid, maybe an audio track."""

    videos: list[Track]
    audio: Track | None
    fps: Fraction
    target: float
    language: str

    @property
    def duration(self) -> float:
        return self.videos[0].duration


def track(name: str, init: TrackInit, frames: list[int], tick: int, sizes: list[int]) -> Track:
    """Fragments of `frames` samples of `tick` ticks each, back to back from decode time 0; each one
    opens with a sync sample delayed by the edit list (a B-frame delay, or 0 for AAC)."""
    fragments, t = [], 0
    cto = init.media_time if init.kind == "video" else 0
    for count, size in zip(frames, sizes, strict=True):
        fragments.append(Fragment(t, (tick,) * count, (True,) + (False,) * (count - 1), cto, size))
        t += tick * count
    return Track(name, Path("cmaf") / name, init, tuple(fragments))


@st.composite
def ladders(draw: st.DrawFn) -> Ladder:
    fps, timescale = draw(st.sampled_from(CLOCKS))
    tick = int(timescale / fps)
    segment_frames = draw(st.integers(1, 60))
    frames = [segment_frames] * draw(st.integers(0, 6)) + [draw(st.integers(1, segment_frames))]
    delay = draw(st.integers(0, 2)) * tick
    sizes = st.lists(st.integers(1, 2_000_000), min_size=len(frames), max_size=len(frames))
    heights = draw(st.lists(st.integers(18, 540).map(lambda h: h * 2), min_size=1, max_size=4,
                            unique=True))
    videos = []
    for height in sorted(heights, reverse=True):
        width = (height * 16 // 9 + 1) // 2 * 2
        init = TrackInit("video", timescale, f"avc1.6400{min(height // 36, 0x33):02x}", width, height,
                         media_time=delay)
        videos.append(track(f"{height}p", init, frames, tick, draw(sizes)))
    audio = draw(st.none() | audio_tracks(float(sum(frames) / fps)))
    return Ladder(videos, audio, fps, float(segment_frames / fps), draw(st.sampled_from(LANGUAGES)))


@st.composite
def audio_tracks(draw: st.DrawFn, seconds: float) -> Track:
    rate = draw(st.sampled_from([44100, 48000]))
    priming = draw(st.sampled_from([0, AAC_FRAME]))
    total = max(1, round((seconds * rate + priming) / AAC_FRAME))
    per_segment = draw(st.integers(10, 200))
    frames = [per_segment] * (total // per_segment) + ([total % per_segment] if total % per_segment else [])
    sizes = draw(st.lists(st.integers(1, 200_000), min_size=len(frames), max_size=len(frames)))
    init = TrackInit("audio", rate, "mp4a.40.2", channels=draw(st.sampled_from([1, 2, 6])), sample_rate=rate,
                     media_time=priming)
    return track("audio", init, frames, AAC_FRAME, sizes)


def write_mpd(ladder: Ladder) -> MPEGDASH:
    return MPEGDASHParser.parse(dash_manifest(ladder.videos, ladder.audio, ladder.fps, ladder.duration,
                                              ladder.target, ladder.language))


def mpd_segments(template: SegmentTemplate) -> list[tuple[Fraction, Fraction]]:
    """(start, duration) of every segment as a DASH player computes them, in seconds from the Period."""
    offset, out, t = template.presentation_time_offset or 0, [], 0
    for s in template.segment_timelines[0].Ss:
        t = s.t if s.t is not None else t
        for _ in range(1 + (s.r or 0)):
            out.append((Fraction(t - offset, template.timescale), Fraction(s.d, template.timescale)))
            t += s.d
    return out


def presented(track: Track) -> list[tuple[Fraction, Fraction]]:
    return [(Fraction(s, track.timescale), Fraction(d, track.timescale)) for s, d in track.timeline()]


@settings(max_examples=80, deadline=None)
@given(ladders())
def test_the_master_playlist_parses_back_to_the_ladder(ladder: Ladder) -> None:
    variants = plan_variants(ladder.videos, ladder.audio, ladder.target)
    master = m3u8.loads(master_playlist(variants, ladder.audio, ladder.fps, ladder.language))
    assert [p.uri for p in master.playlists] == [f"cmaf/{v.name}/playlist.m3u8" for v in ladder.videos]
    for playlist, variant, video in zip(master.playlists, variants, ladder.videos, strict=True):
        info = playlist.stream_info
        assert (info.bandwidth, info.average_bandwidth) == (variant.bandwidth, variant.average)
        assert info.resolution == (video.init.width, video.init.height)
        assert info.frame_rate == round(float(ladder.fps), 3)
        assert info.codecs.split(",")[0] == video.init.codec
    if ladder.audio is not None:
        (media,) = master.media
        assert (media.type, media.uri, media.channels) == ("AUDIO", "cmaf/audio/playlist.m3u8",
                                                           str(ladder.audio.init.channels))
        assert media.language == (ladder.language if ladder.language not in ("", "und") else None)
        assert all(p.stream_info.audio == media.group_id for p in master.playlists)


@settings(max_examples=80, deadline=None)
@given(ladders())
def test_media_playlists_parse_back_to_every_segment_and_its_duration(ladder: Ladder) -> None:
    for track in [*ladder.videos, *([ladder.audio] if ladder.audio else [])]:
        playlist = m3u8.loads(media_playlist(track))
        assert [s.uri for s in playlist.segments] == track.segment_files
        assert [s.duration for s in playlist.segments] == [round(float(d), 6) for _s, d in presented(track)]
        assert all(round(s.duration) <= playlist.target_duration for s in playlist.segments)
        assert playlist.segment_map[0].uri == "init.mp4" and playlist.is_endlist


@settings(max_examples=80, deadline=None)
@given(ladders())
def test_the_mpd_parses_back_to_the_ladder_and_the_segment_times_hls_states(ladder: Ladder) -> None:
    """Same rungs, bandwidths and resolutions as written; each segment where the media presents it,
    so the first frame of every track is at 0 s, as in HLS."""
    period = write_mpd(ladder).periods[0]
    video_set = period.adaptation_sets[0]
    assert [r.id for r in video_set.representations] == [v.name for v in ladder.videos]
    for rep, video in zip(video_set.representations, ladder.videos, strict=True):
        assert (rep.width, rep.height, rep.codecs) == (video.init.width, video.init.height, video.init.codec)
        assert rep.bandwidth == track_peak(video, ladder.target)
        assert Fraction(rep.frame_rate) == ladder.fps
        assert mpd_segments(rep.segment_templates[0]) == presented(video)
        assert mpd_segments(rep.segment_templates[0])[0][0] == 0
    if ladder.audio is not None:
        (rep,) = period.adaptation_sets[1].representations
        assert (rep.id, rep.audio_sampling_rate) == ("audio", str(ladder.audio.init.sample_rate))
        assert mpd_segments(rep.segment_templates[0]) == presented(ladder.audio)
        assert mpd_segments(rep.segment_templates[0])[0][0] == 0
    else:
        assert len(period.adaptation_sets) == 1
