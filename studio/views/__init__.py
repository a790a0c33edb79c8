"""Main views of the studio window."""
