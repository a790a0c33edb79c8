"""Check a title's packaged text tracks from their files, as a player would meet them.

Every track's HLS playlist has one WebVTT segment per video segment with the same durations, every
segment opens with `WEBVTT` and the `X-TIMESTAMP-MAP` header, and the whole-track file the MPD names
(its BaseURL) exists. A failure here is a packaging bug, so it stops the publish like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.media.cmaf import Track
from server.media.text_tracks import TextRendition

TOLERANCE_S = 0.0015  # EXTINF is written with 6 decimals; the track's own durations are exact


def check_text_tracks(root: Path, texts: list[dict[str, Any]], reference: Track | None,
                      problems: list[str]) -> dict[str, Any]:
    """Facts per text track (segments, cues seen) and the problems found, appended to `problems`."""
    facts: dict[str, Any] = {}
    for item in texts:
        text = TextRendition.from_dict(item)
        facts[text.id] = _check_one(root, text, reference, problems)
    return facts


def _check_one(root: Path, text: TextRendition, reference: Track | None,
               problems: list[str]) -> dict[str, Any]:
    where = f"text track {text.id}"
    playlist = root / text.playlist
    if not playlist.is_file():
        problems.append(f"{where}: its playlist {text.playlist} is missing.")
        return {}
    durations = [float(line[8:].rstrip(",")) for line in playlist.read_text(encoding="utf-8").splitlines()
                 if line.startswith("#EXTINF:")]
    if reference is not None:
        expected = reference.durations()
        if len(durations) != len(expected) or any(abs(a - b) > TOLERANCE_S
                                                  for a, b in zip(durations, expected, strict=False)):
            problems.append(f"{where}: {len(durations)} segments that do not follow the "
                            f"{len(expected)} segments of track {reference.name}.")
    for segment in sorted(playlist.parent.glob("seg_*.vtt")):
        head = segment.read_text(encoding="utf-8").split("\n", 2)
        if head[0] != "WEBVTT" or len(head) < 2 or not head[1].startswith("X-TIMESTAMP-MAP="):
            problems.append(f"{where}: {segment.name} does not start with WEBVTT and X-TIMESTAMP-MAP.")
    if not (root / text.vtt).is_file():
        problems.append(f"{where}: {text.vtt}, named by the MPD, is missing.")
    return {"segments": len(durations), "language": text.language, "forced": text.forced, "sdh": text.sdh}
