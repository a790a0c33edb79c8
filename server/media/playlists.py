"""HLS (v7, fMP4) and DASH manifests written from the real segments, all URIs relative.

One set of CMAF files, referenced twice: the media playlists and the MPD name the same init.mp4
and seg_NNNNN.m4s. BANDWIDTH is the RFC 8216 peak segment bit rate measured on the files. Both state
one timing model: times as presented after the init segments' edit lists, every track's first frame
at 0 s (`Track.timeline`), never an offset that a player would apply on top of the edit list.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from server.media.audio_tracks import DESCRIBES_VIDEO, AudioRendition
from server.media.cmaf import INIT_NAME, PLAYLIST_NAME, Track, track_average, track_peak
from server.media.text_tracks import TextRendition

AUDIO_GROUP = "audio"
SUBTITLE_GROUP = "subs"
# Apple's HLS authoring spec: how SDH captions announce themselves to the accessibility settings.
SDH_CHARACTERISTICS = ("public.accessibility.transcribes-spoken-dialog,"
                       "public.accessibility.describes-music-and-sound")
DASH_ROLE = "urn:mpeg:dash:role:2011"
TEXT_BANDWIDTH = 256  # bit/s a WebVTT track announces (its real rate is a few hundred bit/s at most)
DASH_NS = "urn:mpeg:dash:schema:mpd:2011"
DASH_PROFILE = "urn:mpeg:dash:profile:isoff-live:2011"
CHANNEL_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"


@dataclass(frozen=True)
class Variant:
    """One video rung as the master playlist states it."""

    track: Track
    bandwidth: int           # peak of video + audio, bit/s
    average: int             # average of video + audio, bit/s


def media_playlist(track: Track) -> str:
    """A VOD media playlist (v7, EXT-X-MAP) listing every segment with its measured duration."""
    durations = track.durations()
    target = max(1, max(math.floor(d + 0.5) for d in durations))
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:1",
             "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{INIT_NAME}"']
    for name, duration in zip(track.segment_files, durations, strict=True):
        lines += [f"#EXTINF:{duration:.6f},", name]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def plan_variants(videos: Sequence[Track], audio: Track | None, target: float,
                  alternates: Sequence[Track] = ()) -> list[Variant]:
    """BANDWIDTH per rung: the largest sum of peak rates of any playable combination (video+audio,
    with the most demanding of the audio renditions).

    An audio-only title gets one variant: the audio track itself."""
    sounds = [*([audio] if audio else []), *alternates]
    audio_peak = max((track_peak(t, target) for t in sounds), default=0)
    audio_avg = max((track_average(t) for t in sounds), default=0)
    if not videos and audio is not None:
        return [Variant(audio, audio_peak, audio_avg)]
    return [Variant(v, track_peak(v, target) + audio_peak, track_average(v) + audio_avg) for v in videos]


def master_playlist(variants: Sequence[Variant], audio: Track | None, fps: Fraction | None,
                    language: str = "", subtitles: Sequence[TextRendition] = (),
                    audio_renditions: Sequence[AudioRendition] = ()) -> str:
    """The multivariant playlist: audio and subtitles as EXT-X-MEDIA groups, one EXT-X-STREAM-INF
    per rung. With `audio_renditions` (the main track first), one AUDIO entry per rendition."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += [subtitle_media(text) for text in subtitles]
    subs = bool(subtitles)
    if audio is None or (variants and variants[0].track is audio):
        return "\n".join(lines + [_stream_inf(v, None, fps, subs) for v in variants]) + "\n"
    lang = f'LANGUAGE="{language}",' if _is_language(language) else ""
    if len(audio_renditions) > 1:
        lines += audio_media(audio_renditions)
    else:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Main",{lang}DEFAULT=YES,'
                     f'AUTOSELECT=YES,CHANNELS="{audio.init.channels}",URI="{_uri(audio)}"')
    lines += [_stream_inf(v, audio, fps, subs) for v in variants]
    return "\n".join(lines) + "\n"


def audio_media(renditions: Sequence[AudioRendition]) -> list[str]:
    """One AUDIO entry per rendition, names made unique within the group (HLS requires it)."""
    lines, seen = [], set()
    for rendition in renditions:
        name, n = _quoted(rendition.name), 2
        while name in seen:
            name, n = f"{_quoted(rendition.name)} {n}", n + 1
        seen.add(name)
        attrs = ["TYPE=AUDIO", f'GROUP-ID="{AUDIO_GROUP}"', f'NAME="{name}"']
        if _is_language(rendition.language):
            attrs.append(f'LANGUAGE="{rendition.language}"')
        # a commentary or a description is never picked for the viewer without asking
        pickable = not (rendition.commentary or rendition.descriptions)
        attrs += [f"DEFAULT={_yes(rendition.default)}", f"AUTOSELECT={_yes(rendition.default or pickable)}"]
        if rendition.descriptions:
            attrs.append(f'CHARACTERISTICS="{DESCRIBES_VIDEO}"')
        attrs += [f'CHANNELS="{rendition.track.init.channels}"', f'URI="{_uri(rendition.track)}"']
        lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
    return lines


