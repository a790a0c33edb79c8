"""CDN simulation: edge caches, eviction policies, steering, health, proactive fill.

`topology` (where the edges are) · `tokens` (signed, expiring path tokens) · `origin` (pulling from
a blob store or over HTTP) · `policies` (LRU, FIFO, S3-FIFO, W-TinyLFU behind one registry) · `cache` (an
edge's objects on disk: TTL, collapsed misses, stale-if-error) · `edge` + `edge_http` (one edge: its
own loopback listener, simulated link, counters) · `cluster` (all edges, health monitor, consistent
hashing) · `steering` (ranking with reasons, HLS Content Steering) · `fill` (proactive push) ·
`simulate` (offline traces, Belady's MIN) · `clock` (real or manual time) · `events` (off-path
publishing).
"""
