"""The normalisation filter chain, as pure functions from probe facts to filtergraph text.

One decode feeds every rung: the shared part (deinterlace → constant frame rate → tone-map → pad
the tail) runs once, then the rungs are scaled in a cascade: the top rung from the source, each
smaller rung from the next larger one (720p from 1080p, 480p from 720p, ...), to square pixels,
8-bit yuv420p, limited range. Rotation is applied by ffmpeg's autorotate in front of this graph
(see encode.py).

Why a cascade: a bicubic downscale's cost grows with the input, not the output (the filter widens
with the ratio), so five scales from a 1080p source cost as much as five 1080p-sized passes. From
the next rung up they cost ~45% of that: a chunk of the 1080p ladder takes ~2.5% less CPU. Before
encoding, the picture stays within 0.001 SSIM of a direct scale; encoded, every rung keeps > 33 dB
PSNR (36-40 measured) against a Lanczos scale of the source (tests/media/test_encode.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
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


def display_chain(video: VideoInfo) -> list[str]:
    """The source's picture at its display size, as a rung's chain would make it (square pixels,
    8-bit 4:2:0, limited range): what the quality measure and the per-title windows compare with."""
    return rung_chain(video, Rendition("source", video.display_width, video.display_height, 0, 0))


def output_label(index: int) -> str:
    """The filtergraph label of rung `index`'s output, for `-map [label]`."""
    return f"v{index}"


def scale_parents(renditions: Sequence[Rendition]) -> list[int | None]:
    """For each rung, the index of the rung it is scaled from, or None for the source.

    Largest first, each rung takes the nearest larger rung that covers it in both dimensions; the
    top rung (and any rung no larger rung covers) takes the source.
    """
    order = sorted(range(len(renditions)), key=lambda i: renditions[i].width * renditions[i].height,
                   reverse=True)
    parents: list[int | None] = [None] * len(renditions)
    for position, index in enumerate(order):
        rung = renditions[index]
        covering = [j for j in order[:position]
                    if renditions[j].width >= rung.width and renditions[j].height >= rung.height]
        parents[index] = covering[-1] if covering else None
    return parents


REFERENCE_LABEL = "ref"


def filter_graph(video: VideoInfo, renditions: Sequence[Rendition], head: Sequence[str] = (),
                 reference: Sequence[str] = ()) -> str:
    """The whole `-filter_complex` text: input stream → `head` (the cut, source_cut.py) → shared
    chain → cascade of rung scales, and, given `reference` filters, one more branch of the shared
    chain's output through them to the output labelled REFERENCE_LABEL (reference_pieces.py).

    Each node's output is split between its own rung's encoder and the rungs scaled from it.
    """
    if not renditions:
        raise ValueError("filter_graph needs at least one rendition")
    parents = scale_parents(renditions)
    inputs = [f"s{i}" for i in range(len(renditions))]

    def fan_out(chain: str, targets: list[str]) -> str:
        if len(targets) == 1:
            return f"{chain}[{targets[0]}]"
        return f"{chain},split={len(targets)}" + "".join(f"[{t}]" for t in targets)

    branch = ["reference"] if reference else []
    head = fan_out(f"[0:{video.index}]" + ",".join([*head, *shared_chain(video)]),
                   [inputs[i] for i, p in enumerate(parents) if p is None] + branch)
    rungs = []
    for i, rendition in enumerate(renditions):
        source_video = video if parents[i] is None else _scaled(video)
        chain = f"[{inputs[i]}]" + ",".join(rung_chain(source_video, rendition))
        rungs.append(fan_out(chain, [output_label(i)] + [inputs[c] for c, p in enumerate(parents) if p == i]))
    tail = [f"[reference]{','.join(reference)}[{REFERENCE_LABEL}]"] if reference else []
    return ";".join([head, *rungs, *tail])


def _scaled(video: VideoInfo) -> VideoInfo:
    """What a rung's output is, as the input of the next scale: limited range, tone-mapped already."""
    return replace(video, full_range=False, tonemap=False)
