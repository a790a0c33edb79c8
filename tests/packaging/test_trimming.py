"""What the bundle leaves out of VLC and how its size is attributed, on the system's real libraries
and VLC plugins (no PyInstaller build)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import bundle  # noqa: E402
import size_report  # noqa: E402

PLUGINS = bundle.vlc_lib_dir() / "vlc" / "plugins"
LIBS = bundle.vlc_lib_dir()


def plugin_entries(*names: str) -> list[bundle.Entry]:
    return [(f"vlc/plugins/{name}", str(PLUGINS / name), "BINARY") for name in names]


def test_every_heavy_vlc_plugin_named_for_dropping_exists_and_the_player_keeps_its_own() -> None:
    plugins = [p.relative_to(PLUGINS).as_posix() for p in PLUGINS.rglob("*.so")]
    for prefix in bundle.VLC_HEAVY:  # a typo would silently keep a heavy plugin
        assert any(p.startswith(prefix) for p in plugins), prefix
    kept = ("codec/libavcodec_plugin.so", "demux/libmp4_plugin.so", "demux/libadaptive_plugin.so",
            "video_output/libxcb_x11_plugin.so", "video_output/libgl_plugin.so",
            "video_output/libvdummy_plugin.so", "video_chroma/libswscale_plugin.so")
    assert not [e for e in plugin_entries(*kept) if bundle.is_dropped(e)]
    dropped = ("codec/libvaapi_plugin.so", "vdpau/libvdpau_avcodec_plugin.so", "demux/libavformat_plugin.so",
               "codec/libx265_plugin.so", "misc/libxml_plugin.so")
    assert all(bundle.is_dropped(e) for e in plugin_entries(*dropped))


def test_dropping_vlcs_xml_parser_drops_libxml2_and_icu_but_keeps_what_the_mp4_demuxer_links() -> None:
    xml, mp4 = plugin_entries("misc/libxml_plugin.so", "demux/libmp4_plugin.so")
    xml_libs = bundle.linked_libraries(xml[1]) - bundle.linked_libraries(mp4[1])
    assert {"libxml2.so.2", "libicudata.so.72"} <= xml_libs
    toc = [xml, mp4, *[(name, str(LIBS / name), "BINARY") for name in sorted(xml_libs | {"libz.so.1"})]]
    kept = {entry[0] for entry in bundle.drop_unused(toc)}
    assert kept == {"vlc/plugins/demux/libmp4_plugin.so", "libz.so.1"}


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.resolve(), target)


def test_a_library_counts_for_the_part_that_links_it_or_as_shared_when_several_do(tmp_path: Path) -> None:
    internal = tmp_path / "app" / "_internal"
    copy(LIBS / "libz.so.1", internal / "libz.so.1")
    copy(LIBS / "libpng16.so.16", internal / "vlc" / "plugins" / "codec" / "libpng_plugin.so")  # links libz
    copy(LIBS / "libz.so.1", internal / "libavcodec.so.59")
    zlib, png = (internal / "libz.so.1").stat().st_size, (LIBS / "libpng16.so.16").resolve().stat().st_size
    vlc, ffmpeg = "VLC: libvlc, libvlccore, plugins", "FFmpeg: ffmpeg/ffprobe and their libraries"
    assert size_report.breakdown(tmp_path / "app") == {vlc: png + zlib, ffmpeg: zlib}

    copy(LIBS / "libpng16.so.16", internal / "PySide6" / "Qt" / "plugins" / "imageformats" / "libpng.so")
    sizes = size_report.breakdown(tmp_path / "app")
    assert sizes[vlc] == png and sizes[size_report.SHARED] == zlib and sizes["Qt + PySide6"] == png
    assert "| **total** |" in size_report.markdown(sizes)
