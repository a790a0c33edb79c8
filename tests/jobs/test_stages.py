"""An ingest reports where its wall time went, stage by stage (`stages` in `ingest --json`)."""

from __future__ import annotations

from pathlib import Path

from tests.jobs.helpers import cli, json_lines

STAGES = {"probe", "analysis", "encode", "audio", "package", "verify", "thumbnails", "publish"}


def test_ingest_json_reports_every_stages_wall_seconds(tmp_path: Path, make_clip) -> None:
    clip = make_clip("stages.mp4", seconds=4, size="320x180", fps=25)
    run = cli("ingest", str(clip), "--data-dir", str(tmp_path / "d"), "--json", "--workers", "2")
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    stages = result["stages"]
    assert set(stages) == STAGES, stages
    assert all(isinstance(s, float) and s >= 0 for s in stages.values()), stages
    assert stages["encode"] > 0 and stages["probe"] > 0, "the work done shows as time spent"
