"""Artifacts with owners: shared content-addressed files placed and removed with the rows that point at them.

A file under ``<data_dir>/artifacts`` is shared by every dataset or audit (of any
tenant) with the same content: its reference count is the number of rows whose
``datasets.artifact`` or ``audits.pred_probs_artifact`` names it. The invariant is
*a committed row's file is at its address*. It holds because the file's life is
decided in the transaction that writes or deletes the rows, under a lock on the
file's digest (PostgreSQL: an advisory lock; SQLite: the database's write lock):

- :meth:`Owners.adopt` locks the digest and moves the staged file into place
  (a no-op when the same content is there) before the row is inserted;
- :meth:`Owners.drop` notes a digest whose row was deleted; before the commit
  the digests are locked and each one no row refers to any more is moved aside
  (:meth:`~labelaudit.store.artifacts.ArtifactStore.withdraw`), then purged after
  the commit, or put back if the commit fails.

So an upload and a delete of the same content, by two tenants at the same moment,
run one after the other: either the delete sees the new row and keeps the file,
or the upload finds the file gone and places its own copy.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy.orm import Session

from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore, Staged
from labelaudit.store.db import Database
from labelaudit.store.transactions import artifact_lock, lock_names, write_session

log = logging.getLogger("labelaudit.store")


class Owners:
    """The artifacts one write transaction takes (:meth:`adopt`) and drops (:meth:`drop`)."""

    def __init__(self, session: Session, db: Database, artifacts: ArtifactStore | None):
        self.session, self.db, self.artifacts = session, db, artifacts
        self.adopted: list[tuple[str, str]] = []
        self.dropped: list[tuple[str, str]] = []
        self.withdrawn: list[tuple[Path, str, str]] = []

    def adopt(self, staged: Staged) -> str:
        """Lock ``staged``'s digest and put its file in place; insert the row that refers to it in this
        transaction. Returns the digest."""
        lock_names(self.session, self.db, artifact_lock(staged.digest))
        self.artifacts.place(staged)
        self.adopted.append((staged.digest, staged.ext))
        return staged.digest

    def drop(self, digest: str | None, ext: str) -> None:
        """Note that a row referring to ``digest`` is deleted in this transaction."""
        if digest:
            self.dropped.append((digest, ext))

    def settle(self) -> None:
        """Before the commit: lock each dropped digest and move aside the files no row refers to any more."""
        items = sorted(set(self.dropped))
        if not items or self.artifacts is None:
            return
        self.session.flush()
        lock_names(self.session, self.db, *(artifact_lock(d) for d, _ in items))
        for digest, ext in items:
            if not queries.artifact_in_use(self.session, digest=digest):
                gone = self.artifacts.withdraw(digest, ext)
                if gone is not None:
                    self.withdrawn.append((gone, digest, ext))

    def undo(self) -> None:
        """The transaction failed: put back what was moved aside."""
        for gone, digest, ext in self.withdrawn:
            try:
                self.artifacts.restore(gone, digest, ext)
            except OSError:  # pragma: no cover - the disk failed too; `labelaudit doctor` reports it
                log.exception("could not put back artifact %s", digest)
        self.withdrawn = []

    def purge(self) -> None:
        """The transaction committed: delete what was moved aside."""
        for gone, _, _ in self.withdrawn:
            gone.unlink(missing_ok=True)


@contextmanager
def owning(db: Database, artifacts: ArtifactStore | None) -> Iterator[Owners]:
    """A write transaction (:func:`~labelaudit.store.transactions.write_session`) whose rows own artifacts.

    Committed when the block ends; on any failure, files it moved aside are put
    back and files it placed that no row refers to are removed again.
    """
    owners: Owners | None = None
    try:
        with write_session(db) as s:
            owners = Owners(s, db, artifacts)
            yield owners
            owners.settle()
    except BaseException:
        if owners is not None and artifacts is not None:
            owners.undo()
            sweep(db, artifacts, owners.adopted)
        raise
    if owners is not None:
        owners.purge()


def sweep(db: Database, artifacts: ArtifactStore, items: list[tuple[str, str]]) -> None:
    """Remove each ``(digest, ext)`` file that no row refers to (after a failed write); best effort."""
    if not items:
        return
    try:
        with owning(db, artifacts) as owners:
            for digest, ext in items:
                owners.drop(digest, ext)
    except Exception:  # the database failed again: the files stay as orphans for `labelaudit doctor`
        log.warning("could not remove artifacts of a failed write: %s", ", ".join(d for d, _ in items),
                    exc_info=True)