def subtitle_media(text: TextRendition) -> str:
    """The EXT-X-MEDIA line of one text track: forced and SDH said the way players look for them."""
    attrs = ["TYPE=SUBTITLES", f'GROUP-ID="{SUBTITLE_GROUP}"', f'NAME="{_quoted(text.name)}"']
    if _is_language(text.language):
        attrs.append(f'LANGUAGE="{text.language}"')
    attrs += [f"DEFAULT={_yes(text.default)}", "AUTOSELECT=YES", f"FORCED={_yes(text.forced)}"]
    if text.sdh:
        attrs.append(f'CHARACTERISTICS="{SDH_CHARACTERISTICS}"')
    attrs.append(f'URI="{text.playlist}"')
    return "#EXT-X-MEDIA:" + ",".join(attrs)


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


def _quoted(text: str) -> str:
    """An attribute value HLS can carry: no double quote, no line break."""
    return " ".join(text.replace('"', "'").split())


def _stream_inf(variant: Variant, audio: Track | None, fps: Fraction | None, subtitles: bool = False) -> str:
    init = variant.track.init
    codecs = f"{init.codec},{audio.init.codec}" if audio else init.codec
    attrs = [f"BANDWIDTH={variant.bandwidth}", f"AVERAGE-BANDWIDTH={variant.average}", f'CODECS="{codecs}"']
    if init.kind == "video":
        attrs.append(f"RESOLUTION={init.width}x{init.height}")
    if fps and init.kind == "video":
        attrs.append(f"FRAME-RATE={float(fps):.3f}")
    if audio:
        attrs.append(f'AUDIO="{AUDIO_GROUP}"')
    if subtitles:
        attrs.append(f'SUBTITLES="{SUBTITLE_GROUP}"')
    return f"#EXT-X-STREAM-INF:{','.join(attrs)}\n{_uri(variant.track)}"


def _is_language(tag: str) -> bool:
    """An RFC 5646-looking tag worth announcing ("und" means unknown)."""
    return bool(tag) and tag != "und" and all(part.isalnum() for part in tag.split("-")) and len(tag) <= 35


def _uri(track: Track) -> str:
    return f"cmaf/{track.name}/{PLAYLIST_NAME}"


def dash_manifest(videos: Sequence[Track], audio: Track | None, fps: Fraction | None,
                  duration: float, target: float, language: str = "",
                  subtitles: Sequence[TextRendition] = (),
                  audio_renditions: Sequence[AudioRendition] = ()) -> str:
    """A static MPD: a video AdaptationSet per codec (a Representation per rung) and an audio set, each
    Representation a SegmentTemplate + SegmentTimeline over the very files HLS lists; then a text
    set per subtitle track, its whole WebVTT file as the BaseURL."""
    ET.register_namespace("", DASH_NS)
    mpd = ET.Element("MPD", {"xmlns": DASH_NS, "type": "static", "profiles": DASH_PROFILE,
                             "minBufferTime": _iso(min(2 * target, 10.0)),
                             "mediaPresentationDuration": _iso(duration)})
    period = ET.SubElement(mpd, "Period", {"id": "0", "start": "PT0S"})
    sets = video_sets(videos)
    for number, tracks in enumerate(sets):
        _video_set(period, tracks, fps, target, str(number))
    first = len(sets)
    if len(audio_renditions) > 1:  # a set per rendition: players choose among sets by lang and Role
        for number, rendition in enumerate(audio_renditions, first):
            _audio_set(period, rendition.track, target, str(number), rendition.language, rendition)
        first += len(audio_renditions)
    elif audio is not None:
        _audio_set(period, audio, target, str(first), language)
        first += 1
    for number, text in enumerate(subtitles, first):
        _text_set(period, text, str(number))
    ET.indent(mpd)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"


def video_sets(videos: Sequence[Track]) -> list[list[Track]]:
    """The rungs grouped by codec (sample entry: avc1, av01, hvc1), in their first rung's order: a
    DASH player switches only within a set, and a set must hold one codec it can decode."""
    sets: dict[str, list[Track]] = {}
    for video in videos:
        sets.setdefault(video.init.codec[:4], []).append(video)
    return list(sets.values())


def _video_set(period: ET.Element, videos: Sequence[Track], fps: Fraction | None, target: float,
               set_id: str = "0") -> None:
    aset = ET.SubElement(period, "AdaptationSet", {
        "id": set_id, "contentType": "video", "mimeType": "video/mp4", "segmentAlignment": "true",
        "startWithSAP": "1", "maxWidth": str(max(v.init.width for v in videos)),
        "maxHeight": str(max(v.init.height for v in videos))})
    for video in videos:
        init = video.init
        attrs = {"id": video.name, "bandwidth": str(track_peak(video, target)),
                 "codecs": init.codec, "width": str(init.width), "height": str(init.height), "sar": "1:1"}
        if fps:
            attrs["frameRate"] = f"{fps.numerator}/{fps.denominator}" if fps.denominator != 1 else str(fps)
        rep = ET.SubElement(aset, "Representation", attrs)
        _segment_template(rep, video)


