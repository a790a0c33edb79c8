"""Search: one Whoosh index with one writer, facets, suggestions."""

SORTS = ("relevance", "newest", "views")  # here, not in service.py: the CLI lists them without Whoosh
