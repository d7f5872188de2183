"""The consistency check of the store (``labelaudit doctor``): rows against the files on disk.

- **dangling**: a dataset or audit row whose artifact file is missing (data loss: the
  record cannot be audited or downloaded);
- **orphans**: artifact files no row refers to (space nobody is charged for);
- **temporary**: staged or withdrawn files (``*.part``, ``*.gone-*``) left by a killed process;
- **sizes**: rows whose ``stored_bytes`` differ from the file's size (usage figures would be wrong).

With ``fix``, orphans and temporary files older than ``min_age`` seconds are removed;
each orphan under its lock, in a transaction that checks again that no row refers to
it (:func:`labelaudit.store.owners.sweep`), so a concurrent upload of the same content keeps its file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select

from labelaudit.store import queries
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.db import Database
from labelaudit.store.models import AuditRecord, DatasetRecord
from labelaudit.store.owners import sweep


@dataclass
class Report:
    """What :func:`check_store` found (digests, row ids and paths as strings)."""

    dangling: list[dict] = field(default_factory=list)
    orphans: list[dict] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)
    sizes: list[dict] = field(default_factory=list)
    files: int = 0
    file_bytes: int = 0
    referenced_bytes: int = 0
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No dangling reference, orphan, temporary file or wrong size."""
        return not (self.dangling or self.orphans or self.temporary or self.sizes)

    def to_dict(self) -> dict:
        """The report as plain JSON values."""
        return {"ok": self.ok, "files": self.files, "file_bytes": self.file_bytes,
                "referenced_bytes": self.referenced_bytes, "dangling": self.dangling, "orphans": self.orphans,
                "temporary": self.temporary, "sizes": self.sizes, "removed": self.removed}


def check_store(db: Database, artifacts: ArtifactStore, *, fix: bool = False, min_age: float = 3600.0) -> Report:
    """Compare every row's artifact with the files under the artifact store; see the module docstring."""
    report = Report()
    with db.sessions() as s:
        refs = queries.artifact_references(s)
        sizes = {**{d: b for d, b in s.execute(select(DatasetRecord.artifact, DatasetRecord.stored_bytes))},
                 **{d: b for d, b in s.execute(select(AuditRecord.pred_probs_artifact, AuditRecord.stored_bytes)
                                               .where(AuditRecord.pred_probs_artifact.is_not(None)))}}
    on_disk: dict[str, int] = {}
    now = time.time()
    stale: list = []
    orphans: list[tuple[str, str]] = []
    for path, digest, ext in artifacts.files():
        try:
            st = path.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        if digest is None:
            report.temporary.append(str(path))
            if now - st.st_mtime > min_age:
                stale.append(path)
            continue
        report.files += 1
        report.file_bytes += st.st_size
        on_disk[digest] = st.st_size
        if digest not in refs:
            report.orphans.append({"digest": digest, "ext": ext, "bytes": st.st_size})
            if now - st.st_mtime > min_age:
                orphans.append((digest, ext))
        elif sizes.get(digest) != st.st_size:
            report.sizes.append({"digest": digest, "recorded": sizes.get(digest), "on_disk": st.st_size})
    for digest, ids in sorted(refs.items()):
        if digest in on_disk:
            report.referenced_bytes += on_disk[digest]
        else:
            report.dangling.append({"digest": digest, "rows": sorted(ids)})
    if fix:
        sweep(db, artifacts, orphans)
        report.removed += [d for d, ext in orphans if not artifacts.path(d, ext).exists()]
        for path in stale:
            path.unlink(missing_ok=True)
            report.removed.append(str(path))
    return report
