"""What goes into the PyInstaller bundle besides Python code: ffmpeg, libvlc, VLC plugins, resources.

Shared by `miniflix.spec` (which PyInstaller executes) and `build.py`, so both agree on names.
Every function returns PyInstaller TOC tuples `(source, destination folder inside _internal)`.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = "miniflix"
DISPLAY_NAME = "MiniFlix Studio"
TOOLS_DIR = "tools"  # ffmpeg and ffprobe inside _internal/
VLC_DIR = "vlc"  # libvlc's plugins inside _internal/vlc/plugins
SONAME = re.compile(r"/libvlc(core)?\.so\.\d+$")
VLC_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")

# Qt modules the studio never imports: leaving them out keeps ~400 MB of Qt out of the bundle.
QT_EXCLUDES = [f"PySide6.{m}" for m in (
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel", "QtWebSockets",
    "QtWebView", "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras",
    "QtQuick3D", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQml", "QtPdf", "QtPdfWidgets",
    "QtDesigner", "QtUiTools", "QtHelp", "QtBluetooth", "QtNfc", "QtPositioning", "QtLocation",
    "QtSensors", "QtSerialPort", "QtSerialBus", "QtSql", "QtTest", "QtTextToSpeech", "QtCharts",
    "QtDataVisualization", "QtGraphs", "QtGraphsWidgets", "QtScxml", "QtStateMachine",
    "QtRemoteObjects", "QtHttpServer", "QtSpatialAudio", "QtSvgWidgets", "QtConcurrent",
    "QtNetworkAuth", "QtCanvasPainter", "QtAxContainer")]
# pyarrow parts no command uses (Flight RPC, cloud filesystems, Substrait, CUDA, Gandiva, ORC).
ARROW_EXCLUDES = [f"pyarrow.{m}" for m in (
    "flight", "_flight", "_s3fs", "_gcsfs", "_azurefs", "_hdfs", "substrait", "_substrait", "cuda",
    "_cuda", "gandiva", "orc", "_orc", "tests", "benchmark", "interchange")]
DEV_EXCLUDES = ["tkinter", "_tkinter", "pytest", "pytestqt", "_pytest", "mypy", "ruff", "IPython",
                "pandas", "numpy", "matplotlib", "setuptools", "pip", "PyInstaller", "adbc_driver_duckdb"]
EXCLUDES = QT_EXCLUDES + ARROW_EXCLUDES + DEV_EXCLUDES

# Qt shared libraries that the modules above drag in through plugins (platform themes, image
# formats) although nothing here uses them; PyInstaller's binary filter drops these names.
QT_LIB_DROP = ("libQt6Quick", "libQt6Qml", "libQt6Pdf", "libQt6WebEngine", "libQt63D", "libQt6Designer",
               "libQt6VirtualKeyboard", "libQt6ShaderTools", "libQt6Wayland")


def tool(name: str) -> Path:
    """ffmpeg/ffprobe to bundle: `MINIFLIX_BUNDLE_<NAME>` if set, else the one on PATH."""
    chosen = os.environ.get(f"MINIFLIX_BUNDLE_{name.upper()}") or shutil.which(name)
    if not chosen:
        sys.exit(f"{name} was not found on PATH; install it (apt-get install ffmpeg) or set "
                 f"MINIFLIX_BUNDLE_{name.upper()}.")
    return Path(chosen).resolve()


def ffmpeg_binaries() -> list[tuple[str, str]]:
    """ffmpeg and ffprobe; PyInstaller collects the shared libraries they link against."""
    return [(str(tool(name)), TOOLS_DIR) for name in ("ffmpeg", "ffprobe")]


def vlc_lib_dir() -> Path:
    for folder in VLC_LIB_DIRS:
        if glob.glob(os.path.join(folder, "libvlc.so.*")) and os.path.isdir(os.path.join(folder, "vlc")):
            return Path(folder)
    sys.exit("libvlc was not found; install it (apt-get install vlc-bin vlc-plugin-base libvlc-dev).")


def vlc_binaries() -> list[tuple[str, str]]:
    """libvlc, libvlccore and every plugin (each keeps its sub-folder under vlc/plugins)."""
    lib = vlc_lib_dir()
    # By SONAME (libvlc.so.5, libvlccore.so.9): the names the loader and plugins look for.
    found = [(p, ".") for p in sorted(glob.glob(str(lib / "libvlc*.so.*"))) if SONAME.search(p)]
    plugins = lib / "vlc" / "plugins"
    for path in sorted(plugins.rglob("*.so")):
        found.append((str(path), f"{VLC_DIR}/plugins/{path.parent.relative_to(plugins)}"))
    return found


def resource_datas() -> list[tuple[str, str]]:
    """The browser test page and its hls.js, the icon; found at `_internal/resources/…` like in the tree."""
    web = ROOT / "resources" / "web"
    hls = web / "node_modules" / "hls.js" / "dist" / "hls.min.js"
    if not hls.is_file():
        sys.exit(f"{hls} is missing; run `make setup` first (it installs hls.js with npm).")
    return [(str(web / "player.html"), "resources/web"), (str(hls), "resources/web/node_modules/hls.js/dist"),
            (str(ROOT / "packaging" / "resources" / "miniflix.png"), "resources")]


def keep_binary(dest: str) -> bool:
    """False for Qt libraries of modules the studio does not use (see QT_LIB_DROP)."""
    name = os.path.basename(dest)
    return not name.startswith(QT_LIB_DROP)
