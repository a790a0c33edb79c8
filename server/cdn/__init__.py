"""CDN simulation: edge caches, eviction policies, steering, health, proactive fill."""
