"""The Whoosh index on disk: opened whole or rebuilt from the catalog (the source of truth), and the
only code that writes it."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.index import Index
from whoosh.query import Every
from whoosh.writing import LockError

from server.catalog import PUBLISHED, Catalog
from server.errors import Conflict
from server.search.documents import document, make_schema

log = logging.getLogger(__name__)
INDEX_NAME = "titles"


def open_index(path: Path, catalog: Catalog) -> tuple[Index, bool]:
    """The index at `path`, or a fresh one built from `catalog` if it is missing or damaged.
    Returns `(index, rebuilt)`."""
    try:
        ix = windex.open_dir(str(path), indexname=INDEX_NAME)
        check(ix)
        return ix, False
    except Exception as exc:  # any damage (missing files, garbage, wrong schema) means: rebuild
        reason = f"damaged ({exc!r})" if any(path.glob(f"_{INDEX_NAME}_*.toc")) else "missing"
        log.warning("search index at %s is %s; rebuilding it from the catalog", path, reason)
        return rebuild(path, catalog), True


def check(ix: Index) -> None:
    """Touch the schema, every segment's stored fields and the sort columns, so damage shows now."""
    if set(ix.schema.names()) != set(make_schema().names()):
        raise ValueError("schema changed")
    with ix.searcher() as searcher:
        searcher.search(Every(), limit=1, sortedby="upload_date")
        for reader, _ in searcher.reader().leaf_readers():
            if reader.doc_count_all():
                reader.stored_fields(0)


def rebuild(path: Path, catalog: Catalog) -> Index:
    """A new index holding every published title, swapped in for whatever was at `path`."""
    staging = path.with_name(path.name + ".rebuild")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    ix = windex.create_in(str(staging), make_schema(), indexname=INDEX_NAME)
    with ix.writer(procs=1, limitmb=128) as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(title.to_dict()))
    ix.close()
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)
    return windex.open_dir(str(path), indexname=INDEX_NAME)


class IndexWriter:
    """Applies upserts and deletions in one Whoosh commit; raises `Conflict` if another process writes."""

    def __init__(self, ix: Index) -> None:
        self.ix = ix

    def apply(self, upserts: Iterable[dict[str, Any]], deletions: Iterable[str]) -> None:
        try:
            writer = self.ix.writer(timeout=2.0)
        except LockError as exc:
            raise Conflict("The search index is being written by another process.",
                           hint="the running server keeps it up to date") from exc
        try:
            for video_id in deletions:
                writer.delete_by_term("video_id", video_id)
            for title in upserts:
                writer.update_document(**document(title))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
