"""A lone edge in its own process, so a test can measure that process's memory while it serves.

Run as `python -m tests.cdn.edge_process ORIGIN CACHE_DIR CAPACITY_BYTES` (ORIGIN: a blob store
directory, or an `http://` origin URL): prints the port as one JSON line, serves until stdin closes.
Tokens are signed with `KEY`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from server.cdn.edge import EdgeNode
from server.cdn.origin import HttpOrigin, OriginClient, StoreOrigin
from server.cdn.tokens import Signer
from server.cdn.topology import EdgeSpec
from server.storage.blobstore import LocalBlobStore

KEY = b"m" * 32


def main(argv: list[str]) -> None:
    origin_at, cache_dir, capacity = argv
    origin: OriginClient = (HttpOrigin(origin_at, timeout=30) if origin_at.startswith("http://")
                            else StoreOrigin(LocalBlobStore(origin_at)))
    spec = EdgeSpec("mem-1", "eu-west", 51.5, -0.1, rtt_ms=0, bandwidth_mbps=None,
                    capacity_bytes=int(capacity), ttl_s=60, policy="lru")
    edge = EdgeNode(spec, origin, Path(cache_dir), Signer(KEY))
    print(json.dumps({"port": edge.start()}), flush=True)
    sys.stdin.read()
    edge.close()


if __name__ == "__main__":
    main(sys.argv[1:])
