"""The one layering rule (ARCHITECTURE.md): engine never imports PySide6/flask; studio never
imports engine internals. Walks every import with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUI_OR_WEB = ("PySide6", "flask", "waitress", "vlc", "werkzeug")
ENGINE_INTERNALS = ("server.media", "server.jobs", "server.events", "server.storage", "server.cdn",
                    "server.analytics", "server.search", "server.catalog", "server.ingest")


def imports_of(path: Path) -> list[str]:
    """Every module name imported anywhere in the file (also inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def engine_files() -> list[Path]:
    return [p for p in (ROOT / "server").rglob("*.py") if "http" not in p.relative_to(ROOT).parts]


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(ROOT)} imports {name}" for p in files for name in imports_of(p)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_engine_imports_no_gui_or_web_framework() -> None:
    assert engine_files(), "no engine files found: the walk is broken"
    assert violations(engine_files(), GUI_OR_WEB) == []


def test_studio_imports_no_engine_internals() -> None:
    assert violations(list((ROOT / "studio").rglob("*.py")), ENGINE_INTERNALS) == []


@pytest.mark.parametrize("source, forbidden, expected", [
    ("import flask\n", GUI_OR_WEB, 1),
    ("def f():\n    from PySide6.QtCore import QObject\n", GUI_OR_WEB, 1),
    ("from server.media.probe import probe\n", ENGINE_INTERNALS, 1),
    ("from server.errors import MediaError\n", ENGINE_INTERNALS, 0),
])
def test_the_walker_catches_hidden_imports(tmp_path: Path, source: str,
                                           forbidden: tuple[str, ...], expected: int) -> None:
    f = tmp_path / "m.py"
    f.write_text(source)
    assert len([n for n in imports_of(f) if any(n.startswith(x) for x in forbidden)]) == expected
