"""`miniflix lab abr --title ID …`: simulated viewers play a published title's real segment sizes over
bandwidth traces with every ABR algorithm; QoE per algorithm, ladder suggestions, CSV of sessions."""

from __future__ import annotations

import argparse
from pathlib import Path

from server.cli import add_data_dir
from server.cli.lab import run_lab
from server.engine import Engine
from server.labs import abr
from server.labs.abr_algorithms import ALGORITHMS, parse_algorithms
from server.labs.abr_manifest import load_ladder
from server.labs.abr_traces import KINDS, resolve


def register_lab(labs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = labs.add_parser("abr", help="simulate ABR algorithms playing a title over bandwidth traces",
                        description="Simulated viewers play the title's real segments over a bandwidth "
                        "trace; every algorithm gets the same traces. QoE is the MPC paper's QoE_lin.")
    add_data_dir(p)
    p.add_argument("--title", required=True, help="the published title's id")
    p.add_argument("--trace", default="mobile",
                   help=f"{', '.join(KINDS)} (steady:5M, steady:800k) or a CSV trace file (default mobile)")
    p.add_argument("--algorithms", default="all",
                   help=f"comma-separated: {', '.join(ALGORITHMS)} (default all)")
    p.add_argument("--sessions", type=int, default=20, help="simulated viewers per algorithm (default 20)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the traces (default 1)")
    p.add_argument("--rtt-ms", type=float, default=40.0, help="round trip per segment request (default 40)")
    p.add_argument("--startup-s", type=float, default=2.0, help="buffer before playback starts (default 2)")
    p.add_argument("--max-buffer-s", type=float, default=30.0, help="buffer ceiling (default 30)")
    p.add_argument("--utility", choices=abr.UTILITIES, default="bitrate",
                   help="QoE utility per segment: its rung's bitrate in Mbit/s, or its rung's measured VMAF "
                   "(rebuffer 100 per s, switch 1 per VMAF point; default bitrate)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write one row per session to FILE")
    p.set_defaults(func=run_abr)


def run_abr(args: argparse.Namespace) -> int:
    return run_lab(args, _run, lambda result: (abr.CSV_COLUMNS, abr.csv_rows(result)), format_result)


def _run(args: argparse.Namespace) -> abr.AbrResult:
    player = abr.Player(args.rtt_ms, args.startup_s, args.max_buffer_s)
    trace = resolve(args.trace, args.seed)
    loaded = None if trace.name.split(":")[0] in KINDS else trace
    experiment = abr.Experiment(args.trace, parse_algorithms(args.algorithms), args.sessions, args.seed,
                                player, loaded, args.utility)
    with Engine.open(args.data_dir) as engine:
        ladder = load_ladder(engine.catalog, engine.origin, args.title)
    return abr.run(ladder, experiment)


QOE_TEXT = {"bitrate": "sum Mbit/s - 4.3 x rebuffer s - 1 x sum |switch Mbit/s|",
            "vmaf": "sum VMAF - 100 x rebuffer s - 1 x sum |switch VMAF|"}


def format_result(result: abr.AbrResult) -> str:
    """The ladder, one line per algorithm (QoE mean and spread, the parts), then the suggestions."""
    t, e = result.ladder.describe(), result.experiment
    rungs = ", ".join(f"{r['name']} {r['kbps']:.0f}k" for r in t["rungs"])  # type: ignore[attr-defined]
    lines = [f"title {t['video_id']}: {t['segments']} segments, {t['duration_s']} s; rungs {rungs}",
             f"trace {e.trace}, {e.sessions} sessions, seed {e.seed}, RTT {e.player.rtt_ms:g} ms; "
             f"QoE = {QOE_TEXT[e.utility]}",
             f"{'algorithm':<11}{'QoE mean':>9}{'p5':>8}{'p50':>8}{'p95':>8}{'kbit/s':>9}"
             f"{'rebuf s':>9}{'startup':>8}{'switches':>9}"]
    for name in result.sessions:
        s = result.stats(name)
        q = s["qoe"]
        lines.append(f"{name:<11}{q['mean']:>9.2f}{q['p5']:>8.2f}{q['p50']:>8.2f}{q['p95']:>8.2f}"
                     f"{s['avg_kbps']['mean']:>9.0f}{s['rebuffer_s']['mean']:>9.2f}"
                     f"{s['startup_s']['mean']:>8.2f}{s['switches']['mean']:>9.1f}")
    shares = ", ".join(f"{k} {v:.0%}" for k, v in result.rung_shares().items())
    return "\n".join([*lines, f"segments per rung: {shares}", *(f"=> {s}" for s in result.suggestions())])
