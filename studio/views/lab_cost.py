"""The Lab view's Cost tab: what the library costs to store, serve and encode at the prices typed in
(`GET /api/lab/cost`), a stacked bar per title (storage, edge egress, origin egress a month; encode
once), the monthly projection, each what-if against today, and Export CSV of the per-title figures.

The server measures and prices; the request is asynchronous, so the GUI stays live while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QStackedBarSeries,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
)

from studio.views.analytics_charts import MAX_CATEGORIES, base_chart, value_axis
from studio.views.lab_tab import LabTab, Reply, TitlePicker

# The server's prices (query parameter, label, default: public list prices, docs/LABS.md) and what-ifs;
# the studio imports no engine module, the server checks every value.
PRICES = (("price_storage", "Storage $/GB-month", 0.023), ("price_egress_edge", "Edge egress $/GB", 0.085),
          ("price_egress_origin", "Origin egress $/GB", 0.09),
          ("price_cpu_hour", "Compute $/CPU-hour", 0.0425))
WHATIFS = (("double-cache", "Double the edge caches"), ("av1", "Add an AV1 ladder"),
           ("per-title", "Per-title ladder"))
PARTS = (("storage_usd_month", "storage / month"), ("edge_usd_month", "edge egress / month"),
         ("origin_usd_month", "origin egress / month"), ("encode_usd", "encode (once)"))
COLUMNS = ["video_id", "title", "views", "stored_bytes", "edge_bytes", "origin_bytes", "cpu_hours",
           "storage_usd_month", "edge_usd_month", "origin_usd_month", "encode_usd", "monthly_usd",
           *(f"{name}_monthly_usd" for name, _ in WHATIFS)]
ALL = ""
NOT_MEASURED = "not measured for this title: "


def usd(value: float) -> str:
    """Dollars with cents, or four decimals below a dollar (a small library costs fractions of a cent)."""
    return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.4f}"


def _signed(value: float) -> str:
    return f"{'-' if value < 0 else '+'}{usd(abs(value))}"


def money_format(top: float) -> str:
    """An axis label format that tells the ticks apart at this scale."""
    return "%.0f" if top >= 10 else "%.2f" if top >= 0.1 else "%.4f"


def duration_text(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min" if seconds >= 60 \
        else f"{seconds:.0f} s"


def cost_chart(titles: list[dict[str, Any]]) -> QChart:
    """One stacked bar per title (the costliest first): storage, edge and origin egress a month, encode."""
    chart = base_chart("Cost per title (US $): a month of storage and egress, encode once")
    shown = sorted(titles, key=lambda t: -(t["monthly_usd"] + t["encode_usd"]))[:MAX_CATEGORIES]
    series = QStackedBarSeries()
    for key, label in PARTS:
        bar_set = QBarSet(label)
        bar_set.append([float(t[key]) for t in shown])
        series.append(bar_set)
    chart.addSeries(series)
    axis_x = QBarCategoryAxis()
    axis_x.append([(t.get("title") or t["video_id"])[:18] for t in shown] or ["(no titles)"])
    top = max((sum(float(t[k]) for k, _ in PARTS) for t in shown), default=0.0)
    axis_y = value_axis("US $", top, money_format(top))
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_x)
    series.attachAxis(axis_y)
    return chart


def whatif_chart(library: dict[str, Any], whatifs: list[dict[str, Any]]) -> QChart:
    """The library's monthly cost today and after each measured what-if."""
    chart = base_chart("What if: the library's cost a month (US $)")
    measured = [w for w in whatifs if w["library"]["measured"]]
    names = ["today", *(w["name"] for w in measured)]
    values = [float(library["monthly_usd"]), *(float(w["library"]["monthly_usd_after"]) for w in measured)]
    series = QBarSeries()
    bar_set = QBarSet("a month")
    bar_set.append(values)
    series.append(bar_set)
    chart.addSeries(series)
    chart.legend().hide()
    axis_x = QBarCategoryAxis()
    axis_x.append([n[:24] for n in names])
    axis_y = value_axis("US $ / month", max(values), money_format(max(values)))
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_x)
    series.attachAxis(axis_y)
    return chart


def headline(result: dict[str, Any]) -> str:
    lib = result.get("library", {})
    def part(key: str) -> str:
        return usd(float(lib.get(key, 0)))

    return (f"{part('monthly_usd')} a month for {lib.get('titles', 0)} titles (storage "
            f"{part('storage_usd_month')}, edge egress {part('edge_usd_month')}, origin egress "
            f"{part('origin_usd_month')}); encoding cost {part('encode_usd')} once")


def whatif_lines(whatifs: list[dict[str, Any]]) -> list[str]:
    """A sentence per what-if: its change a month, or why it was not measured."""
    lines = []
    for w in whatifs:
        lib = w["library"]
        if lib["measured"]:
            lines.append(f"{w['label']}: {usd(lib['monthly_usd_before'])} → {usd(lib['monthly_usd_after'])} "
                         f"a month ({_signed(lib['monthly_usd_change'])}; {lib['note']})")
            continue
        notes = {t["note"].removeprefix(NOT_MEASURED) for t in w["titles"] if not t["measured"]}
        why = f"{lib['note'].split(':')[0]}: {notes.pop()}" if len(notes) == 1 else lib["note"]
        lines.append(f"{w['label']}: {why}")
    return lines