def _audio_set(period: ET.Element, audio: Track, target: float, set_id: str, language: str,
               rendition: AudioRendition | None = None) -> None:
    attrs = {"id": set_id, "contentType": "audio", "mimeType": "audio/mp4", "segmentAlignment": "true",
             "startWithSAP": "1"}
    if _is_language(language):
        attrs["lang"] = language
    aset = ET.SubElement(period, "AdaptationSet", attrs)
    if rendition is not None:
        ET.SubElement(aset, "Label").text = rendition.name
        ET.SubElement(aset, "Role", {"schemeIdUri": DASH_ROLE, "value": rendition.role})
    init = audio.init
    rep = ET.SubElement(aset, "Representation", {
        "id": audio.name, "bandwidth": str(track_peak(audio, target)), "codecs": init.codec,
        "audioSamplingRate": str(init.sample_rate)})
    ET.SubElement(rep, "AudioChannelConfiguration",
                  {"schemeIdUri": CHANNEL_SCHEME, "value": str(init.channels)})
    _segment_template(rep, audio)


def _text_set(period: ET.Element, text: TextRendition, set_id: str) -> None:
    """A WebVTT AdaptationSet: Role caption for SDH, forced-subtitle for forced, else subtitle."""
    attrs = {"id": set_id, "contentType": "text", "mimeType": "text/vtt"}
    if _is_language(text.language):
        attrs["lang"] = text.language
    aset = ET.SubElement(period, "AdaptationSet", attrs)
    ET.SubElement(aset, "Label").text = text.name  # the schema puts Label before Role
    role = "forced-subtitle" if text.forced else "caption" if text.sdh else "subtitle"
    ET.SubElement(aset, "Role", {"schemeIdUri": DASH_ROLE, "value": role})
    rep = ET.SubElement(aset, "Representation", {"id": f"text-{text.id}", "bandwidth": str(TEXT_BANDWIDTH)})
    ET.SubElement(rep, "BaseURL").text = text.vtt


def _segment_template(rep: ET.Element, track: Track) -> None:
    """Times on the presentation timeline, after the init segment's edit list, with the default
    presentationTimeOffset of 0: Chromium's MSE applies that edit list itself (as ffmpeg does), and
    dash.js and Shaka map media time to the Period by subtracting the offset (SourceBuffer
    timestampOffset = -PTO/timescale), so an offset equal to the edit list shifted the video twice
    and its first keyframe fell before the append window: the whole first segment was dropped."""
    base = f"cmaf/{track.name}/"
    template = ET.SubElement(rep, "SegmentTemplate", {
        "timescale": str(track.timescale), "initialization": base + INIT_NAME,
        "media": base + "seg_$Number%05d$.m4s", "startNumber": "1"})
    timeline = ET.SubElement(template, "SegmentTimeline")
    for t, d, repeat in timeline_runs(track.timeline()):
        attrs = {"t": str(t), "d": str(d)}
        if repeat:
            attrs["r"] = str(repeat)
        ET.SubElement(timeline, "S", attrs)


def timeline_runs(segments: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(start, duration, repeat) runs of equal, contiguous (start, duration) segments."""
    runs: list[tuple[int, int, int]] = []
    for start, duration in segments:
        if runs and runs[-1][1] == duration and runs[-1][0] + runs[-1][1] * (runs[-1][2] + 1) == start:
            t, d, r = runs[-1]
            runs[-1] = (t, d, r + 1)
        else:
            runs.append((start, duration, 0))
    return runs


def _iso(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def master_with_subtitles(master: str, subtitles: Sequence[TextRendition]) -> str:
    """A published master playlist with its subtitle group replaced by `subtitles` (none: removed);
    every other line as it was, so the video and audio stay exactly as packaged."""
    lines = [line for line in master.splitlines() if not line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES,")]
    out: list[str] = []
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF:"):
            line = line.replace(f',SUBTITLES="{SUBTITLE_GROUP}"', "")
            line += f',SUBTITLES="{SUBTITLE_GROUP}"' if subtitles else ""
        out.append(line)
        if line == "#EXT-X-INDEPENDENT-SEGMENTS":
            out += [subtitle_media(text) for text in subtitles]
    return "\n".join(out) + "\n"


def mpd_with_subtitles(mpd: str, subtitles: Sequence[TextRendition]) -> str:
    """A published MPD with its text AdaptationSets replaced by one per track of `subtitles`."""
    ET.register_namespace("", DASH_NS)
    root = ET.fromstring(mpd)
    period = root.find(f"{{{DASH_NS}}}Period")
    if period is None:
        raise ValueError("the MPD has no Period")
    for aset in period.findall(f"{{{DASH_NS}}}AdaptationSet"):
        if aset.get("contentType") == "text":
            period.remove(aset)
    first = len(period.findall(f"{{{DASH_NS}}}AdaptationSet"))
    for number, text in enumerate(subtitles, first):
        _text_set(period, text, str(number))
    for element in root.iter():  # the new sets were made without the namespace: give them it
        if not element.tag.startswith("{"):
            element.tag = f"{{{DASH_NS}}}{element.tag}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
