"""Names derived from the name a file was uploaded under: the kept source's file name and the title."""

from __future__ import annotations

from pathlib import Path

NAME_BYTES = 200  # a kept source's file name, in UTF-8 bytes: under every file system's 255
EXTENSION_BYTES = 16


def kept_source_name(name: str, limit: int = NAME_BYTES) -> str:
    """A file name for the kept source: letters (any script), digits and `._- `, at most `limit`
    UTF-8 bytes (file systems count bytes, and CJK takes 3 each), cut at a character boundary
    before the extension, which is kept."""
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_"
                      for c in Path(name.replace("\\", "/")).name).strip(". ")
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not stem or len(ext.encode()) > EXTENSION_BYTES:
        stem, ext = cleaned, ""
    suffix = f".{ext}" if ext else ""
    stem = cut_utf8(stem, limit - len(suffix.encode())).rstrip(". ")
    return (stem or "source") + suffix


def cut_utf8(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` bytes of UTF-8, never splitting a character."""
    return text.encode()[:max(0, limit)].decode(errors="ignore")


def title_from(original_name: str) -> str:
    """The title a file is listed under until someone edits it: its name without the extension."""
    return Path(original_name).stem.replace("_", " ").strip() or original_name
