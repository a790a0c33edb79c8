"""Consistent hashing: which edges of a region are a title's home, stable when edges come and go."""

from __future__ import annotations

import bisect
import hashlib


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """Each node sits at `vnodes` points on a 64-bit circle; a key belongs to the next nodes clockwise."""

    def __init__(self, nodes: list[str], vnodes: int = 64) -> None:
        self.nodes = sorted(set(nodes))
        pairs = sorted((_point(f"{node}#{i}"), node) for node in self.nodes for i in range(vnodes))
        self._points = [p for p, _ in pairs]
        self._owners = [n for _, n in pairs]

    def nodes_for(self, key: str, copies: int = 1) -> list[str]:
        """The first `copies` distinct nodes clockwise from the key's point (fewer if the ring is small)."""
        if not self._points:
            return []
        found: list[str] = []
        start = bisect.bisect(self._points, _point(key))
        for i in range(len(self._points)):
            node = self._owners[(start + i) % len(self._points)]
            if node not in found:
                found.append(node)
                if len(found) == min(copies, len(self.nodes)):
                    break
        return found
