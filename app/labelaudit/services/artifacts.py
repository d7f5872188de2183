"""Artifacts no record refers to any more are removed after the transaction that dropped the last reference."""

from __future__ import annotations

from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.db import Database


def remove_unused(db: Database, artifacts: ArtifactStore, *items: tuple[str | None, str]) -> None:
    """Remove each ``(digest, ext)`` artifact that no dataset or audit (of any tenant) refers to any more."""
    with db.sessions() as s:
        for digest, ext in items:
            if digest and not queries.artifact_in_use(s, digest=digest):
                artifacts.remove(digest, ext)
