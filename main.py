"""MiniFlix Studio composition root: parse arguments, build services, start the GUI or a command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

# Modules outside the engine that add sub-commands (they import flask or PySide6 lazily).
FRONTEND_COMMANDS = ("server.http.cli", "studio.cli")


def _available(modules: Sequence[str]) -> list[str]:
    from importlib.util import find_spec

    return [m for m in modules if find_spec(m) is not None]


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in (
        "win32", "darwin")


def start(args: object) -> int:
    """No sub-command: the studio window, or with no display the server and a demo ingest."""
    from server.http.headless import run_headless
    from server.paths import DataDir

    data = DataDir.resolve(getattr(args, "data_dir", None))
    if has_display() and _available(["studio.app"]):
        return _studio(data, getattr(args, "server", None))
    reason = ("the studio window is not part of this build" if has_display() else
              "no display found ($DISPLAY and $WAYLAND_DISPLAY are unset)")
    print(f"MiniFlix: {reason}; running the server and a demo ingest headless.", flush=True)
    return run_headless(data)


def _studio(data: Any, server_url: str | None) -> int:
    """The studio window on an embedded server, or attached to `server_url`."""
    from studio.app import run_studio

    if server_url:
        return run_studio(server_url)
    from server.http.embedded import start_embedded

    server = start_embedded(data)
    try:
        return run_studio(server.url)
    finally:
        server.stop()


def register_start(subs: Any) -> None:
    p = subs.add_parser("start", help="start the studio (the default); without a display, the "
                        "server and a demo ingest")
    p.add_argument("--data-dir", help="data directory")
    p.add_argument("--server", help="attach the studio to a running server at this URL")
    p.set_defaults(func=start)


def smoke_test(argv: list[str]) -> int:
    """`miniflix --smoke-test [--data-dir DIR]`: an installed build checks itself (studio/smoke.py).

    The studio runs offscreen on an embedded server with a fresh sample clip; without --data-dir
    everything lives in a temporary dir that is removed afterwards.
    """
    import tempfile

    from server.errors import MiniflixError
    from server.http.embedded import start_embedded
    from server.media.sample import make_sample_clip
    from server.paths import DataDir

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    given = argv[argv.index("--data-dir") + 1] if "--data-dir" in argv[:-1] else None
    with tempfile.TemporaryDirectory(prefix="miniflix-smoke-") as tmp:
        data = DataDir.resolve(given or tmp)
        try:
            clip = make_sample_clip(data.uploads / "smoke-test.mp4", seconds=4)
        except MiniflixError as exc:
            print(f"smoke test FAILED: {exc}", file=sys.stderr)
            return 1
        server = start_embedded(data)
        try:
            from studio.smoke import run_smoke

            return run_smoke(server.url, clip)
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    from server.cli import UsageError, build_parser

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--smoke-test" in argv:
        return _run(lambda: smoke_test(argv))
    parser = build_parser(_available(FRONTEND_COMMANDS), [register_start])
    try:
        args = parser.parse_args(argv or ["start"])
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return _run(lambda: int(args.func(args) or 0))


def _run(command: Callable[[], int]) -> int:
    """Run `command` once the backend settings are known to be usable (a bad one exits 2, naming it)."""
    from server.engine import check_settings
    from server.registry import BadSetting

    try:
        check_settings()
        return command()
    except BadSetting as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; unfinished work stays resumable.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
