"""What a killed process leaves on disk, found by the owner named in its file names, and cleaned at start-up.

Upload folders are ``<data_dir>/tmp/upload-<owner>-<random>``, staged artifacts
``<artifacts>/stage-<owner>-<random>.part`` and withdrawn ones ``<digest>.<ext>.gone-<owner>-<random>``;
the owner is a :func:`~labelaudit.store.processes.process_tag`.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from labelaudit.store.artifacts import ArtifactStore
from labelaudit.store.processes import is_gone

log = logging.getLogger("labelaudit.store")
_UPLOAD = re.compile(r"upload-(\d+\.\d+)-")
_STAGE = re.compile(r"stage-(\d+\.\d+)-.*\.part$")
_GONE = re.compile(r"^(.+\.(?:npz|npy))\.gone-(\d+\.\d+)-")


def clean_leftovers(data_dir: Path, artifacts: ArtifactStore, *, stale_seconds: float) -> list[Path]:
    """Remove upload folders and staged files of processes that are gone (or older than ``stale_seconds``),
    and put back withdrawn artifacts whose process died before it committed; returns what was touched."""
    touched: list[Path] = []
    cutoff = time.time() - stale_seconds
    tmp = data_dir / "tmp"
    for entry in (tmp.glob("upload-*") if tmp.is_dir() else ()):
        m = _UPLOAD.match(entry.name)
        try:
            dead = (m is not None and is_gone(m[1])) or entry.stat().st_mtime < cutoff
        except OSError:
            continue
        if dead:
            shutil.rmtree(entry, ignore_errors=True)
            touched.append(entry)
    if artifacts.root.is_dir():
        for entry in artifacts.root.glob("stage-*.part"):
            m = _STAGE.match(entry.name)
            if m and is_gone(m[1]):
                entry.unlink(missing_ok=True)
                touched.append(entry)
        for entry in artifacts.root.glob("*/*.gone-*"):
            m = _GONE.match(entry.name)
            if m and is_gone(m[2]):
                digest, _, ext = m[1].partition(".")
                artifacts.restore(entry, digest, ext)  # an orphan at worst, which `labelaudit doctor --fix` removes
                touched.append(entry)
    if touched:
        log.info("removed %d leftovers of processes that are gone", len(touched), extra={"event": "leftovers"})
    return touched
