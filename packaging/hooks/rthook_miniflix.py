"""PyInstaller runtime hook: point the app at the ffmpeg, ffprobe and libvlc inside the bundle.

Runs before main.py. python-vlc has no hook of its own, so libvlc is found through
PYTHON_VLC_LIB_PATH and its plugins through PYTHON_VLC_MODULE_PATH / VLC_PLUGIN_PATH. The settings
registry reads MINIFLIX_FFMPEG / MINIFLIX_FFPROBE, and MINIFLIX_FFMPEG_VMAF for the static ffmpeg with
libvmaf that measures quality. A value the user already set wins.
"""

import os
import sys

_here = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
_exe = ".exe" if sys.platform == "win32" else ""
_vlc_lib = {"win32": "libvlc.dll", "darwin": "libvlc.dylib"}.get(sys.platform, "libvlc.so.5")
_bundled = {
    "MINIFLIX_FFMPEG": os.path.join(_here, "tools", "ffmpeg" + _exe),
    "MINIFLIX_FFPROBE": os.path.join(_here, "tools", "ffprobe" + _exe),
    "MINIFLIX_FFMPEG_VMAF": os.path.join(_here, "tools", "vmaf", "ffmpeg" + _exe),
    "PYTHON_VLC_LIB_PATH": os.path.join(_here, _vlc_lib),
    "PYTHON_VLC_MODULE_PATH": os.path.join(_here, "vlc", "plugins"),
    "VLC_PLUGIN_PATH": os.path.join(_here, "vlc", "plugins"),
}
for _name, _path in _bundled.items():
    if os.path.exists(_path):
        os.environ.setdefault(_name, _path)
if sys.platform.startswith("linux"):
    # The bundled ffmpeg finds its libraries here, also if the bootloader's LD_LIBRARY_PATH was reset.
    _paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    if _here not in _paths:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join([_here, *_paths])
