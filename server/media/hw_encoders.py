"""Which encoder each codec of the ladder gets: a hardware one (NVENC, VAAPI, QSV) when this ffmpeg
lists it AND it encodes one probe frame, else the software one, with the reason kept for the job.

A listed hardware encoder proves only that ffmpeg was built with it: the GPU, its driver or the
device node may still be missing (every Debian ffmpeg lists h264_nvenc), so the probe decides.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from server.errors import ToolMissing
from server.media.codecs import CODECS
from server.media.ffmpeg import Tools
from server.media.model import Rendition

log = logging.getLogger(__name__)

# Per codec, the hardware encoders to try in order, each with the arguments its probe needs
# (VAAPI wants frames uploaded to the device; QSV and NVENC take system memory).
HARDWARE: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "h264": (("h264_nvenc", ()), ("h264_qsv", ()),
             ("h264_vaapi", ("-vaapi_device", "/dev/dri/renderD128", "-vf", "format=nv12,hwupload"))),
    "hevc": (("hevc_nvenc", ()), ("hevc_qsv", ()),
             ("hevc_vaapi", ("-vaapi_device", "/dev/dri/renderD128", "-vf", "format=nv12,hwupload"))),
    "av1": (("av1_nvenc", ()), ("av1_qsv", ()),
            ("av1_vaapi", ("-vaapi_device", "/dev/dri/renderD128", "-vf", "format=nv12,hwupload"))),
}
PROBE_TIMEOUT_S = 20
_COMPONENT = re.compile(r"\[[\w-]+ @ 0x[0-9a-f]+\] ")

Prober = Callable[[list[str]], tuple[bool, str]]


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder one codec's rungs get, and why (for the job's notes)."""

    codec: str
    encoder: str
    hardware: bool
    reason: str


def listed_encoders(tools: Tools) -> frozenset[str]:
    """Every encoder name `ffmpeg -encoders` lists."""
    return _listed(tools.ffmpeg)


@lru_cache(maxsize=4)
def _listed(ffmpeg: str) -> frozenset[str]:
    out = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True,
                         check=False, timeout=PROBE_TIMEOUT_S).stdout
    return parse_encoder_list(out)


def parse_encoder_list(text: str) -> frozenset[str]:
    """Encoder names from `ffmpeg -encoders` output (` V....D libx264  libx264 H.264 …`)."""
    names = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS" and parts[1] != "=":
            names.add(parts[1])
    return frozenset(names)


def require_encoders(tools: Tools, codecs: Sequence[str]) -> None:
    """Refuse, before any work, a codec whose software encoder this ffmpeg lacks, naming both."""
    listed = listed_encoders(tools)
    for name in codecs:
        encoder = CODECS[name].encoder
        if encoder not in listed:
            raise ToolMissing(f"the {CODECS[name].label} ladder needs ffmpeg's {encoder} encoder, "
                              f"which {tools.ffmpeg} does not have.",
                              hint=f"install an ffmpeg built with {encoder}, or leave {name} out of "
                                   "MINIFLIX_CODECS / --codecs")


def probe_args(tools: Tools, encoder: str, extra: Sequence[str]) -> list[str]:
    """One 256x256 black frame through `encoder`, output thrown away: does the device really work?"""
    return [tools.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", *extra[:2],
            "-f", "lavfi", "-i", "color=black:size=256x256:rate=1", *extra[2:],
            "-frames:v", "1", "-c:v", encoder, "-f", "null", "-"]


def run_probe(args: list[str]) -> tuple[bool, str]:
    """(succeeded, ffmpeg's last error line) of one probe encode."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, probe_failure(done.stderr) or f"exit {done.returncode}"


def probe_failure(stderr: str) -> str:
    """The line that says why: a component's own message (`[h264_nvenc @ 0x…] Cannot load
    libcuda.so.1`, the device's), not ffmpeg's generic "Error initializing output stream" after it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    own = [_COMPONENT.sub("", line) for line in lines if _COMPONENT.match(line)]
    return own[0] if own else (lines[-1] if lines else "")


def choose_encoder(tools: Tools, codec: str, prober: Prober = run_probe) -> EncoderChoice:
    """The first listed hardware encoder whose probe succeeds, else the software one and why."""
    software = CODECS[codec].encoder
    listed = listed_encoders(tools)
    failures = []
    for encoder, extra in HARDWARE.get(codec, ()):
        if encoder not in listed:
            continue
        ok, detail = prober(probe_args(tools, encoder, extra))
        if ok:
            return EncoderChoice(codec, encoder, True, f"{CODECS[codec].label}: hardware encoder {encoder}")
        failures.append(f"{encoder}: {detail}")
    why = ("hardware encoders listed but their probe encode failed: " + "; ".join(failures)
           if failures else "no hardware encoder listed by this ffmpeg")
    label = CODECS[codec].label
    return EncoderChoice(codec, software, False, f"{label}: software encoder {software} ({why})")


_CHOSEN: dict[tuple[str, str], EncoderChoice] = {}


def chosen_encoder(tools: Tools, codec: str) -> EncoderChoice:
    """`choose_encoder` once per ffmpeg and codec in this process: the probes cost ~0.3 s each, and
    a GPU does not appear or vanish between two ingests."""
    key = (tools.ffmpeg, codec)
    if key not in _CHOSEN:
        _CHOSEN[key] = choose_encoder(tools, codec)
        log.info("%s", _CHOSEN[key].reason)
    return _CHOSEN[key]


def with_encoders(renditions: Sequence[Rendition], choices: Sequence[EncoderChoice]) -> list[Rendition]:
    """The rungs with the hardware encoder of their codec set (software ones stay as they are)."""
    chosen = {c.codec: c.encoder for c in choices if c.hardware}
    return [replace(r, encoder=chosen[r.codec]) if r.codec in chosen else r for r in renditions]
