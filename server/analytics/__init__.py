"""Analytics: one DuckDB file, one writer thread, named queries."""
