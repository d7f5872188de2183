"""Large arrays on disk, addressed by the sha256 of their bytes.

``<data_dir>/artifacts/<ab>/<sha256>.<ext>``; a file is written to a temporary
name (staged) and renamed into place, so a reader never sees half a file and
writing the same content twice is a no-op. Files are shared by every record
(of any tenant) with the same content; :mod:`labelaudit.store.owners` places and
removes them under a lock, in the transaction that writes or deletes those records.

Arrays are streamed to disk in chunks and hashed on the way (never a second copy
in memory). Datasets are uncompressed ``.npz`` files with fixed timestamps (the
same arrays always give the same bytes); their ``pred_probs`` are stored as
float32, first in the file (so the values are 64-byte aligned), and read back as
a read-only memory map: a million-row audit does not load them into memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.mapped import release_pages, stored_member_offset
from labelaudit.store.processes import process_tag

if TYPE_CHECKING:
    from labelaudit.config import Settings
    from labelaudit.store.models import DatasetRecord

#: Bytes of an array converted and written at a time.
WRITE_CHUNK = 16 * 1024 * 1024
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same arrays, the same bytes, the same digest


class _HashingWriter:
    """A write-only, unseekable file that hashes what passes through (zipfile then streams, no seeking back)."""

    def __init__(self, fh):
        self.fh, self.hash, self.pos = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.hash.update(view)
        self.fh.write(view)
        self.pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.fh.flush()


def write_npy(out, array: np.ndarray, dtype=None) -> None:
    """Write ``array`` (converted to ``dtype``) to the file ``out`` in ``.npy`` format, chunk by chunk.

    The bytes are those of ``np.save(out, np.ascontiguousarray(array, dtype))``, without that copy.
    A read-only memory-mapped ``array`` gives back each chunk's pages once written, so
    writing it keeps one chunk resident, not the array.
    """
    array = np.asarray(array)
    if array.ndim == 0:
        array = array.reshape(1)  # as np.ascontiguousarray does
    dtype = np.dtype(dtype or array.dtype)
    if dtype.hasobject:
        raise ValueError("object arrays are not stored")
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": array.shape}
    np.lib.format.write_array_header_1_0(out, header)
    if array.size == 0:
        return
    row_bytes = max(1, int(np.prod(array.shape[1:], dtype=np.int64)) * max(dtype.itemsize, array.dtype.itemsize))
    rows = max(1, WRITE_CHUNK // row_bytes)
    for s in range(0, array.shape[0], rows):
        part = array[s:s + rows]
        out.write(memoryview(np.ascontiguousarray(part, dtype=dtype)).cast("B"))
        release_pages(part)


@dataclass(frozen=True)
class Staged:
    """An artifact written to a temporary file and hashed, not yet at its address."""

    digest: str
    ext: str
    tmp: Path | None
    size: int


class ArtifactStore:
    """Content-addressed files under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str, ext: str) -> Path:
        """Where the artifact ``digest`` with extension ``ext`` lives."""
        return self.root / digest[:2] / f"{digest}.{ext}"

    def put_bytes(self, data: bytes, ext: str) -> str:
        """Store ``data``; returns its sha256 (no owner: for tools and tests, see :mod:`labelaudit.store.owners`)."""
        return self.place(self._stage(ext, lambda out: out.write(data)))

    def _stage(self, ext: str, write) -> Staged:
        """Write what ``write(file)`` writes to a temporary file, hashed on the way; not yet in place."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f"stage-{process_tag()}-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                out = _HashingWriter(fh)
                write(out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Staged(out.hash.hexdigest(), ext, Path(tmp), out.pos)

    def place(self, staged: Staged) -> str:
        """Move a staged file to its address (dropped when the same content is already there); returns its digest.

        Callers that keep a record of it call this under the artifact's lock
        (:class:`labelaudit.store.owners.Owners`), in the transaction that writes the record.
        """
        target = self.path(staged.digest, staged.ext)
        if staged.tmp is None or not staged.tmp.exists():
            return staged.digest
        if target.exists():
            staged.tmp.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.tmp, target)
        return staged.digest

    def discard(self, staged: Staged) -> None:
        """Remove a staged file that was not placed."""
        if staged.tmp is not None:
            staged.tmp.unlink(missing_ok=True)

    def withdraw(self, digest: str, ext: str) -> Path | None:
        """Move an artifact away from its address (to be purged once the transaction dropping it commits, or put
        back if it fails); ``None`` when it was not there."""
        target = self.path(digest, ext)
        gone = target.with_name(f"{target.name}.gone-{process_tag()}-{os.urandom(4).hex()}")
        try:
            os.replace(target, gone)
        except FileNotFoundError:
            return None
        return gone

    def restore(self, gone: Path, digest: str, ext: str) -> None:
        """Put a withdrawn artifact back (its transaction failed); identical content already there wins."""
        target = self.path(digest, ext)
        if target.exists():
            gone.unlink(missing_ok=True)
        else:
            os.replace(gone, target)

    def files(self):
        """``(path, digest, ext)`` of every artifact at its address; temporary files come as ``(path, None, None)``."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            digest, _, ext = path.name.partition(".")
            if len(digest) == 64 and ext in ("npz", "npy") and path.parent.name == digest[:2]:
                yield path, digest, ext
            else:
                yield path, None, None

    def stage_array(self, array: np.ndarray, *, dtype=None) -> Staged:
        """Stage one array (converted to ``dtype``) as ``.npy``, streamed."""
        return self._stage("npy", lambda out: write_npy(out, array, dtype))

    def put_array(self, array: np.ndarray, *, dtype=None) -> str:
        """Store one array (converted to ``dtype``) as ``.npy``, streamed; returns its sha256 (no owner)."""
        return self.place(self.stage_array(array, dtype=dtype))

    def put_dataset(self, ds: Dataset) -> str:
        """Store a dataset as with :meth:`stage_dataset` and place it; returns its sha256 (no owner)."""
        return self.place(self.stage_dataset(ds))

    def stage_dataset(self, ds: Dataset) -> Staged:
        """Stage a dataset's arrays as one uncompressed ``.npz`` (pred_probs first, as float32)."""
        arrays: dict[str, tuple[np.ndarray, object]] = {}
        if ds.pred_probs is not None:
            arrays["pred_probs"] = (ds.pred_probs, np.float32)
        arrays["labels"] = (ds.labels, None)
        for key in ("features", "true_labels"):
            value = getattr(ds, key)
            if value is not None:
                arrays[key] = (value, None)
        if ds.example_ids is not None:
            arrays["example_ids"] = (np.asarray(ds.example_ids).astype(str), None)
        for name, column in (ds.extra_columns or {}).items():
            arrays[EXTRA_PREFIX + name] = (np.asarray(column).astype(str), None)
        if ds.texts is not None:
            arrays["texts"] = (np.asarray(ds.texts).astype(str), None)

        def write(out) -> None:
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, (array, dtype) in arrays.items():
                    info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_TIME)
                    info.external_attr = 0o600 << 16
                    with zf.open(info, "w", force_zip64=True) as member:
                        write_npy(member, np.asarray(array), dtype)

        return self._stage("npz", write)

    def load_dataset(self, digest: str, *, class_names: list[str], modality: str,
                     feature_names: list[str] | None = None, feature_types: list[str] | None = None,
                     text_names: list[str] | None = None, meta: dict | None = None) -> Dataset:
        """Read back a dataset stored with :meth:`put_dataset`; ``pred_probs`` come memory-mapped (read-only).

        ``feature_types``, ``text_names`` and ``meta`` (schema, missing labels) come from the record."""
        path = self.path(digest, "npz")
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "pred_probs"}
            if "pred_probs" in z.files:
                arrays["pred_probs"] = map_npz_member(path, "pred_probs")
                if arrays["pred_probs"] is None:  # compressed: read it
                    arrays["pred_probs"] = z["pred_probs"]
        return Dataset(labels=arrays["labels"].astype(np.int64), class_names=list(class_names), modality=modality,
                       features=arrays.get("features"), pred_probs=arrays.get("pred_probs"),
                       true_labels=arrays.get("true_labels"), example_ids=arrays.get("example_ids"),
                       extra_columns={k[len(EXTRA_PREFIX):]: v for k, v in arrays.items()
                                      if k.startswith(EXTRA_PREFIX)} or None,
                       feature_names=feature_names, feature_types=feature_types, texts=arrays.get("texts"),
                       text_names=text_names, meta=dict(meta or {}))

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


