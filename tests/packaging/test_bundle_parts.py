"""The bundle's parts list and runtime hook, checked against real files (no PyInstaller build)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import bundle  # noqa: E402

HOOK = ROOT / "packaging" / "hooks" / "rthook_miniflix.py"
QT = Path(next(iter(importlib.util.find_spec("PySide6").submodule_search_locations or []))) / "Qt"  # type: ignore[union-attr]


def run_hook(meipass: Path, **env: str) -> dict[str, str]:
    """Execute the runtime hook as a frozen app would (sys._MEIPASS set), return what it exported."""
    code = (f"import sys, os, json; sys._MEIPASS = {str(meipass)!r}; sys.platform = 'linux'\n"
            f"exec(open({str(HOOK)!r}).read()); print(json.dumps(dict(os.environ)))")
    clean = {"PATH": os.environ["PATH"], **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean, check=True)
    return json.loads(done.stdout)


def fake_bundle(tmp_path: Path) -> Path:
    internal = tmp_path / "_internal"
    (internal / "tools").mkdir(parents=True)
    (internal / "vlc" / "plugins").mkdir(parents=True)
    for name in ("tools/ffmpeg", "tools/ffprobe", "libvlc.so.5"):
        (internal / name).write_bytes(b"")
    return internal


def test_the_runtime_hook_points_the_app_at_the_bundled_ffmpeg_and_libvlc(tmp_path: Path) -> None:
    internal = fake_bundle(tmp_path)
    env = run_hook(internal, LD_LIBRARY_PATH="/somewhere")
    assert env["MINIFLIX_FFMPEG"] == str(internal / "tools" / "ffmpeg")
    assert env["MINIFLIX_FFPROBE"] == str(internal / "tools" / "ffprobe")
    assert env["PYTHON_VLC_LIB_PATH"] == str(internal / "libvlc.so.5")
    assert env["PYTHON_VLC_MODULE_PATH"] == env["VLC_PLUGIN_PATH"] == str(internal / "vlc" / "plugins")
    assert env["LD_LIBRARY_PATH"].split(os.pathsep) == [str(internal), "/somewhere"]


def test_a_tool_the_user_chose_wins_and_missing_parts_are_not_pointed_at(tmp_path: Path) -> None:
    internal = fake_bundle(tmp_path)
    (internal / "libvlc.so.5").unlink()
    env = run_hook(internal, MINIFLIX_FFMPEG="/opt/ffmpeg7/bin/ffmpeg")
    assert env["MINIFLIX_FFMPEG"] == "/opt/ffmpeg7/bin/ffmpeg"
    assert "PYTHON_VLC_LIB_PATH" not in env


def test_qt_modules_the_studio_imports_are_never_excluded() -> None:
    used = bundle.qt_modules_used()
    assert {"QtCore", "QtWidgets", "QtMultimedia"} <= used
    assert not [m for m in bundle.excludes() if m.startswith("PySide6.") and m.split(".")[1] in used]
    assert "PySide6.QtWebEngineCore" in bundle.excludes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd-based pruning is Linux-only")
def test_dropping_qts_gtk_theme_also_drops_gtk_but_keeps_what_qt_itself_links() -> None:
    gtk_plugin = QT / "plugins" / "platformthemes" / "libqgtk3.so"
    core = QT / "lib" / "libQt6Core.so.6"
    gtk_libs = bundle.linked_libraries(str(gtk_plugin))
    core_libs = bundle.linked_libraries(str(core))
    qtcore_module = QT.parent / "QtCore.abi3.so"
    toc = [("PySide6/Qt/plugins/platformthemes/libqgtk3.so", str(gtk_plugin), "BINARY"),
           ("PySide6/QtCore.abi3.so", str(qtcore_module), "EXTENSION"),
           ("PySide6/Qt/lib/libQt6Core.so.6", str(core), "BINARY")]
    toc += [(name, f"/usr/lib/{name}", "BINARY") for name in sorted(gtk_libs | core_libs)]
    kept = {entry[0] for entry in bundle.drop_unused(toc)}
    assert "libgtk-3.so.0" in gtk_libs and "libgtk-3.so.0" not in kept
    assert "PySide6/Qt/plugins/platformthemes/libqgtk3.so" not in kept
    assert {"PySide6/Qt/lib/libQt6Core.so.6", "PySide6/QtCore.abi3.so"} <= kept
    assert {n for n in core_libs if n in gtk_libs} <= kept  # shared with Qt Core: stays


def test_no_module_the_app_depends_on_is_left_out_of_the_bundle() -> None:
    """A core dependency in `bundle.excludes()` would make the frozen app fail where it imports it
    (numpy, once a development-only exclude, became the search ranking's dependency). Read from
    pyproject.toml, not the installed metadata, which is as old as the last `pip install -e`."""
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return name.lower().replace("_", "-")

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {norm(Requirement(r).name) for r in project["dependencies"]}
    shipped = {module for module, dists in packages_distributions().items()
               if any(norm(d) in core for d in dists)}
    assert "whoosh" in shipped and "duckdb" in shipped
    # DuckDB's wheel also carries an ADBC driver nothing here loads
    assert sorted(set(bundle.excludes()) & shipped - {"adbc_driver_duckdb"}) == []
