"""The cost lab: what the library costs to store, serve and encode, per title and in all, at prices the
user sets, and what it would cost after each "what if".

Model (docs/LABS.md): storage = bytes in the origin x $/GB-month (a monthly figure as it stands);
egress = bytes the edges served viewers x edge $/GB + bytes the origin sent the edges x origin $/GB,
measured over the recorded window and projected to a month by the view rate (a window shorter than a
day counts as a day: minutes of testing are no rate); encode = CPU-hours of the title's ffmpeg runs x
$/CPU-hour, paid once. The monthly projection is storage + egress per month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.catalog import Catalog
from server.cdn.topology import Topology
from server.jobs.store import JobStore
from server.labs.cost_prices import DAYS_PER_MONTH, GB, Prices
from server.labs.cost_usage import TitleUsage, Window, measure, traffic
from server.labs.cost_whatif import WHATIFS, Change, Inputs, Outcome
from server.storage.blobstore import BlobStore

if TYPE_CHECKING:
    import duckdb

DAY_S = 86400.0
MIN_WINDOW_S = DAY_S


@dataclass(frozen=True)
class Projection:
    """How recorded traffic becomes a month: the window's days and the factor that scales it."""

    window: Window

    @property
    def days(self) -> float:
        return max(self.window.seconds, MIN_WINDOW_S) / DAY_S

    @property
    def factor(self) -> float:
        return DAYS_PER_MONTH / self.days

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.window.start, "end": self.window.end, "recorded_s": self.window.seconds,
                "days": self.days, "month_days": DAYS_PER_MONTH, "factor": self.factor}


@dataclass(frozen=True)
class Cost:
    """Dollars: storage per month, edge and origin egress per month, encode once; bytes behind them."""

    stored_bytes: int
    edge_bytes: int
    origin_bytes: int
    cpu_s: float | None
    storage_month: float
    edge_month: float
    origin_month: float
    encode_once: float

    @property
    def monthly(self) -> float:
        return self.storage_month + self.edge_month + self.origin_month

    def to_dict(self) -> dict[str, Any]:
        return {"stored_bytes": self.stored_bytes, "edge_bytes": self.edge_bytes,
                "origin_bytes": self.origin_bytes, "cpu_s": self.cpu_s,
                "cpu_hours": None if self.cpu_s is None else self.cpu_s / 3600,
                "storage_usd_month": self.storage_month, "edge_usd_month": self.edge_month,
                "origin_usd_month": self.origin_month, "encode_usd": self.encode_once,
                "monthly_usd": self.monthly}


def price(prices: Prices, projection: Projection, stored: int, edge: int, origin: int,
          cpu_s: float | None) -> Cost:
    """The cost of bytes stored, bytes served over the recorded window (projected) and CPU seconds."""
    month = projection.factor
    return Cost(stored, edge, origin, cpu_s, stored / GB * prices.storage_gb_month,
                edge / GB * prices.egress_edge_gb * month, origin / GB * prices.egress_origin_gb * month,
                (cpu_s or 0.0) / 3600 * prices.cpu_hour)


def title_cost(prices: Prices, projection: Projection, usage: TitleUsage) -> Cost:
    return price(prices, projection, usage.stored_bytes, usage.edge_bytes, usage.origin_bytes, usage.cpu_s)


def changed_cost(prices: Prices, projection: Projection, base: Cost, change: Change) -> Cost:
    """`base` after a measured change (bytes and CPU added or taken away; never below zero)."""
    cpu = None if base.cpu_s is None and not change.cpu_s else (base.cpu_s or 0.0) + change.cpu_s
    return price(prices, projection, max(0, base.stored_bytes + change.stored_bytes),
                 max(0, base.edge_bytes + change.edge_bytes), max(0, base.origin_bytes + change.origin_bytes),
                 None if cpu is None else max(0.0, cpu))


def total(costs: Sequence[Cost], prices: Prices, projection: Projection) -> Cost:
    """The library's cost: the titles' bytes and CPU added up, then priced."""
    cpus = [c.cpu_s for c in costs if c.cpu_s is not None]
    return price(prices, projection, sum(c.stored_bytes for c in costs), sum(c.edge_bytes for c in costs),
                 sum(c.origin_bytes for c in costs), sum(cpus) if cpus else None)