#: Members of a stored dataset holding its extra columns (``Dataset.extra_columns``) start with this.
EXTRA_PREFIX = "extra."


def artifact_store(settings: Settings) -> ArtifactStore:
    """The artifact store of ``settings`` (``<data_dir>/artifacts``)."""
    return ArtifactStore(settings.data_dir / "artifacts")


def dataset_arrays(artifacts: ArtifactStore, rec: DatasetRecord) -> Dataset:
    """The stored dataset ``rec`` as a :class:`Dataset` (pred_probs memory-mapped)."""
    meta = rec.meta or {}
    return artifacts.load_dataset(rec.artifact, class_names=rec.class_names, modality=rec.modality,
                                  feature_names=meta.get("feature_names"), feature_types=meta.get("feature_types"),
                                  text_names=meta.get("text_names"),
                                  meta={k: meta[k] for k in ("schema", "missing_labels", "id_column", "categories")
                                        if k in meta})


def map_npz_member(path: Path, member: str) -> np.ndarray | None:
    """The array ``member`` of an uncompressed ``.npz`` as a read-only memory map (``None`` when it is compressed).

    An uncompressed member is a plain ``.npy`` at a fixed offset in the zip file.
    """
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member + ".npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as fh:
        fh.seek(stored_member_offset(fh, info))
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if dtype.hasobject:
        return None
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, offset=offset, order="F" if fortran else "C")
