"""Prices for the cost lab: storage per GB-month, egress per GB at the edge and at the origin, compute per
CPU-hour. The defaults are public list prices written down by hand (docs/LABS.md names each page and
the date); nothing is fetched. A user sets their own with `--price-…` or the studio's fields.

A "GB" is 2^30 bytes, as AWS bills storage and transfer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from server.errors import InvalidRequest

GB = 1024 ** 3
DAYS_PER_MONTH = 365.25 / 12
PRICES_TAKEN = "2026-12-06"   # the day these were written down (see docs/LABS.md for their sources)

# Each price: its field, the CLI flag / HTTP parameter, and where its default comes from.
SOURCES = {
    "storage_gb_month": "AWS S3 Standard storage, first 50 TB/month, us-east-1: $0.023 per GB-month",
    "egress_edge_gb": "AWS CloudFront data transfer out to the internet, first 10 TB/month, "
                      "United States/Europe: $0.085 per GB",
    "egress_origin_gb": "AWS S3 data transfer out to the internet, first 10 TB/month, us-east-1: "
                        "$0.09 per GB",
    "cpu_hour": "AWS EC2 on-demand c6i.large (2 vCPU) Linux, us-east-1: $0.085/hour = $0.0425 per "
                "vCPU-hour",
}
PARAMS = {"storage_gb_month": "price_storage", "egress_edge_gb": "price_egress_edge",
          "egress_origin_gb": "price_egress_origin", "cpu_hour": "price_cpu_hour"}
MAX_PRICE = 1_000_000.0


@dataclass(frozen=True)
class Prices:
    """US dollars: storage per GB-month, egress per GB served by an edge and by the origin, per CPU-hour."""

    storage_gb_month: float = 0.023
    egress_edge_gb: float = 0.085
    egress_origin_gb: float = 0.09
    cpu_hour: float = 0.0425

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= MAX_PRICE):
                raise InvalidRequest(f"Price {PARAMS[f.name]!r} must be a number from 0 to {MAX_PRICE:g} "
                                     f"US dollars, not {str(value)[:40]!r}.")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "currency": "USD", "gb_bytes": GB, "taken": PRICES_TAKEN,
                "sources": dict(SOURCES)}


def prices_from(values: dict[str, str | float | None]) -> Prices:
    """Prices from parameters named as `PARAMS` (absent or empty: the default); a clear error for text
    that is not a number or a negative one."""
    chosen: dict[str, float] = {}
    for name, param in PARAMS.items():
        raw = values.get(param)
        if raw is None or raw == "":
            continue
        try:
            chosen[name] = float(raw)
        except (TypeError, ValueError):
            raise InvalidRequest(f"Price {param!r} must be a number of US dollars, not {str(raw)[:40]!r}.",
                                 hint="e.g. 0.023") from None
    return Prices(**chosen)
