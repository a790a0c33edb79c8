"""Ingest jobs: persisted job and task state, the local executor, resume and retry."""
