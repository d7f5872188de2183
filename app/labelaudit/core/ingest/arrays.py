"""Datasets given as arrays: NPZ archives, and ``X``/``y`` arrays in memory (:func:`from_arrays`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.archives import check_zip_limits, open_zip
from labelaudit.core.ingest.labels import encode_labels
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.messages import first_line, preview
from labelaudit.core.ingest.npy import READ_ERRORS, load_npy, map_data, npy_header
from labelaudit.core.ingest.pred_probs import from_pred_probs
from labelaudit.core.ingest.sources import Source
from labelaudit.core.ingest.validation import check_finite
from labelaudit.core.mapped import stored_member_offset
from labelaudit.errors import IngestError

#: NPZ keys of predicted probabilities, in order of preference
_PRED_PROBS_KEYS = ("pred_probs", "pyx")


def read_npz(source: Source, *, temp_dir: str | Path | None = None, limits: IngestLimits = IngestLimits()) -> Dataset:
    """Read an NPZ archive.

    Keys: ``X`` (features ``(n, d)`` or images ``(n, h, w)``, ``(n, h, w, c)``,
    ``(n, c, h, w)``) and ``y`` (labels); or ``pred_probs`` and ``y``. Optional:
    ``class_names``, ``true_labels``. The archive gets the zip-bomb checks of image
    archives, and each array's header is checked against its member's size before
    it is read; members that are not ``.npy`` files are ignored.

    From a path, a ``pred_probs`` (or ``pyx``) member stored uncompressed (as
    ``np.savez`` writes it) is not read into memory but mapped where it lies in the
    archive, after zipfile has read it through once in chunks (so its CRC and length
    are checked as reading would check them); see :func:`from_pred_probs` for
    ``temp_dir``. A compressed member (``np.savez_compressed``) is read whole, as
    is every array of an archive given as bytes or a stream.

    Parameters
    ----------
    source : path, bytes or binary file
        The NPZ archive.
    temp_dir : path, optional
        Where a converted or repaired copy of mapped probabilities is written.
    limits : IngestLimits
        The archive limits (``max_zip_*``) and ``max_array_bytes`` apply here.

    Returns
    -------
    Dataset

    Raises
    ------
    IngestError
        One error naming the array (or the file) at fault.
    """
    arrays = {}
    mappable = isinstance(source, (str, Path))
    with open_zip(source, what="NPZ", limits=limits) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        check_zip_limits(members, limits)
        for m in members:
            if not m.filename.endswith(".npy"):
                continue
            key = m.filename[:-4]
            try:
                if mappable and key in _PRED_PROBS_KEYS and m.compress_type == zipfile.ZIP_STORED:
                    arrays[key] = _map_npz_member(archive, m, source, field=key, max_bytes=limits.max_array_bytes)
                else:
                    arrays[key] = load_npy(lambda m=m: archive.open(m), m.file_size, field=key,
                                           max_bytes=limits.max_array_bytes)
            except READ_ERRORS as exc:
                raise IngestError(f"could not read {m.filename!r} in the NPZ file: {first_line(exc)}", field=key,
                                  code="parse_error") from exc

    def pick(*keys):
        for k in keys:
            if k in arrays:
                return arrays[k]
        return None

    y = pick("y", "labels", "label")
    if y is None:
        raise IngestError(f"no labels array 'y' in the NPZ (keys: {preview(list(arrays))})", field="y",
                          code="missing_label_column")
    names = pick("class_names", "classes")
    true = pick("true_labels", "y_true")
    pred_probs = pick(*_PRED_PROBS_KEYS)
    X = pick("X", "x", "features", "images")
    if X is None and pred_probs is not None:
        return from_pred_probs(pred_probs, y, class_names=names, true_labels=true, temp_dir=temp_dir)
    if X is None:
        raise IngestError(f"no features array 'X' in the NPZ (keys: {preview(list(arrays))})", field="X",
                          code="missing_features")
    return from_arrays(X, y, class_names=names, true_labels=true)


def _map_npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | Path, *, field: str,
                    max_bytes: int) -> np.ndarray:
    """The stored (uncompressed) ``.npy`` member ``info`` of the NPZ at ``path`` as a read-only memory map.

    The member's header gets the checks of :func:`~labelaudit.core.ingest.npy.load_npy`, then
    zipfile reads the member through in 1 MB pieces (local header, CRC and length checked as a
    full read checks them; nothing is kept), then its data are mapped where they lie in the file.
    """
    with archive.open(info) as fh:
        shape, fortran, dtype, header = npy_header(fh, info.file_size, field=field, max_bytes=max_bytes)
        while fh.read(1 << 20):
            pass
    with open(path, "rb") as raw:
        start = stored_member_offset(raw, info)
    return map_data(path, start + header, shape, dtype, fortran, field=field)


def from_arrays(
    X: np.ndarray,
    y: np.ndarray,
    *,
    class_names=None,
    true_labels: np.ndarray | None = None,
) -> Dataset:
    """Build a dataset from a feature or image array and labels.

    A 2-D ``X`` is a feature table; 3-D ``(n, h, w)`` and 4-D arrays are images
    (channels-last when the last axis has 1, 3 or 4 entries and the second not).

    Parameters
    ----------
    X : np.ndarray
        Numbers, ``(n, d)`` features or ``(n, h, w[, c])`` / ``(n, c, h, w)`` images.
    y : np.ndarray
        ``(n,)`` labels: class names (text) or class ids.
    class_names : array-like of str, optional
        With id labels: the name of each id (the ids are then kept as they are).
    true_labels : np.ndarray, optional
        Known true labels, in the terms of ``y``.

    Returns
    -------
    Dataset
        A ``tabular`` (float32 features) or ``image`` (uint8 or float32, ``(n, c, h, w)``) dataset.

    Raises
    ------
    IngestError
        Features that are not finite numbers of a known shape, or labels that do not match them
        (see :func:`~labelaudit.core.ingest.labels.encode_labels`).
    """
    X = np.asarray(X)
    if X.dtype.kind not in "iufb":
        raise IngestError(f"features must be numbers, not {X.dtype}", field="X", code="non_numeric_feature")
    labels, true, names = encode_labels(y, true_labels, class_names=class_names)
    if X.ndim == 0 or X.shape[0] != labels.shape[0]:
        raise IngestError(f"X has {X.shape[0] if X.ndim else 0} rows but y has {labels.shape[0]}", field="y",
                          code="length_mismatch")
    if X.ndim == 2:
        with np.errstate(over="ignore"):  # values beyond float32 become inf, which check_finite names
            features = X.astype(np.float32, copy=False)
        check_finite(features, None)
        modality = "tabular"
    elif X.ndim in (3, 4):
        features = _to_nchw(X)
        if features.dtype != np.uint8:
            with np.errstate(over="ignore"):
                features = features.astype(np.float32, copy=False)
            check_finite(features, None)
        modality = "image"
    else:
        raise IngestError(f"X must be 2-D (n, d) or images (n, h, w[, c]), got shape {X.shape}", field="X",
                          code="invalid_shape")
    if features.shape[0] and features[0].size == 0:
        raise IngestError("X has no features", field="X", code="invalid_shape")
    return Dataset(labels=labels, class_names=names, modality=modality, features=features, true_labels=true)


def _to_nchw(X: np.ndarray) -> np.ndarray:
    if X.ndim == 3:
        return np.ascontiguousarray(X[:, None, :, :])
    if X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    return np.ascontiguousarray(X)
