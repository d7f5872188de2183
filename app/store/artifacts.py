"""Large arrays on disk, addressed by the sha256 of their bytes.

``<data_dir>/artifacts/<ab>/<sha256>.<ext>``; a file is written to a temporary
name and renamed into place, so a reader never sees half a file and writing the
same content twice is a no-op.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from app.audit.dataset import Dataset

CHUNK = 1024 * 1024


class ArtifactStore:
    """Content-addressed files under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str, ext: str) -> Path:
        """Where the artifact ``digest`` with extension ``ext`` lives."""
        return self.root / digest[:2] / f"{digest}.{ext}"

    def put_bytes(self, data: bytes, ext: str) -> str:
        """Store ``data``; returns its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest, ext)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        return digest

    def put_array(self, array: np.ndarray) -> str:
        """Store one array as ``.npy``; returns its sha256."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        return self.put_bytes(buf.getvalue(), "npy")

    def put_dataset(self, ds: Dataset) -> str:
        """Store a dataset's arrays as one ``.npz``; returns its sha256."""
        arrays = {"labels": ds.labels}
        for key in ("features", "pred_probs", "true_labels"):
            value = getattr(ds, key)
            if value is not None:
                arrays[key] = value
        if ds.example_ids is not None:
            arrays["example_ids"] = np.asarray(ds.example_ids).astype(str)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return self.put_bytes(buf.getvalue(), "npz")

    def load_dataset(self, digest: str, *, class_names: list[str], modality: str,
                     feature_names: list[str] | None = None) -> Dataset:
        """Read back a dataset stored with :meth:`put_dataset`."""
        with np.load(self.path(digest, "npz"), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return Dataset(labels=arrays["labels"].astype(np.int64), class_names=list(class_names), modality=modality,
                       features=arrays.get("features"), pred_probs=arrays.get("pred_probs"),
                       true_labels=arrays.get("true_labels"), example_ids=arrays.get("example_ids"),
                       feature_names=feature_names)

    def size(self, digest: str, ext: str) -> int:
        """Bytes the artifact takes on disk (0 when absent)."""
        try:
            return self.path(digest, ext).stat().st_size
        except FileNotFoundError:
            return 0

    def remove(self, digest: str | None, ext: str) -> None:
        """Delete an artifact if present (callers check it is no longer referenced)."""
        if digest:
            self.path(digest, ext).unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()