@dataclass(frozen=True)
class CostReport:
    """Per title and in all, at `prices`, projected by `projection`, and each what-if's outcome."""

    prices: Prices
    projection: Projection
    usages: Sequence[TitleUsage]
    costs: Sequence[Cost]
    library: Cost
    whatifs: Sequence[Outcome] = ()

    @property
    def views(self) -> int:
        return sum(u.views for u in self.usages)

    def whatif_dict(self, outcome: Outcome) -> dict[str, Any]:
        """One what-if: the library's cost after it and the change, each title's likewise (or its note)."""
        after = changed_cost(self.prices, self.projection, self.library, outcome.library)
        titles = []
        for usage, cost in zip(self.usages, self.costs, strict=True):
            change = outcome.titles.get(usage.video_id, Change(False, "not measured"))
            titles.append(_change_dict(usage.video_id, change, cost,
                                       changed_cost(self.prices, self.projection, cost, change)))
        return {"name": outcome.name, "label": outcome.label,
                "library": _change_dict("", outcome.library, self.library, after),
                "titles": titles, "figures": outcome.figures}

    def to_dict(self) -> dict[str, Any]:
        days = self.projection.days
        return {"prices": self.prices.to_dict(), "window": self.projection.to_dict(),
                "views": self.views, "views_per_day": self.views / days,
                "views_per_month": self.views / days * DAYS_PER_MONTH,
                "library": {**self.library.to_dict(), "titles": len(self.usages),
                            "stored_by_codec": stored_by_codec(self.usages)},
                "titles": [{**u.to_dict(), **c.to_dict(), "views_per_month": u.views / days * DAYS_PER_MONTH}
                           for u, c in zip(self.usages, self.costs, strict=True)],
                "whatifs": [self.whatif_dict(o) for o in self.whatifs]}


def _change_dict(video_id: str, change: Change, before: Cost, after: Cost) -> dict[str, Any]:
    row: dict[str, Any] = {"video_id": video_id, "measured": change.measured, "note": change.note}
    if change.measured:
        row.update(monthly_usd_before=before.monthly, monthly_usd_after=after.monthly,
                   monthly_usd_change=after.monthly - before.monthly, encode_usd_after=after.encode_once,
                   stored_bytes_change=change.stored_bytes, edge_bytes_change=change.edge_bytes,
                   origin_bytes_change=change.origin_bytes)
    return row


def stored_by_codec(usages: Sequence[TitleUsage]) -> dict[str, int]:
    """Bytes of every title's rungs per video codec (`source`, `audio`, `other` kept apart)."""
    out: dict[str, int] = {}
    for u in usages:
        for s in u.stored:
            key = (s.codec or "unknown") if s.kind == "rung" else s.kind
            out[key] = out.get(key, 0) + s.bytes
    return dict(sorted(out.items()))


def report(usages: Sequence[TitleUsage], window: Window, prices: Prices,
           whatifs: Sequence[Outcome] = ()) -> CostReport:
    """Price every title's measured use and add it up; attach the what-ifs' outcomes."""
    projection = Projection(window)
    costs = [title_cost(prices, projection, u) for u in usages]
    return CostReport(prices, projection, usages, costs, total(costs, prices, projection), whatifs)


def run(catalog: Catalog, store: BlobStore, jobs: JobStore, conn: duckdb.DuckDBPyConnection,
        prices: Prices, whatifs: Sequence[str] = (), video_id: str | None = None,
        topology: Topology | None = None) -> CostReport:
    """Measure every published title's use (or one title's), price it, and run the named what-ifs."""
    recorded = traffic(conn)
    usages = measure(catalog, store, jobs, recorded, None if video_id is None else [video_id])
    inputs = Inputs(usages, conn, topology or Topology.configured())
    return report(usages, recorded.window, prices, [WHATIFS[name](inputs) for name in whatifs])


CSV_COLUMNS = ("video_id", "title", "views", "stored_bytes", "edge_bytes", "origin_bytes", "cpu_hours",
               "storage_usd_month", "edge_usd_month", "origin_usd_month", "encode_usd", "monthly_usd")


def csv_columns(result: CostReport) -> list[str]:
    """The CSV's columns: the cost columns, then each what-if's monthly cost after it."""
    return [*CSV_COLUMNS, *(f"{o.name}_monthly_usd" for o in result.whatifs)]


def csv_rows(result: CostReport) -> list[dict[str, Any]]:
    """One row per title and one for the library (video_id `*`), raw numbers; a what-if's cell is
    empty where it was not measured."""
    whatifs = [result.whatif_dict(o) for o in result.whatifs]
    rows = []
    for i, (usage, cost) in enumerate(zip(result.usages, result.costs, strict=True)):
        after = {f"{w['name']}_monthly_usd": w["titles"][i].get("monthly_usd_after", "") for w in whatifs}
        rows.append({"video_id": usage.video_id, "title": usage.title, "views": usage.views,
                     **_cost_cells(cost), **after})
    after = {f"{w['name']}_monthly_usd": w["library"].get("monthly_usd_after", "") for w in whatifs}
    rows.append({"video_id": "*", "title": "library", "views": result.views, **_cost_cells(result.library),
                 **after})
    return rows


def _cost_cells(cost: Cost) -> dict[str, Any]:
    cells = cost.to_dict()
    cells["cpu_hours"] = "" if cells["cpu_hours"] is None else cells["cpu_hours"]
    return {c: cells[c] for c in CSV_COLUMNS if c in cells}
