"""MiniFlix Studio composition root: parse arguments, build services, start the GUI or a command."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Modules outside the engine that add sub-commands (they import flask or PySide6 lazily).
FRONTEND_COMMANDS = ("server.http.cli", "studio.cli")


def _available(modules: Sequence[str]) -> list[str]:
    from importlib.util import find_spec

    return [m for m in modules if find_spec(m) is not None]


def main(argv: Sequence[str] | None = None) -> int:
    from server.cli import UsageError, build_parser

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_available(FRONTEND_COMMANDS))
    try:
        args = parser.parse_args(argv or ["start"])
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\nInterrupted; unfinished work stays resumable.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
