"""Search: one Whoosh index with one writer, facets, suggestions."""
