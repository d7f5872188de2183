"""One example out of the artifact store without loading whole arrays: features, pixels, pred_probs.

Datasets are stored as uncompressed ``.npz`` files (``np.savez``), so each member
is a plain ``.npy`` at a fixed offset inside the zip: it is memory-mapped and
one row costs one page read. pred_probs artifacts are ``.npy`` and map directly.
"""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from labelaudit.errors import NotFound
from labelaudit.store.artifacts import ArtifactStore, map_npz_member


@lru_cache(maxsize=64)
def _mapped_member(path: str, member: str, mtime_ns: int) -> np.ndarray | None:
    """``member`` of a dataset ``.npz``: memory-mapped when stored uncompressed, else read whole; ``None`` when absent."""
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo(member + ".npy")
        except KeyError:
            return None
        if info.compress_type != zipfile.ZIP_STORED:
            return np.load(io.BytesIO(zf.read(info)), allow_pickle=False)
    return map_npz_member(Path(path), member)


def dataset_member(artifacts: ArtifactStore, digest: str, member: str) -> np.ndarray | None:
    """The array ``member`` (``features``, ``labels``, ``example_ids``, ...) of a stored dataset, memory-mapped;
    ``None`` when the dataset has no such array."""
    path = artifacts.path(digest, "npz")
    if not path.exists():
        raise NotFound("the dataset's artifact is missing", field="dataset_id")
    if member == "example_ids":  # strings: small enough to read whole, and not mappable as unicode arrays often are
        with np.load(path, allow_pickle=False) as z:
            return z["example_ids"] if "example_ids" in z.files else None
    return _mapped_member(str(path), member, path.stat().st_mtime_ns)


def pred_probs_row(artifacts: ArtifactStore, digest: str, index: int) -> np.ndarray:
    """Row ``index`` of a stored pred_probs ``.npy`` (memory-mapped)."""
    path = artifacts.path(digest, "npy")
    if not path.exists():
        raise NotFound("the pred_probs artifact is missing", field="pred_probs")
    return np.asarray(_mapped_npy(str(path), path.stat().st_mtime_ns)[index], dtype=np.float64)


@lru_cache(maxsize=64)
def _mapped_npy(path: str, mtime_ns: int) -> np.ndarray:
    return np.load(path, mmap_mode="r", allow_pickle=False)


