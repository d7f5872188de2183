"""The audit domain: pure functions on numpy arrays (ingest, noise, cross-validation, ranking)."""
