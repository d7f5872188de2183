"""The caller's own out-of-sample predicted probabilities: checked, and repaired within a tolerance, in
chunks, so a memory-mapped file is never read whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from labelaudit.core.constants import PRED_PROBS_CHUNK_BYTES, PRED_PROBS_TOLERANCE
from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest.labels import class_name_list, label_values
from labelaudit.core.ingest.limits import IngestLimits
from labelaudit.core.ingest.npy import read_npy
from labelaudit.core.ingest.sources import Source, sibling_labels
from labelaudit.core.mapped import is_mapped, map_array, release_pages
from labelaudit.errors import IngestError


def read_pred_probs(source: Source, labels: Source | np.ndarray | None, *, temp_dir: str | Path | None = None,
                    limits: IngestLimits = IngestLimits()) -> Dataset:
    """Read ``pred_probs`` from a ``.npy`` file and labels from another ``.npy`` (or an array).

    From a path the probabilities are memory-mapped, not read (see :func:`from_pred_probs`
    for ``temp_dir``); from bytes or a stream they are read into memory. Labels are read.

    Parameters
    ----------
    source : path, bytes or binary file
        The ``(n, k)`` probabilities as a ``.npy`` file.
    labels : path, bytes, file or array, optional
        The labels; found next to a path when omitted (``*_pyx.npy`` with
        ``*_original_labels.npy`` or ``*_labels.npy``, ``*pred_probs*`` with ``*labels*``).
    temp_dir : path, optional
        Where a converted or repaired copy of mapped probabilities is written.
    limits : IngestLimits
        ``max_array_bytes`` caps each ``.npy`` array.

    Returns
    -------
    Dataset
        A ``pred_probs`` dataset.

    Raises
    ------
    IngestError
        Missing or unreadable labels or probabilities, or probabilities that break
        the rules of :func:`from_pred_probs`.
    """
    pred_probs = read_npy(source, field="pred_probs", mmap=True, limits=limits)
    if labels is None:
        labels = sibling_labels(source, ("_pyx", "_original_labels"), ("_pyx", "_labels"),
                                ("pred_probs", "labels"))
    if labels is None:
        raise IngestError("predicted probabilities need their labels (a .npy file of class ids)", field="labels",
                          code="missing_labels")
    y = labels if isinstance(labels, np.ndarray) else read_npy(labels, field="labels", limits=limits)
    return from_pred_probs(pred_probs, y, temp_dir=temp_dir)


def from_pred_probs(pred_probs, labels, *, class_names=None, true_labels=None,
                    temp_dir: str | Path | None = None) -> Dataset:
    """Validate the caller's out-of-sample probabilities (n x k) and labels.

    Values may stray from [0, 1] and rows from summing to 1 by at most
    :data:`PRED_PROBS_TOLERANCE`; such rows are clipped and renormalised. Larger
    errors are rejected with the first offending row named.

    The rows are checked in chunks of about :data:`PRED_PROBS_CHUNK_BYTES` (no n x k
    temporaries), so a read-only memory map (what :func:`read_pred_probs` gives for a
    path) is never read whole, and its pages are given back as each chunk is done.
    Native float32 stays float32 and anything else becomes float64, as before; valid
    values in that dtype are used as they are (a map stays a map). Values that need
    conversion or repair are written chunk by chunk: for an in-memory input into a new
    array, for a memory-mapped one into a temporary file in ``temp_dir`` (default: the
    system's temporary folder) that is mapped read-only and unlinked at once, so it
    takes disk space only while the returned dataset holds it and is never left behind.

    Parameters
    ----------
    pred_probs : array-like, shape (n, k)
        Out-of-sample probabilities, one column per class.
    labels : array-like, shape (n,)
        Given labels as class ids ``0..k-1``.
    class_names : array-like of str, optional
        The name of each column (default: ``"0"`` to ``"k-1"``).
    true_labels : array-like, shape (n,), optional
        Known true labels as class ids.
    temp_dir : path, optional
        Where a converted or repaired copy of a memory-mapped input is written.

    Returns
    -------
    Dataset
        A ``pred_probs`` dataset (float32 or float64 probabilities).

    Raises
    ------
    IngestError
        Probabilities of the wrong kind or shape, non-finite, or off their range
        beyond the tolerance (the first offending row named), and labels, true
        labels or class names that do not match them.
    """
    P = np.asarray(pred_probs)
    if P.dtype.kind not in "fiu":
        raise IngestError(f"pred_probs must be numbers, not {P.dtype}", field="pred_probs", code="invalid_dtype")
    if P.ndim != 2:
        raise IngestError(f"pred_probs must be 2-D (n, k), got shape {P.shape}", field="pred_probs",
                          code="invalid_shape")
    n, k = P.shape
    if k < 2:
        raise IngestError(f"pred_probs has {k} column; it needs one per class (at least 2)", field="pred_probs",
                          code="invalid_shape")
    y = np.asarray(labels)
    if y.ndim != 1:
        raise IngestError(f"labels must be 1-D, got shape {y.shape}", field="labels", code="invalid_shape")
    if y.shape[0] != n:
        raise IngestError(f"pred_probs has {n} rows but labels has {y.shape[0]}", field="labels",
                          code="length_mismatch")
    y = label_values(y, "labels") if y.dtype.kind in "iufb" else None
    if y is None or y.dtype.kind not in "iu":
        raise IngestError("labels must be integer class ids matching the pred_probs columns", field="labels",
                          code="invalid_labels")
    if n and (y.min() < 0 or y.max() >= k):
        raise IngestError(f"labels must lie in 0..{k - 1} (one per pred_probs column)", field="labels",
                          code="label_out_of_range")
    work = np.dtype(np.float32 if P.dtype == np.float32 else np.float64)
    repair = _check_pred_probs(P, work)
    if repair or P.dtype != work:
        P = _rewrite_pred_probs(P, work, repair=repair, temp_dir=temp_dir)
    if class_names is not None:
        names = class_name_list(class_names)
        if len(names) != k:
            raise IngestError(f"class_names lists {len(names)} classes but pred_probs has {k} columns",
                              field="class_names", code="length_mismatch")
    else:
        names = [str(i) for i in range(k)]
    true = None
    if true_labels is not None:
        true = label_values(np.asarray(true_labels), "true_labels")
        if true.dtype.kind not in "iu":
            raise IngestError("true_labels must be integer class ids matching the pred_probs columns",
                              field="true_labels", code="invalid_labels")
    return Dataset(labels=y, class_names=names, modality="pred_probs", pred_probs=P, true_labels=true,
                   meta={"format": "pred-probs"})


def _pred_probs_chunks(P: np.ndarray, work: np.dtype):
    """``(first row, rows as ``work``)`` in chunks of :data:`PRED_PROBS_CHUNK_BYTES`; a mapped chunk's
    pages are given back once the caller moves on.

    A chunk keeps the layout of ``P`` (a Fortran-ordered chunk stays one), so its row sums are
    added in the same order as the whole array's would be: the same float rounding, bit for bit.
    """
    n, k = P.shape
    rows = max(1, PRED_PROBS_CHUNK_BYTES // (k * work.itemsize))
    for start in range(0, n, rows):
        view = P[start:start + rows]
        yield start, view.astype(work, copy=False)
        release_pages(view)


def _check_pred_probs(P: np.ndarray, work: np.dtype) -> bool:
    """Check ``P`` chunk by chunk; return whether it needs clipping and renormalising.

    Errors (and their order, first rows and counts) are those of the whole-array
    checks: NaN or infinity anywhere first, then values outside [0, 1] beyond the
    tolerance, then row sums off 1 beyond it.
    """
    tol = PRED_PROBS_TOLERANCE
    out_of_range = bad_sum = 0
    first_out = first_bad = first_bad_sum = None
    repair = False
    for start, block in _pred_probs_chunks(P, work):
        with np.errstate(over="ignore", invalid="ignore"):
            sums = block.sum(axis=1)
        if not np.isfinite(sums).all():  # a NaN or infinity makes its row sum one; float overflow does too
            finite = np.isfinite(block).all(axis=1)
            if not finite.all():
                row = start + int(np.flatnonzero(~finite)[0])
                raise IngestError(f"row {row} has NaN or infinity", field="pred_probs", code="non_finite")
        # finite from here, so a row's min and max say what comparing every value would
        low, high = block.min(axis=1), block.max(axis=1)
        outside = (low < -tol) | (high > 1 + tol)
        if outside.any():
            if first_out is None:
                first_out = start + int(np.flatnonzero(outside)[0])
            out_of_range += int(outside.sum())
        off = np.abs(sums - 1.0)
        bad = off > tol
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if first_bad is None:
                first_bad, first_bad_sum = start + i, sums[i]
            bad_sum += int(bad.sum())
        repair = repair or bool(low.min() < 0 or high.max() > 1 or (off > 1e-7).any())
    if out_of_range:
        raise IngestError(f"row {first_out} has values outside [0, 1] ({out_of_range} such rows)",
                          field="pred_probs", code="out_of_range")
    if bad_sum:
        raise IngestError(f"row {first_bad} sums to {first_bad_sum:.6g}, not 1 ({bad_sum} such rows)",
                          field="pred_probs", code="not_normalised")
    return repair


def _rewrite_pred_probs(P: np.ndarray, work: np.dtype, *, repair: bool, temp_dir: str | Path | None) -> np.ndarray:
    """``P`` as ``work`` (with ``repair``: clipped to [0, 1], rows divided by their sums), chunk by chunk.

    An in-memory ``P`` gives a new array; a memory-mapped one a read-only map of a
    temporary file in ``temp_dir``, unlinked before this returns (or raises): the
    map keeps the data until it is dropped, and no path is left to clean up.
    """
    if not is_mapped(P) or P.size == 0:
        out = np.empty(P.shape, dtype=work)
        for start, block in _pred_probs_chunks(P, work):
            out[start:start + len(block)] = _repaired(block) if repair else block
        return out
    fd, name = tempfile.mkstemp(prefix="pred-probs-", suffix=".tmp", dir=temp_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            for _, block in _pred_probs_chunks(P, work):
                fh.write(np.ascontiguousarray(_repaired(block) if repair else block).data)
        return map_array(name, offset=0, shape=P.shape, dtype=work)
    finally:
        os.unlink(name)


def _repaired(block: np.ndarray) -> np.ndarray:
    """Rows clipped to [0, 1] and divided by their sums (the same operations, in the same order, as on the
    whole array)."""
    clipped = np.clip(block, 0.0, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return clipped
