"""Topology: the default layout and the errors a hand-written topology file gets."""

from __future__ import annotations

import json

import pytest

from server.cdn.topology import Topology, distance_km
from server.errors import InvalidRequest


def test_default_is_six_edges_in_three_regions_with_unique_pathway_safe_names() -> None:
    topo = Topology.default()
    assert len(topo.edges) == 6 and len({e.region for e in topo.edges}) == 3
    assert len({e.name for e in topo.edges}) == 6
    assert all(sum(e.region == r for e in topo.edges) == 2 for r in topo.region_names())


def test_a_topology_file_fills_defaults_and_converts_capacity(tmp_path) -> None:
    path = tmp_path / "topo.json"
    edge = {"name": "a-1", "region": "x", "lat": 10, "lon": 20, "rtt_ms": 5, "capacity_mb": 2,
            "policy": "lru"}
    path.write_text(json.dumps({"regions": {"x": [10, 20]}, "edges": [edge]}))
    topo = Topology.from_file(path)
    assert topo.edges[0].capacity_bytes == 2 * 1024 * 1024 and topo.edges[0].bandwidth_mbps is None
    assert topo.region_center("x") == (10.0, 20.0)


BASE = {"name": "a", "region": "x", "lat": 0, "lon": 0, "rtt_ms": 1}


@pytest.mark.parametrize("doc, message", [
    ("not json", "Cannot read"),
    ({"edges": "nope"}, "no 'edges' list"),
    ({"edges": [{"name": "a", "region": "x", "lat": 0, "lon": 0}]}, "missing a field"),
    ({"edges": [{**BASE, "colour": "red"}]}, "unknown fields"),
    ({"edges": [{**BASE, "name": "a b"}]}, "Bad or duplicate"),
    ({"edges": [{**BASE, "name": ".."}]}, "Bad or duplicate"),
    ({"edges": [BASE, BASE]}, "Bad or duplicate"),
    ({"edges": [{**BASE, "policy": "magic"}]}, "unknown policy"),
    ({"edges": [{**BASE, "capacity_mb": -1}]}, "must be positive"),
])
def test_a_bad_topology_file_names_the_file_and_the_mistake(tmp_path, doc, message) -> None:
    path = tmp_path / "topo.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(InvalidRequest, match=message) as err:
        Topology.from_file(path)
    assert "topo.json" in str(err.value)


def test_distance_is_great_circle() -> None:
    assert distance_km((51.5, -0.13), (40.7, -74.0)) == pytest.approx(5570, rel=0.01)


def test_the_configured_topology_comes_from_the_settings_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"edges": [{**BASE, "name": "solo-1"}]}))
    monkeypatch.setenv("MINIFLIX_CDN_TOPOLOGY", str(path))
    assert [e.name for e in Topology.configured().edges] == ["solo-1"]
    monkeypatch.delenv("MINIFLIX_CDN_TOPOLOGY")
    assert len(Topology.configured().edges) == 6
