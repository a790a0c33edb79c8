"""Per-rung quality in a few lines of rich text: VMAF mean / 5th percentile / worst segment.

Shared by the Library's title panel (figures inside each rendition of the title) and the Upload job
report (figures in the integrity report's `quality`), which hold the same per-rung fields.
"""

from __future__ import annotations

import html
from typing import Any

HEADER = "<b>VMAF</b> <small>(mean / 5th pct / worst segment)</small>"
NOTE_STYLE = "color: #b7791f;"


def rung_line(name: str, figures: dict[str, Any]) -> str:
    """`720p: 95.8 / 94.0 / 93.1 (seg 3, 8-12 s)`, with PSNR and SSIM in small print."""
    worst = figures.get("worst_segment") or {}
    where = (f" (seg {worst['index']}, {worst['start_s']:g}&ndash;{worst['end_s']:g} s)"
             if "index" in worst else "")
    return (f"{html.escape(name)}: {figures['vmaf_mean']:.1f} / {figures['vmaf_p5']:.1f} / "
            f"{worst.get('vmaf', float('nan')):.1f}{where} "
            f"<small>PSNR {figures['psnr_y']:.1f} dB · SSIM {figures['ssim']:.3f}</small>")


def notes_html(notes: list[str]) -> list[str]:
    return [f"<span style='{NOTE_STYLE}'>{html.escape(n)}</span>" for n in notes]


def title_quality_html(renditions: list[dict[str, Any]]) -> str:
    """From a catalog title's renditions; says so when none was measured."""
    measured = [(r["name"], r["quality"]) for r in renditions if r.get("quality")]
    if not measured:
        return "<b>VMAF</b>: not measured" if renditions else ""
    return "<br>".join([HEADER, *(rung_line(name, q) for name, q in measured)])


def report_quality_html(quality: dict[str, Any] | None) -> str:
    """From an integrity report's `quality` (None: measuring was off, nothing to say)."""
    if not quality:
        return ""
    lines = [HEADER, *(rung_line(r["name"], r) for r in quality.get("rungs", []))] \
        if quality.get("rungs") else []
    if quality.get("rungs") and quality.get("sample_every", 1) > 1:
        lines.append(f"<small>every {quality['sample_every']}th frame scored</small>")
    return "<br>".join(lines + notes_html(quality.get("notes", [])))
