"""The Whoosh schema and how a catalog title becomes an index document (with its facet values)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from whoosh.analysis import RegexTokenizer, StemmingAnalyzer
from whoosh.analysis.filters import LowercaseFilter
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, TEXT, Schema

# Fields a plain word searches, and how much a match in each counts.
TEXT_FIELDS = ("title", "description", "tags", "original_name", "creator")
# Typo tolerance and as-you-type completion walk the term dictionary (pure Python in Whoosh), so they
# are limited to the fields people type from memory; descriptions match exactly.
FUZZY_FIELDS = ("title", "creator")
PREFIX_FIELDS = ("title",)
FACETS = ("duration_bucket", "resolution", "tags", "upload_month")
DURATION_BUCKETS = ((60, "< 1 min"), (300, "1-5 min"), (1200, "5-20 min"), (float("inf"), "> 20 min"))


def make_schema() -> Schema:
    words = RegexTokenizer() | LowercaseFilter()
    return Schema(
        video_id=ID(stored=True, unique=True, sortable=True),
        title=TEXT(stored=True, analyzer=StemmingAnalyzer(), field_boost=3.0),
        description=TEXT(stored=True, analyzer=StemmingAnalyzer()),
        tags=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True, field_boost=2.0),
        # a_b.mov -> a, b, mov
        original_name=TEXT(stored=True, analyzer=StemmingAnalyzer(expression=r"[^\W_]+")),
        creator=TEXT(stored=True, analyzer=StemmingAnalyzer()),
        duration=NUMERIC(float, stored=True, shift_step=16),  # 4 range tiers a value, not 16
        duration_bucket=ID(stored=True, sortable=True),
        resolution=ID(stored=True, sortable=True),
        upload_date=DATETIME(stored=True, sortable=True),
        upload_month=ID(stored=True, sortable=True),
        codec=ID(stored=True),
        audio_language=ID(stored=True),
        words=TEXT(analyzer=words),  # unstemmed title/tag/creator words for "did you mean"
    )


def document(title: dict[str, Any]) -> dict[str, Any]:
    """Index fields of a `server.catalog.Title.to_dict()`."""
    tags = [str(t) for t in title.get("tags") or []]
    uploaded = datetime.fromtimestamp(float(title.get("created_at") or 0), UTC).replace(tzinfo=None)
    text = [title.get("title", ""), " ".join(tags), title.get("creator", "")]
    return {
        "video_id": title["video_id"], "title": title.get("title", ""),
        "description": title.get("description", ""), "tags": ",".join(tags),
        "original_name": title.get("original_name", ""), "creator": title.get("creator", ""),
        "duration": float(title.get("duration") or 0), "duration_bucket": duration_bucket(title),
        "resolution": resolution(title), "upload_date": uploaded,
        "upload_month": uploaded.strftime("%Y-%m"), "codec": title.get("source_codec", "") or "",
        "audio_language": title.get("audio_language", "") or "", "words": " ".join(text),
    }


def duration_bucket(title: dict[str, Any]) -> str:
    seconds = float(title.get("duration") or 0)
    return next(label for limit, label in DURATION_BUCKETS if seconds < limit)


def resolution(title: dict[str, Any]) -> str:
    """The top rung's height as `1080p`; `audio` for audio-only titles."""
    renditions = title.get("renditions") or []
    height = max((int(r.get("height") or 0) for r in renditions), default=0) or int(title.get("height") or 0)
    return f"{height}p" if height else ("audio" if title.get("audio") else "unknown")
