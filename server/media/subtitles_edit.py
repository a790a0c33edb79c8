"""Add or remove a text track of a published title without touching its video or audio.

The title's files are fetched into a scratch dir (hard links on a local origin), its `subs/` is
written again from `subs/tracks.json` plus or minus one track, on the segments of the title's first
rung, the master playlist and the MPD get their subtitle entries replaced, the result is checked,
and the whole title is published again in one step (`BlobStore.stage` + `commit`): a player reads
either the old title or the new one, never a mix. `republish` is that fetch-rewrite-publish step, which
audio edits (`audio_edit.py`) use too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from server.errors import InvalidRequest, JobError, NotFound
from server.media.cmaf import Track, scan_track
from server.media.manifest_refs import missing_references
from server.media.playlists import master_with_subtitles, mpd_with_subtitles
from server.media.subtitles import SIDECAR_EXTENSIONS, TextTrack, read_sidecar, sidecar_flags
from server.media.subtitles_verify import check_text_tracks
from server.media.text_tracks import SUBS_DIR, TRACKS_FILE, TextRendition, load_tracks, write_following
from server.media.verify import REPORT_NAME
from server.storage.blobstore import BlobStore, files_under, title_prefix

MASTER, MPD = "master.m3u8", "manifest.mpd"
Change = Callable[[list[TextTrack]], list[TextTrack]]
T = TypeVar("T")


@dataclass
class SubtitleEdit:
    """What an edit left: the title's text tracks now, and the warnings about the added file."""

    tracks: list[TextRendition] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def list_tracks(store: BlobStore, video_id: str) -> list[TextRendition]:
    """The title's text tracks as published (none when it has no `subs/tracks.json`)."""
    try:
        data = store.read(f"{title_prefix(video_id)}/{TRACKS_FILE}")
    except NotFound:
        return []
    return [rendition for rendition, _cues in load_tracks(data)]


def read_new_track(path: Path, duration: float, *, language: str = "", sdh: bool = False,
                   forced: bool = False) -> tuple[TextTrack, list[str]]:
    """A subtitle file as a track (flags from the options, else from its name: `x.fr.sdh.srt`);
    InvalidRequest naming the file when nothing of it can be shown."""
    if path.suffix.lower() not in SIDECAR_EXTENSIONS:
        raise InvalidRequest(f"{path.name}: not a subtitle file we read.",
                             hint=f"use one of {', '.join(sorted(SIDECAR_EXTENSIONS))}")
    if not path.is_file():
        raise InvalidRequest(f"{path.name}: no such file.", hint="check the path and try again")
    named = sidecar_flags(path.name.split(".")[0], path)
    track = TextTrack(language=language or named.language, forced=forced or named.forced,
                      sdh=sdh or named.sdh, source=path.name)
    result = read_sidecar(path, track, duration)
    if result.track is None:
        raise InvalidRequest(f"{path.name} gives no subtitles: " + " ".join(result.warnings[-3:]),
                             hint="fix the file (UTF-8 SRT or WebVTT is safest) and add it again")
    return result.track, result.warnings


def edit_subtitles(store: BlobStore, video_id: str, scratch: Path, change: Change) -> list[TextRendition]:
    """Publish the title again with `change(tracks)` as its text tracks; returns them as published."""
    return republish(store, video_id, scratch, lambda folder: _rewrite(folder, change(_tracks(folder))))


def republish(store: BlobStore, video_id: str, scratch: Path, rewrite: Callable[[Path], T]) -> T:
    """Fetch the published title into a scratch folder, let `rewrite` replace files in it (never
    write into a fetched file: it may be a hard link to the published one), then publish the whole
    folder in one step; returns what `rewrite` returned."""
    folder = scratch / f"{video_id}-tracks"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        _fetch(store, video_id, folder)
        result = rewrite(folder)
        staging = store.stage(title_prefix(video_id))
        try:
            for rel, path in files_under(folder):
                staging.add_file(rel, path)
            staging.commit()
        except BaseException:
            staging.abort()
            raise
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fetch(store: BlobStore, video_id: str, folder: Path) -> None:
    prefix = title_prefix(video_id)
    keys = list(store.list(prefix))
    if f"{prefix}/{MASTER}" not in keys:
        raise NotFound(f"Title {video_id!r} is not published.", hint="`main.py videos` lists the titles")
    for key in keys:
        target = folder / key[len(prefix) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        store.get_file(key, target)


def _tracks(folder: Path) -> list[TextTrack]:
    path = folder / TRACKS_FILE
    if not path.is_file():
        return []
    return [TextTrack(language=r.language, name=r.name, forced=r.forced, sdh=r.sdh, default=r.default,
                      source=r.source, cues=cues) for r, cues in load_tracks(path.read_bytes())]


def _rewrite(folder: Path, tracks: list[TextTrack]) -> list[TextRendition]:
    """New subs/, manifests and report in `folder`; every file replaced by a new one (the fetched
    files may be hard links to the published title's, which must not change under a reader)."""
    reference = _reference(folder)
    shutil.rmtree(folder / SUBS_DIR, ignore_errors=True)
    texts = write_following(folder, tracks, reference)
    replace_text(folder / MASTER, master_with_subtitles((folder / MASTER).read_text(encoding="utf-8"), texts))
    replace_text(folder / MPD, mpd_with_subtitles((folder / MPD).read_text(encoding="utf-8"), texts))
    problems: list[str] = []
    facts = check_text_tracks(folder, [t.to_dict() for t in texts], reference, problems)
    problems += [f"{name} is named by a manifest but does not exist."
                 for name in missing_references(folder, MASTER, MPD)]
    if problems:
        raise JobError("the edited subtitles failed verification: " + "; ".join(problems[:3]))
    _update_report(folder, facts)
    return texts


def _reference(folder: Path) -> Track:
    """The track the subtitles follow: the master's first variant, as packaging chose it."""
    master = (folder / MASTER).read_text(encoding="utf-8")
    first = next((line for line in master.splitlines() if line and not line.startswith("#")), "")
    if not first:
        raise JobError("the title's master playlist names no variant.")
    return scan_track(folder / Path(first).parent)


def replace_text(path: Path, text: str) -> None:
    """Write `path` as a new file renamed over the old one (the old may be a hard link to a
    published file, which must not change under a reader)."""
    fresh = path.with_name(f".{path.name}.new")
    fresh.write_text(text, encoding="utf-8")
    os.replace(fresh, path)


def _update_report(folder: Path, facts: dict[str, object]) -> None:
    path = folder / REPORT_NAME
    if not path.is_file():
        return
    report = json.loads(path.read_text(encoding="utf-8"))
    report.setdefault("checks", {})["text_tracks"] = facts
    replace_text(path, json.dumps(report, indent=2))
