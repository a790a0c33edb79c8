"""Seek-bar thumbnails: the title's `thumbs/thumbs.vtt` cues cut out of `thumbs/sprite.jpg`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtGui import QPixmap

CUE = re.compile(r"(?P<start>[\d:.]+)\s+-->\s+(?P<end>[\d:.]+)\s*\n(?P<ref>[^\s#]+)#xywh=(?P<xywh>[\d,]+)")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    image: str
    x: int
    y: int
    w: int
    h: int


def vtt_seconds(stamp: str) -> float:
    """`00:01:02.500` or `01:02.500` -> seconds."""
    seconds = 0.0
    for part in stamp.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_vtt(text: str) -> list[Cue]:
    """Every cue with a `#xywh=` fragment, in file order; other cues are ignored."""
    cues = []
    for m in CUE.finditer(text.replace("\r\n", "\n")):
        x, y, w, h = (int(v) for v in m["xywh"].split(","))
        cues.append(Cue(vtt_seconds(m["start"]), vtt_seconds(m["end"]), m["ref"], x, y, w, h))
    return cues


class Thumbnails:
    """The cues of one title and its sprite; `at(seconds)` is the picture for that time (or None)."""

    def __init__(self, cues: list[Cue], sprite: QPixmap) -> None:
        self.cues = cues
        self.sprite = sprite

    def at(self, seconds: float) -> QPixmap | None:
        cue = next((c for c in self.cues if c.start <= seconds < c.end), self.cues[-1] if self.cues else None)
        if cue is None or self.sprite.isNull():
            return None
        return self.sprite.copy(cue.x, cue.y, cue.w, cue.h)
