"""Network view against the real server: live edges, stop/start and throttle, and the steering feed —
including breaking the edge a real VLC player is using and watching playback move to another edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt

from studio.player.backend import PLAYING
from studio.views.network import NetworkView
from studio.views.player import PlayerView
from tests.studio.conftest import http_json

TIMEOUT_MS = 20_000


@pytest.fixture
def network(qtbot: Any, api_client: Any, studio_server: Any) -> Iterator[NetworkView]:
    api_client.start_events(["cdn", "steering"])
    view = NetworkView(api_client)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitUntil(lambda: len(view.diagram.cards) >= 2, timeout=TIMEOUT_MS)
    yield view
    for edge in http_json(f"{studio_server.url}/api/edges")["edges"]:  # leave every edge as found
        if not edge["healthy"]:
            http_json(f"{studio_server.url}/api/edges/{edge['name']}/start", {})
        if edge.get("bandwidth_mbps") is not None and edge["bandwidth_mbps"] < 10:
            http_json(f"{studio_server.url}/api/edges/{edge['name']}/throttle", {"mbps": None})


def click_card(qtbot: Any, view: NetworkView, name: str) -> None:
    center = view.diagram.cards[name].center()
    qtbot.mouseClick(view.diagram, Qt.MouseButton.LeftButton, pos=center.toPoint())


def wait_playing(qtbot: Any, player: PlayerView, beyond_s: float) -> None:
    session = player.session
    qtbot.waitUntil(lambda: session.stats()["state"] == PLAYING and session.position_s > beyond_s,
                    timeout=TIMEOUT_MS)


def wait_feed(qtbot: Any, view: NetworkView, text: str) -> None:
    qtbot.waitUntil(lambda: any(text in row for row in view.feed.texts()), timeout=TIMEOUT_MS)


def test_diagram_shows_every_edge_and_a_click_selects_it(qtbot: Any, network: NetworkView) -> None:
    names = {e["name"] for e in network.edges}
    assert names == set(network.diagram.cards)
    assert set(network.diagram.regions) == {e["region"] for e in network.edges}
    name = sorted(names)[0]
    click_card(qtbot, network, name)
    assert network.panel.name == name
    assert "hit" in network.panel.details.text() and "cache" in network.panel.details.text()
    assert network.diagram.edge_at(QPointF(-5, -5)) == ""


def test_throttle_caps_the_edge_link_and_removes_the_cap(qtbot: Any, network: NetworkView) -> None:
    name = network.edges[0]["name"]
    click_card(qtbot, network, name)
    network.panel.mbps.setValue(2.5)
    qtbot.mouseClick(network.panel.cap, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (network.edge(name) or {}).get("bandwidth_mbps") == 2.5, timeout=TIMEOUT_MS)
    assert "link 2.5 Mbit/s" in network.panel.details.text()
    network.panel.mbps.setValue(0)
    qtbot.mouseClick(network.panel.cap, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (network.edge(name) or {}).get("bandwidth_mbps") != 2.5, timeout=TIMEOUT_MS)


def test_stopping_the_playing_edge_moves_playback_and_the_feed_says_why(
        qtbot: Any, api_client: Any, network: NetworkView, published_title: dict[str, Any]) -> None:
    player = PlayerView(api_client)
    qtbot.addWidget(player)
    try:
        qtbot.waitUntil(lambda: player.location.region.findData("eu-west") >= 0, timeout=TIMEOUT_MS)
        player.location.select_region("eu-west")
        player.open_title(published_title)
        wait_playing(qtbot, player, beyond_s=0.3)
        first, at = player.session.edge, player.session.position_s
        wait_feed(qtbot, network, f"| {first} |")  # the decision that picked it
        click_card(qtbot, network, first)
        qtbot.mouseClick(network.panel.toggle, Qt.MouseButton.LeftButton)   # "Stop edge"
        qtbot.waitUntil(lambda: player.session.edge not in ("", first), timeout=TIMEOUT_MS)
        wait_playing(qtbot, player, beyond_s=at)  # playback goes on from where it was
        wait_feed(qtbot, network, f"{first}: down")
        wait_feed(qtbot, network, f"| {published_title['title']} |")  # rows name the title, not its id
        assert "edge" in player.note.text() and first in player.note.text()  # "Now playing from X (was Y): …"
        assert network.panel.toggle.text() == "Start edge"
        assert not (network.edge(first) or {}).get("healthy", True)
    finally:
        player.shutdown()


def test_the_map_places_edges_by_location_and_draws_the_steering_choice(qtbot: Any,
                                                                       network: NetworkView) -> None:
    """West to east on the map: the US edges, then Europe's, then Singapore's; a decision from a viewer
    in London becomes an arrow from there to the chosen edge."""
    dots = network.diagram.dots
    by_region = {e["region"]: dots[e["name"]].x() for e in network.edges}
    assert by_region["us-east"] < by_region["eu-west"] < by_region["ap-southeast"]
    london, singapore = dots["lon-1"], dots["sin-1"]
    assert singapore.y() > london.y()  # north is up
    cards = list(network.diagram.cards.values())
    assert not any(a.intersects(b) for i, a in enumerate(cards) for b in cards[i + 1:])  # readable
    network.show_decision({"type": "decision", "client_latlon": [51.5, -0.1], "chosen": "ams-1"})
    viewer = network.diagram.viewer_point()
    assert viewer is not None and abs(viewer.x() - london.x()) < 2 and abs(viewer.y() - london.y()) < 2
    assert network.diagram.steered_to == "ams-1"
    network.show_decision({"type": "decision", "client_region": "ap-southeast", "client_latlon": None,
                           "chosen": "sin-1"})
    viewer = network.diagram.viewer_point()
    assert viewer is not None and network.diagram.regions["ap-southeast"].contains(viewer)
    assert network.diagram.edge_at(dots["kul-1"]) == "kul-1"   # the dot is clickable too
