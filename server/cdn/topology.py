"""Where the edges are: names, regions, locations, simulated RTT/bandwidth, capacity, TTL and policy.

The default is 6 edges in 3 regions; a JSON file (setting `cdn_topology`) can describe another one:
`{"regions": {"eu-west": [51.5, -0.1]}, "edges": [{"name": "lon-1", "region": "eu-west", ...}]}`.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from server import config
from server.errors import InvalidRequest

MIB = 1024 * 1024
# Edge names become HLS Content Steering pathway IDs, which allow only these characters.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")   # also a directory name: no "." or ".."

config.register("cdn_topology", "", "JSON file describing the edges (default: 6 edges in 3 regions).")
config.register("cdn_capacity_mb", 256, "Default cache capacity of each edge, in MiB.", int)
config.register("cdn_ttl_s", 3600, "Default time an edge serves an object before revalidating it.", int)
config.register("cdn_policy", "wtinylfu",
                "Edge eviction policy by default: lru, fifo, s3fifo, wtinylfu, session.")


@dataclass(frozen=True)
class EdgeSpec:
    """One simulated edge (an OCA): its place, its link as clients see it, and its cache."""

    name: str
    region: str
    lat: float
    lon: float
    rtt_ms: float                    # round trip to clients of its own region
    bandwidth_mbps: float | None     # None: no simulated bandwidth cap
    capacity_bytes: int
    ttl_s: float
    policy: str
    max_clients: int = 64            # concurrent requests that count as load 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Topology:
    """All edges and the centre of each region (where a client of that region is assumed to be)."""

    edges: list[EdgeSpec]
    regions: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self)

    @classmethod
    def default(cls) -> Topology:
        """6 edges in 3 regions: per region one near, fat edge and one farther, thinner edge."""
        cap, ttl, pol = config.get("cdn_capacity_mb") * MIB, float(config.get("cdn_ttl_s")), config.get(
            "cdn_policy")
        regions = {"eu-west": (51.5, -0.13), "us-east": (38.9, -77.0), "ap-southeast": (1.35, 103.8)}
        rows = [("lon-1", "eu-west", 51.5, -0.1, 8, 400), ("ams-1", "eu-west", 52.4, 4.9, 14, 100),
                ("iad-1", "us-east", 38.9, -77.4, 8, 400), ("nyc-1", "us-east", 40.7, -74.0, 12, 100),
                ("sin-1", "ap-southeast", 1.3, 103.9, 10, 400),
                ("kul-1", "ap-southeast", 3.1, 101.7, 14, 100)]
        edges = [EdgeSpec(n, r, la, lo, rtt, bw, cap, ttl, pol) for n, r, la, lo, rtt, bw in rows]
        return cls(edges, regions)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Topology:
        """Read a topology JSON file; every mistake names the file, the edge and the field."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidRequest(f"Cannot read the CDN topology {path}: {exc}",
                                 hint="give a JSON file with 'regions' and 'edges'") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("edges"), list):
            raise InvalidRequest(f"CDN topology {path} has no 'edges' list.",
                                 hint="see server/cdn/topology.py for the format")
        regions = {str(k): _latlon(v, f"{path}: region {k}") for k, v in doc.get("regions", {}).items()}
        edges = [_edge_from(row, f"{path}: edge #{i + 1}") for i, row in enumerate(doc["edges"])]
        try:
            return cls(edges, regions)
        except InvalidRequest as exc:
            raise InvalidRequest(f"{path}: {exc.message}", hint=exc.hint) from None

    @classmethod
    def configured(cls) -> Topology:
        """The topology file named by the `cdn_topology` setting, or the default."""
        path = config.get("cdn_topology")
        return cls.from_file(path) if path else cls.default()

    def edge(self, name: str) -> EdgeSpec:
        for spec in self.edges:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def region_center(self, region: str) -> tuple[float, float]:
        """The client location assumed for a region: its declared centre or the mean of its edges."""
        if region in self.regions:
            return self.regions[region]
        members = [e for e in self.edges if e.region == region]
        if not members:
            raise InvalidRequest(f"Unknown region {region!r}.", hint=f"one of {sorted(self.region_names())}")
        return (sum(e.lat for e in members) / len(members), sum(e.lon for e in members) / len(members))

    def region_names(self) -> set[str]:
        return {e.region for e in self.edges} | set(self.regions)


def validate(topology: Topology) -> None:
    """Unique, pathway-safe names; a known policy; positive sizes."""
    from server.cdn.policies import POLICIES

    seen: set[str] = set()
    for spec in topology.edges:
        where = f"edge {spec.name!r}"
        if not NAME_RE.match(spec.name) or spec.name in seen:
            raise InvalidRequest(f"Bad or duplicate {where}: names are unique, letters/digits/._- only.")
        if spec.policy not in POLICIES:
            raise InvalidRequest(f"{where} asks for unknown policy {spec.policy!r}.",
                                 hint=f"one of {sorted(POLICIES)}")
        if spec.capacity_bytes <= 0 or spec.rtt_ms < 0 or (spec.bandwidth_mbps or 1) <= 0:
            raise InvalidRequest(f"{where}: capacity and bandwidth must be positive, RTT not negative.")
        seen.add(spec.name)


def _edge_from(row: Any, where: str) -> EdgeSpec:
    if not isinstance(row, dict):
        raise InvalidRequest(f"{where} is not an object.")
    known = {f.name for f in fields(EdgeSpec)} | {"capacity_mb"}
    unknown = set(row) - known
    if unknown:
        raise InvalidRequest(f"{where} has unknown fields {sorted(unknown)}.", hint=f"known: {sorted(known)}")
    row = dict(row)
    if "capacity_mb" in row:
        row["capacity_bytes"] = int(float(row.pop("capacity_mb")) * MIB)
    row.setdefault("capacity_bytes", config.get("cdn_capacity_mb") * MIB)
    row.setdefault("ttl_s", float(config.get("cdn_ttl_s")))
    row.setdefault("policy", config.get("cdn_policy"))
    row.setdefault("bandwidth_mbps", None)
    try:
        return EdgeSpec(**row)
    except TypeError as exc:
        raise InvalidRequest(f"{where} is missing a field: {exc}",
                             hint="name, region, lat, lon and rtt_ms are required") from exc


def _latlon(value: Any, where: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{where} must be [lat, lon].") from exc
    return (lat, lon)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))