class CostTab(LabTab):
    """Title (or all), the four prices, the what-ifs; Run (asynchronous); the per-title stacked bars,
    the what-if bars and sentences, a table per title, and Export CSV of it."""

    waiting, name, csv_name, columns = "Pricing", "Cost lab", "cost.csv", COLUMNS

    def _inputs(self) -> None:
        self.title = TitlePicker(self.client, self, everything="All titles", on_error=self.status.setText)
        self.prices: dict[str, QDoubleSpinBox] = {}
        for param, label, default in PRICES:
            box = QDoubleSpinBox(self, minimum=0.0, maximum=1000.0, decimals=4, singleStep=0.005,
                                 value=default)
            box.setPrefix("$")
            box.setToolTip(f"{label} (default {default:g}: public list price, see docs/LABS.md)")
            self.prices[param] = box
        self.whatifs = {name: QCheckBox(label, self) for name, label in WHATIFS}
        for check in self.whatifs.values():
            check.setChecked(True)

    def _outputs(self) -> None:
        self.headline = self.headline_label("Set the prices, then Run.")
        self.projection = self.sentence_label()
        self.whatif_text = self.sentence_label()
        self.bars, self.comparison = self.chart_view(), self.chart_view()
        self.table.setMaximumHeight(200)

    def _layout(self) -> None:
        form = QHBoxLayout()
        form.addWidget(QLabel("Title:", self))
        form.addWidget(self.title)
        for param, label, _default in PRICES:
            form.addWidget(QLabel(f"{label}:", self))
            form.addWidget(self.prices[param])
        form.addStretch(1)
        actions = self.actions_row("What if:", list(self.whatifs.values()))
        charts = self.side_by_side(self.bars, self.comparison, stretch=(3, 2))
        self.stack((form, actions), (self.headline, self.projection, self.whatif_text), charts)

    # --- running ------------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """The query of `GET /api/lab/cost` for the inputs as they are."""
        params: dict[str, Any] = {param: round(box.value(), 6) for param, box in self.prices.items()}
        params["what_if"] = ",".join(name for name, box in self.whatifs.items() if box.isChecked())
        if self.title.currentData():
            params["title"] = self.title.currentData()
        return params

    def request(self, params: dict[str, Any], on_ok: Reply, on_error: Callable[[str], None]) -> None:
        self.client.lab_cost(params, on_ok=on_ok, on_error=on_error)

    def show_result(self, result: dict[str, Any]) -> None:
        """Headline, projection, charts, what-if sentences and table of one run."""
        self.finished(result)
        self.headline.setText(headline(result))
        w = result.get("window", {})
        self.projection.setText(
            f"Projected from {duration_text(w.get('recorded_s', 0))} of recorded traffic (counted as "
            f"{w.get('days', 1):.2f} days) and {result.get('views', 0)} views: "
            f"{result.get('views_per_month', 0):,.0f} views a month.")
        whatifs = result.get("whatifs", [])
        self.whatif_text.setText("\n".join(whatif_lines(whatifs)) or "No what-if asked.")
        self.set_chart(self.bars, cost_chart(result.get("titles", [])))
        self.set_chart(self.comparison, whatif_chart(result.get("library", {"monthly_usd": 0}), whatifs))
        self._fill_table(result.get("titles", []))
        self.status.setText(f"{len(result.get('titles', []))} titles priced; {self.elapsed()}")

    def _fill_table(self, titles: list[dict[str, Any]]) -> None:
        headers = ["title", "stored", "views", "storage/mo", "edge/mo", "origin/mo", "encode", "a month"]
        self.fill_table(headers, [
            [t.get("title") or t["video_id"], f"{t['stored_bytes'] / 2**20:.1f} MiB", str(t["views"]),
             usd(t["storage_usd_month"]), usd(t["edge_usd_month"]), usd(t["origin_usd_month"]),
             "unknown" if t["cpu_s"] is None else usd(t["encode_usd"]), usd(t["monthly_usd"])]
            for t in titles])

    def rows(self) -> list[dict[str, Any]]:
        """One row per title and one for the library (video_id `*`), raw numbers, under `COLUMNS`."""
        result = self.result or {}
        after = {w["name"]: w for w in result.get("whatifs", [])}
        rows = []
        for i, t in enumerate(result.get("titles", [])):
            rows.append({**{c: t.get(c, "") for c in COLUMNS},
                         **{f"{n}_monthly_usd": after[n]["titles"][i].get("monthly_usd_after", "")
                            for n in after}})
        if rows:
            lib = result.get("library", {})
            rows.append({**{c: lib.get(c, "") for c in COLUMNS}, "video_id": "*", "title": "library",
                         "views": result.get("views", 0),
                         **{f"{n}_monthly_usd": w["library"].get("monthly_usd_after", "")
                            for n, w in after.items()}})
        return [{c: ("" if r.get(c) is None else r.get(c, "")) for c in COLUMNS} for r in rows]
