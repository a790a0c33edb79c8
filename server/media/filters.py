"""The normalisation filter chain, as pure functions from probe facts to filtergraph text.

One decode feeds every rung: the shared part (deinterlace → constant frame rate → tone-map → pad
the tail) runs once, then `split` gives each rung its own scale to square pixels, 8-bit yuv420p,
limited range. Rotation is applied by ffmpeg's autorotate in front of this graph (see encode.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from server.media.model import Rendition, VideoInfo

# zscale's names for the transfers ffprobe reports; only PQ and HLG need a tone-mapping operator.
ZSCALE_TRANSFER = {"smpte2084": "smpte2084", "arib-std-b67": "arib-std-b67", "bt2020-10": "2020_10",
                   "bt2020-12": "2020_12", "bt709": "709"}
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")


def deinterlace(video: VideoInfo) -> list[str]:
    """bwdif, one frame out per frame in (keeps the frame rate; field-rate output would double work)."""
    return ["bwdif=mode=send_frame:parity=auto:deint=all"] if video.interlaced else []


def constant_rate(fps: Fraction) -> list[str]:
    """Resample to a constant rate; `start_time=0` fills the head when the picture starts late."""
    return [f"fps=fps={fps.numerator}/{fps.denominator}:start_time=0"]


def tonemap(video: VideoInfo) -> list[str]:
    """BT.2020 → SDR BT.709 through linear light (zscale), only when probe chose to.

    PQ/HLG get the hable operator; SDR BT.2020 (wide gamut only) just changes primaries, since
    tone-mapping an SDR picture would darken it.
    """
    if not video.tonemap:
        return []
    tin = ZSCALE_TRANSFER.get(video.transfer, "709")
    operator = ["tonemap=tonemap=hable:desat=0"] if video.transfer in HDR_TRANSFERS else []
    return [f"zscale=tin={tin}:min=bt2020nc:pin=bt2020:rin=tv:t=linear:npl=100", "format=gbrpf32le",
            "zscale=p=bt709", *operator, "zscale=t=bt709:m=bt709:r=tv", "format=yuv420p"]


def pad_tail() -> list[str]:
    """Repeat the last frame forever; `-frames:v` then cuts each chunk at its exact frame count."""
    return ["tpad=stop=-1:stop_mode=clone"]


def shared_chain(video: VideoInfo) -> list[str]:
    """Filters run once per chunk, before the split."""
    return [*deinterlace(video), *constant_rate(video.fps), *tonemap(video), *pad_tail()]


def rung_chain(video: VideoInfo, rendition: Rendition) -> list[str]:
    """Per-rung filters: scale to the rung (square pixels), limited range, 8-bit 4:2:0.

    `setparams` tags the range even when the source left it unspecified, so players never guess.
    Only a full-range source names its ranges to `scale`: for a limited (or unspecified, which
    swscale reads as limited) source the rung at the source's own size then passes through
    `scale` untouched instead of being copied by swscale frame by frame.
    """
    ranges = ":in_range=pc:out_range=tv" if video.full_range and not video.tonemap else ""
    return [f"scale={rendition.width}:{rendition.height}:flags=bicubic{ranges}",
            "setsar=1", "format=yuv420p", "setparams=range=tv"]


def output_label(index: int) -> str:
    """The filtergraph label of rung `index`'s output, for `-map [label]`."""
    return f"v{index}"


def filter_graph(video: VideoInfo, renditions: Sequence[Rendition]) -> str:
    """The whole `-filter_complex` text: input stream → shared chain → split → one chain per rung."""
    if not renditions:
        raise ValueError("filter_graph needs at least one rendition")
    head = f"[0:{video.index}]" + ",".join(shared_chain(video))
    branches = [f"s{i}" for i in range(len(renditions))]
    split = f",split={len(renditions)}" + "".join(f"[{b}]" for b in branches)
    tails = [f"[{b}]" + ",".join(rung_chain(video, r)) + f"[{output_label(i)}]"
             for i, (b, r) in enumerate(zip(branches, renditions, strict=True))]
    return ";".join([head + split, *tails])
