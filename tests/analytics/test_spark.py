"""Every named query on the same generated lake in DuckDB and in a real Spark (local[2]): equal row
for row, floats within 1e-9 relative. One Spark session for the whole module (its JVM start is slow)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pyspark.sql import SparkSession

from server.analytics import lake_views, results, spark
from server.analytics.lake_archiver import Archiver
from server.analytics.queries import QUERIES
from server.events.log import open_event_log
from server.paths import DataDir
from tests.analytics.conftest import publish_scenario
from tests.analytics.lake_compare import assert_same_rows
from tests.analytics.lake_scenario import VARIANTS, publish_generated
from tests.jobs.helpers import cli

SPARK_QUERIES = list(QUERIES)
CASES: list[tuple[str, dict[str, Any]]] = [(q, {}) for q in SPARK_QUERIES] + VARIANTS


@pytest.fixture(scope="module")
def generated_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = DataDir.resolve(tmp_path_factory.mktemp("lake") / "data")
    with open_event_log(data) as log:
        publish_scenario(log)
        publish_generated(log, sessions=400)
        archiver = Archiver(log, data.root / "lake", batch_size=500)
        archiver.run_once(compact=False)
        archiver.close()
    return data.root / "lake"


@pytest.fixture(scope="module")
def session() -> Iterator[SparkSession]:
    with spark.session("local[2]", app="miniflix-tests") as started:
        yield started


@pytest.fixture(scope="module")
def on_spark(session: SparkSession, generated_lake: Path) -> SparkSession:
    spark.attach(session, generated_lake)
    return session


@pytest.fixture(scope="module")
def on_duckdb(generated_lake: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as conn:
        yield lake_views.attach_duckdb(conn, generated_lake)


@pytest.mark.parametrize(("name", "params"), CASES,
                         ids=[q for q in SPARK_QUERIES] + [f"{q}-{i}" for i, (q, _) in enumerate(VARIANTS)])
def test_spark_equals_duckdb_on_the_lake(on_spark: SparkSession, on_duckdb: duckdb.DuckDBPyConnection,
                                         name: str, params: dict[str, object]) -> None:
    expected = results.run(on_duckdb, name, **params)
    assert expected.rows, f"{name} {params}: the generated lake should give rows"
    assert_same_rows(expected, spark.run(on_spark, name, **params), f"{name} {params}")


def test_library_overview_reads_the_titles_json_alike_in_both_engines(
        on_spark: SparkSession, on_duckdb: duckdb.DuckDBPyConnection) -> None:
    """The titles' renditions are JSON in the lake: each engine's views unpack them into rows."""
    expected = results.run(on_duckdb, "library_overview")
    rungs = [row for row in expected.rows if row[0] != "(all)"]
    assert rungs and all(row[1] >= 1 and row[3] > 0 for row in rungs), expected.rows
    assert_same_rows(expected, spark.run(on_spark, "library_overview"), "library_overview")


def test_an_empty_lake_gives_no_rows_in_either_engine(session: SparkSession, generated_lake: Path,
                                                      tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    spark.attach(session, tmp_path / "lake")
    try:
        with duckdb.connect() as conn:
            lake_views.attach_duckdb(conn, tmp_path / "lake")
            for name in SPARK_QUERIES:
                assert_same_rows(results.run(conn, name), spark.run(session, name), name)
    finally:  # the module's other tests read the generated lake
        spark.attach(session, generated_lake)


def test_a_quote_in_a_parameter_is_data_not_sql(on_spark: SparkSession) -> None:
    rows = spark.run(on_spark, "title_engagement", video_id="v1' OR '1'='1")
    assert rows.rows == []


def test_cli_runs_a_named_query_on_spark(generated_lake: Path) -> None:
    data_dir = str(generated_lake.parent)
    on_spark = cli("analytics", "qoe_by_region", "--engine", "spark", "--format", "csv",
                   "--data-dir", data_dir)
    assert on_spark.returncode == 0, on_spark.stderr
    on_duckdb = cli("analytics", "qoe_by_region", "--source", "lake", "--format", "csv",
                    "--data-dir", data_dir)
    assert on_spark.stdout == on_duckdb.stdout
    assert on_spark.stdout.splitlines()[0].startswith("region,sessions,startup_ms")


def test_cli_refuses_a_bad_master_before_starting_spark(generated_lake: Path) -> None:
    done = cli("analytics", "views", "--engine", "spark", "--master", "yarn",
               "--data-dir", str(generated_lake.parent))
    assert done.returncode == 1
    assert "Spark master 'yarn'" in done.stderr and "spark://HOST:PORT" in done.stderr
