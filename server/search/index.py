"""The Whoosh index on disk: opened whole or rebuilt from the catalog (the source of truth), and the
only code that writes it."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3Segment
from whoosh.index import Index
from whoosh.query import Every
from whoosh.util import IDCHARS
from whoosh.util.filelock import FileLock, try_for
from whoosh.writing import LockError, SegmentWriter

from server.catalog import PUBLISHED, Catalog
from server.errors import Conflict
from server.search import whoosh_buffers  # noqa: F401  (Whoosh copied each compound segment into memory)
from server.search.documents import document, make_schema
from server.search.indexing import TitleWriter
from server.search.postings import FastFieldWriter

log = logging.getLogger(__name__)
INDEX_NAME = "titles"
LOCK_WAIT_S = 2.0  # a commit takes milliseconds; longer means another process is busy with the index
BUSY = "The search index is being written by another process."
BUSY_HINT = "a server or a `main.py` command on the same data dir holds its lock"


class UniqueSegments(W3Codec):
    """Whoosh's codec, naming each new segment from the OS's randomness. Whoosh draws segment names
    from the process-wide `random`, which anything in the process may seed (Hypothesis reseeds it for
    every example): two commits then got one name, and the second tripped over the first's files."""

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        segid = "".join(secrets.choice(IDCHARS) for _ in range(16))
        return W3Segment(W3Codec(), indexname, segid=segid)  # the TOC then pickles Whoosh's own codec

    def field_writer(self, storage: Any, segment: Any) -> FastFieldWriter:
        """Whoosh's posting lists in its own format, written faster (`server.search.postings`)."""
        return FastFieldWriter(self, storage, segment)

    def per_document_reader(self, storage: Any, segment: Any) -> W3PerDocReader:
        """The reader a writer uses for field lengths while it writes a segment's postings."""
        return _LengthsOnce(storage, segment)


class _LengthsOnce(W3PerDocReader):
    """Remembers which length columns a new segment lacks. Whoosh asks for a field's length at every
    posting and, for a field without lengths (IDs, numbers, dates: about a third of a title's
    postings), looks for the column's file on disk each time: 16% of a rebuild went to those stats."""

    def _cached_reader(self, fieldname: str, column: Any) -> Any:
        if fieldname not in self._readers:
            self._readers[fieldname] = super()._cached_reader(fieldname, column)
        return self._readers[fieldname]


def open_index(path: Path, catalog: Catalog) -> tuple[Index, bool]:
    """The index at `path`, or a fresh one built from `catalog` if it is missing or damaged.
    Returns `(index, rebuilt)`. An index that looks damaged while another process writes it is
    opened again once that writer is done (it may have been mid-commit), never rebuilt under it."""
    with contextlib.suppress(Exception):
        return _open_checked(path), False
    with write_lock(path):
        try:
            return _open_checked(path), False
        except Exception as exc:  # any damage (missing files, garbage, wrong schema) means: rebuild
            reason = f"damaged ({exc!r})" if any(path.glob(f"_{INDEX_NAME}_*.toc")) else "missing"
            log.warning("search index at %s is %s; rebuilding it from the catalog", path, reason)
            return rebuild(path, catalog, locked=True), True


def _open_checked(path: Path) -> Index:
    ix = windex.open_dir(str(path), indexname=INDEX_NAME)
    check(ix)
    return ix


def check(ix: Index) -> None:
    """Touch the schema, every segment's stored fields and the sort columns, so damage shows now."""
    if set(ix.schema.names()) != set(make_schema().names()):
        raise ValueError("schema changed")
    with ix.searcher() as searcher:
        searcher.search(Every(), limit=1, sortedby="upload_date")
        for reader, _ in searcher.reader().leaf_readers():
            if reader.doc_count_all():
                reader.stored_fields(0)


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the index's own write lock (the one every Whoosh writer takes), waiting `LOCK_WAIT_S`;
    raises `Conflict` if another process keeps it."""
    path.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path / f"{INDEX_NAME}_WRITELOCK"))
    if not try_for(lock.acquire, timeout=LOCK_WAIT_S, delay=0.05):
        raise Conflict(BUSY, hint=BUSY_HINT + "; try again in a moment")
    try:
        yield
    finally:
        lock.release()


def rebuild(path: Path, catalog: Catalog, *, locked: bool = False) -> Index:
    """A new index holding every published title, swapped in for whatever was at `path` while its
    write lock is held (`locked`: the caller holds it already), so no writer loses a commit to it."""
    if not locked:
        with write_lock(path):
            return rebuild(path, catalog, locked=True)
    staging = path.with_name(path.name + ".rebuild")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    ix = windex.create_in(str(staging), make_schema(), indexname=INDEX_NAME)
    with TitleWriter(ix, limitmb=128, codec=UniqueSegments()) as writer:
        for title in catalog.list(PUBLISHED):
            writer.add_document(**document(vars(title)))  # read only: no deep copy (`to_dict`)
    ix.close()
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)
    return windex.open_dir(str(path), indexname=INDEX_NAME)


class IndexWriter:
    """Applies upserts and deletions in one Whoosh commit; raises `Conflict` if another process writes.
    A commit either lands whole or leaves the index as it was (Whoosh deletes the files of a failed
    one at the next commit), and never keeps the lock."""

    def __init__(self, ix: Index) -> None:
        self.ix = ix

    def apply(self, upserts: Iterable[dict[str, Any]], deletions: Iterable[str]) -> None:
        try:
            writer = TitleWriter(self.ix, timeout=LOCK_WAIT_S, codec=UniqueSegments())
        except LockError as exc:
            raise Conflict(BUSY, hint=BUSY_HINT) from exc
        try:
            for video_id in deletions:
                writer.delete_by_term("video_id", video_id)
            for title in upserts:
                writer.update_document(**document(title))
            writer.commit()
        except BaseException:
            _abandon(writer)
            raise


def _abandon(writer: SegmentWriter) -> None:
    """Close a writer whose work failed; its lock must not outlive it (the next writer would wait)."""
    if not writer.is_closed:
        with contextlib.suppress(Exception):
            writer.cancel()
    lock = writer.writelock
    if lock is not None and lock.fd is not None:
        lock.release()
