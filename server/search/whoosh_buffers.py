"""A fix for Whoosh 2.7.4's compound segments: reading one copied the whole file into memory.

A Whoosh segment is written as one compound file (`.seg`), which a reader maps into memory and
hands out in parts (the postings, the stored fields, the term list) as `BufferFile`s over slices
of the map. `BufferFile.__init__` also wraps its slice in `io.BytesIO`, for the few reads made as
from a file, and `BytesIO` copies what it is given unless it is a `bytes` object. So opening a
searcher copied the postings and the term list (650 MB for 10,000 hours of speech), and the first
stored-fields read the stored column (366 MB more, 230 ms in that query): a cue index of 1 GB on
disk cost 2.1 GB of memory per searcher, 4.2 GB while the service swaps a new searcher in. Here the
file-like reads are served from the slice itself (`ViewFile`): the map's pages are read from the
page cache as they are touched, and shared between searchers.

Imported for its effect by the modules that open indexes (`server.search.index`, `server.search.cues`).
"""

from __future__ import annotations

import io
from typing import Any

from whoosh.filedb import structfile

PEEK = 1024  # bytes `ViewFile.peek` returns: a posting block's header is a few hundred


class ViewFile:
    """The read-only file interface `StructFile` uses (read, readline, seek, tell), over a
    memoryview, without copying it: each read returns the bytes read, as a file's would."""

    def __init__(self, buf: Any) -> None:
        self._buf = memoryview(buf)
        self._size = len(self._buf)
        self._pos = 0
        self.closed = False

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = self._size if size is None or size < 0 else min(self._size, start + size)
        if end <= start:
            return b""
        self._pos = end
        return self._buf[start:end].tobytes()

    def peek(self, size: int = 0) -> bytes:
        """Up to `PEEK` bytes from here, not moving: `pickle.load` (Whoosh reads each posting
        block's header with it) then reads a header in one call instead of one per opcode."""
        return self._buf[self._pos:self._pos + PEEK].tobytes()

    def readline(self, size: int | None = -1) -> bytes:
        start = self._pos
        stop = self._size if size is None or size < 0 else min(self._size, start + size)
        end = start
        while end < stop:  # in pieces: a line is short, the buffer may be a gigabyte
            piece = bytes(self._buf[end:min(stop, end + 4096)])
            found = piece.find(b"\n")
            if found >= 0:
                return self.read(end - start + found + 1)
            end += len(piece)
        return self.read(stop - start)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            offset += self._pos if whence == io.SEEK_CUR else self._size
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def __iter__(self) -> Any:
        while line := self.readline():
            yield line

    def close(self) -> None:
        self.closed = True
        self._buf.release()


def _init(self: structfile.BufferFile, buf: Any, name: str | None = None, onclose: Any = None) -> None:
    """Whoosh's `BufferFile.__init__`, with the slice read in place rather than copied."""
    self._buf = buf
    self._name = name
    self.file = ViewFile(buf)
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


structfile.BufferFile.__init__ = _init
