"""Subtitle sources read into cues: sidecar files beside a video and the text of embedded streams.

Sidecars follow the naming media servers use: `clip.srt`, `clip.fr.srt`, `clip.en.forced.srt`,
`clip.en.sdh.srt` (`.cc`, `.hi` too). Their encoding is found from a BOM, else UTF-8, else cp1252,
else charset-normalizer's guess; pysubs2 parses SRT, WebVTT, ASS and SSA. A problem in a file
(bad bytes, a cue that ends before it starts, overlaps, runs past the end) is a warning naming the
file and line; a file that cannot be read at all is skipped with one. Nothing here stops a title.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pysubs2

SIDECAR_EXTENSIONS = {".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ssa"}
SDH_TAGS = {"sdh", "cc", "hi"}
MAX_SIDECAR_BYTES = 20 * 1024 * 1024  # several feature films of text; anything larger is not subtitles
_WORDS = re.compile(r"[^\W\d_]{3,}")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", re.IGNORECASE)
_TIMING = re.compile(r"\d+:\d{2}(:\d{2})?[,.]\d+\s*-->")
_TAGS = re.compile(r"</?[a-z][^>]*>|\{\\[^}]*\}", re.IGNORECASE)


@dataclass(frozen=True)
class Cue:
    """One timed piece of text, seconds on the title's timeline (the first frame at 0)."""

    start: float
    end: float
    text: str


@dataclass
class TextTrack:
    """A subtitle or caption track ready to package: its cues and how to announce it."""

    language: str = ""          # BCP 47-ish tag as found ("en", "fra"); "" when unknown
    name: str = ""              # what a menu shows; derived from the language when empty
    forced: bool = False        # only the lines a viewer needs (foreign dialogue, signs)
    sdh: bool = False           # captions for the deaf and hard of hearing (sounds, music)
    default: bool = False
    source: str = ""            # "clip.fr.srt" or "embedded stream 2 (subrip)"
    cues: list[Cue] = field(default_factory=list)


@dataclass
class ReadResult:
    """What reading one source gave: the track (None when skipped) and the warnings about it."""

    track: TextTrack | None
    warnings: list[str] = field(default_factory=list)


def find_sidecars(video: Path) -> list[Path]:
    """Subtitle files beside `video` named `<stem>[.tags].<ext>`, in name order."""
    try:
        siblings = sorted(video.parent.iterdir())
    except OSError:
        return []
    prefix = video.stem + "."
    return [p for p in siblings if p.name.startswith(prefix) and p.suffix.lower() in SIDECAR_EXTENSIONS
            and p != video and p.is_file()]


def sidecar_flags(video_stem: str, sidecar: Path) -> TextTrack:
    """Language and flags from the name's middle tags: `clip.en.forced.srt` -> en, forced."""
    named = sidecar.name.startswith(video_stem + ".")
    middle = sidecar.name[len(video_stem) + 1:-len(sidecar.suffix)] if named else ""
    track = TextTrack(source=sidecar.name)
    for tag in (t for t in middle.split(".") if t):
        low = tag.lower()
        if low == "forced":
            track.forced = True
        elif low in SDH_TAGS:
            track.sdh = True
        elif low == "default":
            track.default = True
        elif _LANGUAGE.fullmatch(tag) and not track.language:
            track.language = tag
    return track


def read_sidecar(path: Path, track: TextTrack, duration: float) -> ReadResult:
    """Decode and parse one sidecar into `track`'s cues, or skip it with a warning saying why."""
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            return ReadResult(None, [f"{path.name}: skipped, {size // 1_048_576} MB is too large for a "
                                     "subtitle file."])
        data = path.read_bytes()
    except OSError as exc:
        return ReadResult(None, [f"{path.name}: skipped, it cannot be read ({exc.strerror or exc})."])
    text, warnings = decode(data, path.name)
    if text is None:
        return ReadResult(None, warnings)
    return parse_text(text, SIDECAR_EXTENSIONS[path.suffix.lower()], track, duration, warnings)


