"""MiniFlix engine: media pipeline, jobs, storage, events, CDN, analytics and search (no GUI, no HTTP)."""

__version__ = "0.1.0"
