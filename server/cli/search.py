"""`miniflix search QUERY [--in subtitles] [--json]`: works with or without a running server.

`--in subtitles` searches what is said (the titles' subtitle cues) and lists the moments.

Without a server it first applies pending `videos` events to the index itself; with a server, the
server's indexer owns writes and this command only reads. `--sort views` reads views from analytics.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from server.cli import add_data_dir
from server.engine import Engine
from server.errors import Conflict, InvalidRequest, MiniflixError
from server.paths import DataDir
from server.registry import BadSetting
from server.search import SORTS

if TYPE_CHECKING:  # Whoosh loads only when a search runs: every other command starts faster
    from server.search.service import SearchResult

TAG = re.compile(r"<[^>]+>")
SCOPES = ("titles", "subtitles")


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("search", help="search the library (typos, prefixes, \"phrases\", tag:cats)")
    p.add_argument("query", help='what to look for, e.g. cats, "space station", tag:cats by:ana')
    add_data_dir(p)
    p.add_argument("--sort", choices=SORTS, default="relevance")
    p.add_argument("--facet", action="append", default=[], metavar="NAME=VALUE",
                   help="filter, e.g. --facet resolution=1080p --facet tags=cats (repeatable)")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--in", dest="scope", choices=SCOPES, default="titles",
                   help="titles (names, descriptions, tags) or subtitles (what is said, with the moments)")
    p.add_argument("--json", action="store_true", help="the whole result as JSON")
    p.set_defaults(func=run_search)


def run_search(args: argparse.Namespace) -> int:
    if getattr(args, "scope", "titles") == "subtitles":
        return run_subtitle_search(args)
    try:
        result = search(DataDir.resolve(args.data_dir), args.query, sort=args.sort,
                        facets=_facets(args.facet), limit=args.limit)
    except BadSetting:  # main.py reports it with exit code 2
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_result(result))
    return 0


def run_subtitle_search(args: argparse.Namespace) -> int:
    try:
        found = search_subtitles(DataDir.resolve(args.data_dir), args.query, limit=args.limit)
    except BadSetting:
        raise
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(found, indent=2, ensure_ascii=False) if args.json else format_moments(found))
    return 0


def search_subtitles(data: DataDir, q: str, *, limit: int) -> dict[str, Any]:
    with Engine(data) as engine:
        service = engine.search()
        with contextlib.suppress(Conflict):
            service.catch_up()
        return service.search_subtitles(q, limit=limit)


def format_moments(found: dict[str, Any]) -> str:
    """`vID  Title` then one `  12:04  "…the bridge at dawn…"` line per moment."""
    if not found["hits"]:
        return "Nothing said matches."
    lines = [f"{found['total']} title(s)"]
    for hit in found["hits"]:
        lines.append(f"  {hit['video_id']}  {hit['title']}")
        lines += [f"    {m['at']:>7}  \"{_one_line(m['snippet'])}\"" for m in hit["moments"]]
    return "\n".join(lines)


def _one_line(snippet: str) -> str:
    """The HTML snippet as plain text on one line."""
    return " ".join(html.unescape(TAG.sub("", snippet)).split())


def search(data: DataDir, q: str, **options: Any) -> SearchResult:
    with Engine(data) as engine:
        views = _views(data) if options.get("sort") == "views" else None
        service = engine.search(views=views)
        with contextlib.suppress(Conflict):  # a running server is indexing: read what it wrote
            service.catch_up()
        return service.search(q, **options)


def _views(data: DataDir) -> Any:
    from server.cli.analytics import read_rows

    counts = {r["video_id"]: r["views"] for r in read_rows(data, "views", {}).as_dicts()}
    return lambda: counts


def _facets(pairs: list[str]) -> dict[str, list[str]]:
    facets: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise InvalidRequest(f"--facet {pair!r} is not NAME=VALUE.")
        facets.setdefault(name.strip(), []).append(value.strip())
    return facets


def format_result(result: SearchResult) -> str:
    if not result.hits:
        hint = f' Did you mean "{result.suggestion}"?' if result.suggestion else ""
        return f"No titles found.{hint}"
    lines = [f"{result.total} title(s)"]
    for hit in result.hits:
        lines.append(f"  {hit['video_id']}  {hit['title']}  [{hit['resolution']}, {hit['duration']:.0f} s]")
        lines.append(f"      {TAG.sub('', hit['snippet'])}")
    for name, values in result.facets.items():
        lines.append(f"{name}: " + ", ".join(f"{v} ({n})" for v, n in values))
    return "\n".join(lines)