def decode(data: bytes, name: str) -> tuple[str | None, list[str]]:
    """The text of a subtitle file: BOM, else UTF-8, else cp1252 when the text reads as a Western
    language in it, else charset-normalizer's guess (Cyrillic cp1251, Greek, …). The detector alone
    is unreliable on short Latin text (one accent made "Le pont à l'aube" Arabic), so it is asked
    only when cp1252 gives words made wholly of accented letters, the mark of another script."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff"), []
            except UnicodeDecodeError as exc:
                return None, [f"{name}: skipped, its {encoding} text is damaged at line "
                              f"{_line_of(data, exc.start)}."]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    with contextlib.suppress(UnicodeDecodeError):
        western = data.decode("cp1252")
        if _reads_western(western):
            return western, []
    for encoding in (_guess(data) or "", "cp1252"):
        if encoding:
            try:
                return data.decode(encoding), []
            except (UnicodeDecodeError, LookupError):
                continue
    line = _line_of(data, utf8_error.start)
    return (data.decode("utf-8", errors="replace"),
            [f"{name}, line {line}: bytes that are not text in any encoding tried; shown as \ufffd."])


def _reads_western(text: str) -> bool:
    """Fewer than a fifth of the words (3+ letters) are made wholly of non-ASCII letters: Latin
    script with accents, not another script read through the wrong code page ("Ìîñò íà")."""
    words = _WORDS.findall(text)
    foreign = sum(1 for word in words if all(ord(c) > 127 for c in word))
    return foreign * 5 < max(1, len(words))


def _guess(data: bytes) -> str | None:
    from charset_normalizer import from_bytes  # loaded only for files that are neither UTF-8 nor cp1252

    best = from_bytes(data).best()
    return best.encoding if best is not None else None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def parse_text(text: str, kind: str, track: TextTrack, duration: float,
               warnings: list[str] | None = None) -> ReadResult:
    """Cues of SRT/VTT/ASS/SSA `text` checked against the title's `duration` (0: unknown)."""
    warnings = list(warnings or [])
    name = track.source
    try:
        parsed = pysubs2.SSAFile.from_string(text, format_=kind)
    except Exception as exc:  # pysubs2 raises many kinds; any of them means: not readable as `kind`
        return ReadResult(None, [*warnings, f"{name}: skipped, it is not a readable {kind.upper()} file "
                                            f"({type(exc).__name__}: {str(exc)[:120]})."])
    lines = _event_lines(text, kind)
    events = [e for e in parsed.events if not e.is_comment]
    cues = check_cues(((e.start / 1000, e.end / 1000, _plain(e)) for e in events), lines, name, duration,
                      warnings)
    if not cues:
        warnings.append(f"{name}: skipped, it holds no cue a player could show.")
    return ReadResult(replace(track, cues=cues) if cues else None, warnings)


def _plain(event: pysubs2.SSAEvent) -> str:
    """The cue's words without styling: ASS override tags and HTML-ish tags removed."""
    text = event.plaintext
    return _TAGS.sub("", text).strip()


def _event_lines(text: str, kind: str) -> list[int]:
    """Line numbers where each cue is written (timing lines, or `Dialogue:` lines for ASS/SSA)."""
    lines = text.splitlines()
    if kind in ("ass", "ssa"):
        return [i for i, line in enumerate(lines, 1) if line.lstrip().startswith("Dialogue:")]
    return [i for i, line in enumerate(lines, 1) if _TIMING.search(line)]


def check_cues(raw: Iterable[tuple[float, float, str]], lines: list[int], name: str, duration: float,
               warnings: list[str]) -> list[Cue]:
    """Keep the cues a player can show; warn for each one that is wrong, naming its line.

    Negative or reversed times and cues wholly past the end are dropped; a cue running past the end
    is cut there; overlapping cues are kept (players stack them) but reported, as they usually
    mean a timing mistake."""
    cues: list[Cue] = []
    for i, (start, end, text) in enumerate(raw):
        where = f"{name}, line {lines[i]}" if i < len(lines) else f"{name}, cue {i + 1}"
        if not text:
            continue
        if start < 0 or end <= start:
            warnings.append(f"{where}: cue {_clock(start)} --> {_clock(end)} ends before it starts or "
                            "starts before 0; dropped.")
            continue
        if duration and start >= duration:
            warnings.append(f"{where}: cue at {_clock(start)} starts after the video ends "
                            f"({_clock(duration)}); dropped.")
            continue
        if duration and end > duration + 0.001:
            warnings.append(f"{where}: cue runs past the end of the video; cut at {_clock(duration)}.")
            end = duration
        if cues and start < cues[-1].end - 0.001:
            warnings.append(f"{where}: cue at {_clock(start)} overlaps the one before "
                            f"(until {_clock(cues[-1].end)}).")
        cues.append(Cue(round(start, 3), round(end, 3), text))
    return cues


def _clock(seconds: float) -> str:
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{rest:06.3f}"
