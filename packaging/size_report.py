"""Where the built app's megabytes go, by the part of the app that needs them.

    python packaging/size_report.py [--app packaging/dist/miniflix]

Files are put in a part by where they sit inside `_internal/` (PySide6/ → Qt, vlc/ and libvlc* →
VLC, tools/ and the FFmpeg libraries → FFmpeg, …). Every other library at the top of `_internal/`
belongs to the part whose binaries link it (`ldd`, bundle first on the library path), or to
"shared" when several parts do. Each file counts once; symlinks count nothing. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = "system libraries shared by several parts"
UNLINKED = "other libraries (loaded by name)"
# (part, pattern on the path inside _internal/), first match wins.
PARTS: list[tuple[str, re.Pattern[str]]] = [
    ("Qt + PySide6", re.compile(r"^(PySide6|shiboken6)/")),
    ("FFmpeg: ffmpeg/ffprobe and their libraries",
     re.compile(r"^(tools/|lib(avcodec|avformat|avfilter|avdevice|avutil|swscale|swresample|postproc)"
                r"\.so|libx264\.so|libzimg\.so)")),
    ("VLC: libvlc, libvlccore, plugins", re.compile(r"^(vlc/|libvlc(core)?\.so)")),
    ("DuckDB", re.compile(r"^_?duckdb")),
    ("pyarrow", re.compile(r"^pyarrow/")),
    ("Python runtime, stdlib, app code", re.compile(r"^(libpython|base_library\.zip|python3\.\d+/"
                                                    r"|lib-dynload/|[^/]+\.py|[^/]*\.(pyz|pkg)$|resources/"
                                                    r"|[^/]+\.(dist|egg)-info/)")),
]


def part_of(rel: str) -> str | None:
    return next((name for name, pattern in PARTS if pattern.search(rel)), None)


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def linked_names(path: Path, internal: Path) -> set[str]:
    """File names of the libraries `path` loads from the bundle (directly or not)."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env, check=False).stdout
    return {Path(line.split("=>")[1].split()[0]).name for line in out.splitlines()
            if "=> " + str(internal) in line}


def breakdown(app: Path) -> dict[str, int]:
    """Bytes per part of the app folder (see the module docstring for the rules); the launcher and
    the files beside it count as the Python runtime."""
    internal = app / "_internal"
    sizes: dict[str, int] = defaultdict(int)
    users: dict[str, set[str]] = defaultdict(set)
    orphans: dict[str, int] = {}
    for path in sorted(p for p in app.rglob("*") if p.is_file() and not p.is_symlink()):
        size = path.stat().st_size
        rel = path.relative_to(internal).as_posix() if internal in path.parents else f"../{path.name}"
        part = part_of(rel)
        if part is None and ".so" in path.name and "/" not in rel:
            orphans[path.name] = size
            continue
        sizes[part or "Python runtime, stdlib, app code"] += size
        if part and is_elf(path):
            for name in linked_names(path, internal):
                users[name].add(part)
    for name, size in orphans.items():
        owners = users.get(name, set())
        sizes[owners.pop() if len(owners) == 1 else SHARED if owners else UNLINKED] += size
    return dict(sizes)


def markdown(sizes: dict[str, int]) -> str:
    rows = [f"| {part} | {size / 2**20:.0f} |" for part, size in sorted(sizes.items(), key=lambda kv: -kv[1])
            if size]
    total = f"| **total** | **{sum(sizes.values()) / 2**20:.0f}** |"
    return "\n".join(["| part | MB |", "|---|---:|", *rows, total])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=HERE / "dist" / "miniflix")
    args = parser.parse_args(argv)
    if not (args.app / "_internal").is_dir():
        print(f"no built app in {args.app}; run `make package` first", file=sys.stderr)
        return 2
    print(markdown(breakdown(args.app)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
