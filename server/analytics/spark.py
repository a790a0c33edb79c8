"""The named queries as Spark SQL jobs over the Parquet lake (`--engine spark`).

A session is local and loopback-only by default (`local[2]`, driver bound to 127.0.0.1, no web UI,
small memory) or joins a standalone master (`spark://HOST:7077`); it is started once per command and
its JVM is the expensive part (seconds), so callers keep one session for many queries.
pyspark is imported only here, and only when asked for (the `spark` extra, plus a Java 17 runtime).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.analytics import lake, lake_views
from server.analytics.queries import get
from server.analytics.results import Rows
from server.errors import InvalidRequest, MiniflixError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"
JVM_EXIT_S = 10.0
_MASTER = re.compile(r"^(local(\[(\d+|\*)\])?|spark://[\w.-]+:\d+)$")
# Loopback only, no UI, quiet, and few shuffle partitions: the lake of one machine is small.
_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "1g",
    "spark.executor.memory": "1g",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}


def check_master(master: str) -> str:
    if not _MASTER.match(master):
        raise InvalidRequest(f"Spark master {master!r} is not local, local[N] or spark://HOST:PORT.",
                             hint="e.g. --master local[2] or --master spark://127.0.0.1:7077")
    return master


@contextmanager
def session(master: str = DEFAULT_MASTER, app: str = "miniflix-analytics") -> Iterator[SparkSession]:
    """A Spark session for the length of the block; stopped (and its JVM ended) after it."""
    spark = _start(check_master(master), app)
    try:
        yield spark
    finally:
        spark.stop()
        _end_jvm()


def _end_jvm() -> None:
    """`SparkSession.stop` leaves pyspark's JVM (the py4j gateway) running until Python exits: in
    the server or a test session that is a gigabyte idling. End it; the next session starts another."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    gateway.shutdown()
    SparkContext._gateway = SparkContext._jvm = None
    if process is not None:
        process.stdin.close()   # the JVM ends when the pipe from its Python parent closes
        try:
            process.wait(JVM_EXIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(JVM_EXIT_S)


def _start(master: str, app: str) -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MiniflixError("Spark is not installed in this build.",
                            hint="pip install 'miniflix-studio[spark]' (needs a Java 17 runtime)") from None
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName(app)
    for key, value in _CONF.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j/JVM start-up errors have no common base class
        raise MiniflixError(f"Spark did not start with master {master!r}: {str(exc).splitlines()[0]}",
                            hint="check that Java 17 is installed (java -version) and the master is up") \
            from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def attach(spark: SparkSession, path: Path) -> None:
    """Register the lake's files and the analytics views (lake_views.py) as temp views."""
    for topic in lake.TOPICS:
        found = lake.files(path, topic)
        if found:
            spark.read.parquet(*found).createOrReplaceTempView(f"lake_{topic}")
        else:
            spark.sql(lake_views.empty_relation(topic, lake_views.SPARK_TYPES)) \
                .createOrReplaceTempView(f"lake_{topic}")
    for name, select in (*lake_views.views(), *lake_views.SPARK_TITLE_VIEWS):
        spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")


def run(spark: SparkSession, name: str, **params: Any) -> Rows:
    """The rows of named query `name` over the attached lake, as Spark computes them."""
    frame = spark.sql(lake_views.spark_sql(get(name), params))
    return Rows(list(frame.columns), [tuple(row) for row in frame.collect()])
