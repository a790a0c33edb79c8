"""Every `miniflix` command builds the whole parser; only the commands that query load DuckDB or
Whoosh, which took half of the start-up time of `ingest` and `videos` (~0.1 of ~0.2 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ("import json, sys, main; code = main.main(sys.argv[1:]); "
          "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'whoosh'})]))")


def loaded_by(tmp_path: Path, *argv: str) -> tuple[int, list[str]]:
    """(exit code, which of DuckDB and Whoosh were imported) after running one command in-process."""
    out = subprocess.run([sys.executable, "-c", REPORT, *argv, "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=True).stdout
    code, heavy = json.loads(out.strip().splitlines()[-1])
    return code, heavy


@pytest.mark.parametrize("argv, expected", [(("videos",), 0), (("ingest", "no-such-file.mp4"), 1)])
def test_catalog_and_ingest_commands_start_without_duckdb_or_whoosh(tmp_path: Path, argv: tuple[str, ...],
                                                                    expected: int) -> None:
    code, heavy = loaded_by(tmp_path, *argv)
    assert code == expected and heavy == []


@pytest.mark.parametrize("argv, needs", [(("analytics", "views"), "duckdb"), (("search", "cats"), "whoosh")])
def test_the_query_commands_still_load_what_they_run_on(tmp_path: Path, argv: tuple[str, ...],
                                                        needs: str) -> None:
    code, heavy = loaded_by(tmp_path, *argv)
    assert code == 0 and needs in heavy
