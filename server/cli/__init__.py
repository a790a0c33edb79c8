"""Command-line front end of the engine: each module here adds sub-commands via `register()`.

A module `server/cli/<name>.py` defines `register(subparsers) -> None`, adding parsers whose
`func(args) -> int` runs the command. Discovery keeps modules independent of each other.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

from server import __version__


class UsageError(Exception):
    """Bad command-line usage; main exits 2 with the message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override,unused-ignore]
        self.print_usage()
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser(extra: Sequence[str] = (),
                 registrars: Sequence[Callable[[Any], None]] = ()) -> argparse.ArgumentParser:
    """The `miniflix` parser: every engine sub-command, `extra` modules' and `registrars`' own."""
    parser = _Parser(prog="miniflix", description="MiniFlix Studio: ingest, stream and analyse "
                     "videos on one machine. With no command, starts the studio.")
    parser.add_argument("--version", action="version", version=f"MiniFlix Studio {__version__}")
    subs = parser.add_subparsers(dest="command", parser_class=_Parser)
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in [*names, *extra]:
        module = importlib.import_module(name if "." in name else f"{__name__}.{name}")
        if hasattr(module, "register"):  # helpers such as the progress bar add no command
            module.register(subs)
    for registrar in registrars:
        registrar(subs)
    return parser


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """The `--data-dir` flag every command shares."""
    parser.add_argument("--data-dir", help="data directory (default: $MINIFLIX_DATA_DIR, "
                        "else the platform's user data dir)")
