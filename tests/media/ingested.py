"""A source ingested by the real `miniflix ingest --json` for the media tests that read what it published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.jobs.helpers import cli, json_lines

NO_VMAF = {"MINIFLIX_QUALITY_MEASURE": "0"}


def ingest_published(source: Path, data_dir: Path, *options: str,
                     env: dict[str, str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Ingest `source` into `data_dir` (by default without the VMAF measurement); the published
    title's folder in the origin and the command's JSON result. Fails the test unless published."""
    run = cli("ingest", str(source), "--data-dir", str(data_dir), "--json", *options,
              env=NO_VMAF if env is None else env)
    assert run.returncode == 0, run.stderr
    [result] = json_lines(run.stdout)
    assert result["status"] == "published", result["error"]
    return data_dir / "origin" / Path(result["master"]).parent, result
