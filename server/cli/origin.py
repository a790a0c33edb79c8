"""`miniflix origin migrate --to s3://BUCKET?endpoint=… [--from file]`: copy the published titles
of one origin into another (a data dir's folder to S3, or back with `--from s3://… --to file`),
verified object by object (size and SHA-256), progress on stderr; a rerun copies only what is
missing or different."""

from __future__ import annotations

import argparse
import sys

from server.backends import ORIGINS
from server.cli import add_data_dir
from server.errors import MiniflixError
from server.paths import DataDir
from server.registry import BadSetting, Registry, build
from server.storage.blobstore import BlobStore


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subs.add_parser("origin", help="'origin migrate --to s3://BUCKET?endpoint=…' copies the "
                        "published titles into another origin, verified object by object")
    p.add_argument("action", choices=["migrate"],
                   help="migrate: copy every title from --from into --to (rerun it safely: titles "
                   "already there and identical are not copied again)")
    add_data_dir(p)
    p.add_argument("--to", required=True, metavar="ORIGIN",
                   help="where to copy: s3://BUCKET?endpoint=http://HOST:PORT, or file")
    p.add_argument("--from", dest="source", default="file", metavar="ORIGIN",
                   help="where to copy from (default: file, the data dir's origin folder)")
    p.set_defaults(func=run_origin)


def run_origin(args: argparse.Namespace) -> int:
    from server.storage.migrate import migrate

    if args.to.strip() == args.source.strip():
        print("error: --from and --to name the same origin.", file=sys.stderr)
        return 2
    data = DataDir.resolve(args.data_dir)
    try:
        source, dest = open_origin("--from", args.source, data), open_origin("--to", args.to, data)
    except BadSetting as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = migrate(source, dest, data.work / "origin-migrate",
                         lambda line: print(f"origin migrate: {line}", file=sys.stderr, flush=True))
    except MiniflixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(report.copied)} title(s) copied ({report.objects} objects, {report.bytes / 1e6:.1f} MB), "
          f"{len(report.present)} already there; every object verified (size and SHA-256).")
    if args.to.strip() != "file":
        print(f"Set MINIFLIX_ORIGIN={args.to} to serve from it.")
    return 0


def open_origin(flag: str, raw: str, data: DataDir) -> BlobStore:
    """The origin a flag names, built like the `origin` setting (a bad one is a `BadSetting`
    naming the flag)."""
    registry: Registry[BlobStore] = Registry(flag)
    registry.backends = ORIGINS.backends
    url = registry.parse(raw)
    return build(url, registry.factory(url), registry.is_bare(url), data)
