"""A static origin server on loopback for edges that pull over HTTP: plain (ignores Range, like
`python -m http.server`) or Range-aware (answers one `bytes=a-b` with 206, as the app's /origin does),
recording the Range headers it was asked."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE = re.compile(r"bytes=(\d+)-(\d+)")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


class RangeHandler(QuietHandler):
    """Serves one closed byte range with 206 (seeking, so a far range reads nothing before it)."""

    asked: list[str]

    def do_GET(self) -> None:
        found = RANGE.fullmatch(self.headers.get("Range", ""))
        self.asked.append(self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if found is None or not path.is_file():
            super().do_GET()
            return
        start, end, size = int(found[1]), int(found[2]), path.stat().st_size
        end = min(end, size - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := f.read(min(left, 1 << 20))):
                self.wfile.write(chunk)
                left -= len(chunk)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return None      # an edge that learnt a size and hung up is not an error


@contextmanager
def origin_server(root: Path, ranges: bool) -> Iterator[tuple[str, list[str]]]:
    """(base URL, Range headers asked so far) of a server on `root` until the block ends."""
    asked: list[str] = []
    handler_class = type("Handler", (RangeHandler,), {"asked": asked}) if ranges else QuietHandler
    server = QuietServer(("127.0.0.1", 0), functools.partial(handler_class, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
