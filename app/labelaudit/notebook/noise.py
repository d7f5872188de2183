"""``labelaudit.inject_noise``: a copy of a DataFrame with controlled label noise and the true labels beside it."""

from __future__ import annotations

import numpy as np

from labelaudit.core.constants import DEFAULT_LABEL_COLUMN, DEFAULT_NOISE_RATE, DEFAULT_SEED
from labelaudit.core.ingest import TRUE_LABEL_COLUMN
from labelaudit.core.noise import inject_noise as flip_labels
from labelaudit.errors import IngestError


def inject_noise(data, label: str = DEFAULT_LABEL_COLUMN, *, kind: str = "pairwise", rate: float = DEFAULT_NOISE_RATE,
                 seed: int = DEFAULT_SEED, noise_matrix=None, true_label: str = TRUE_LABEL_COLUMN):
    """Flip ``round(rate * count(c))`` labels of each class ``c`` to another class, seeded and reproducible.

    Parameters
    ----------
    data : pandas.DataFrame
        The table; it is not changed.
    label : str
        The label column.
    kind : {"pairwise", "symmetric", "matrix", "instance"}
        ``pairwise``: each class's flips go to one other class (a random derangement); ``symmetric``: spread
        evenly over the other classes; ``matrix``: drawn from ``noise_matrix``; ``instance``: each class's
        most ambiguous rows (by a quick cross-validated model of the table) go to the class they most resemble.
    rate : float
        Share of each class to flip, in ``[0, 1]``.
    seed : int
        The same data, kind, rate and seed flip the same rows (the CLI's ``inject-noise`` flips the same ones).
    noise_matrix : array-like, optional
        For ``kind="matrix"``: ``k x k``, ``P(noisy = i | true = j)``, columns summing to 1, classes in sorted
        order of their labels.
    true_label : str
        The column that receives the original labels.

    Returns
    -------
    pandas.DataFrame
        A copy whose ``label`` column holds the noisy labels (same values and dtype as before) and whose
        ``true_label`` column the original ones. Rows with a missing label are left as they are.
    """
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if label not in data.columns:
        raise IngestError(f"no label column {label!r}", field="label", code="missing_label_column")
    if true_label in data.columns:
        raise IngestError(f"the table already has a {true_label!r} column (noise injected before?)",
                          field="true_label", code="true_label_exists")
    column = data[label]
    nm = None if noise_matrix is None else np.asarray(noise_matrix, dtype=float)
    if kind == "instance":  # a model judges the rows: the table is read as an audit reads it
        known, codes, classes, noisy = _instance_noise(data, label, rate=rate, seed=seed)
    else:
        known = column.notna().to_numpy()
        codes, classes = pd.factorize(column[known], sort=True)
        noisy = flip_labels(codes, kind=kind, rate=rate, seed=seed, num_classes=len(classes), noise_matrix=nm)
    out = data.copy()
    values = column.to_numpy(copy=True)
    values[known] = np.asarray(classes)[noisy.labels]
    out[label] = pd.Series(values, index=data.index).astype(column.dtype)
    out[true_label] = column
    return out


def _instance_noise(data, label: str, *, rate: float, seed: int):
    """Instance-dependent noise on a DataFrame: the rows an audit would read (labelled ones), judged by
    the quick model of :mod:`labelaudit.core.dataset_noise`."""
    from labelaudit.core.dataset_noise import dataset_noise
    from labelaudit.core.ingest import from_dataframe

    ds = from_dataframe(data.reset_index(drop=True), label)
    kept = ds.meta.get("kept_rows")
    known = np.zeros(len(data), dtype=bool)
    known[np.arange(len(data)) if kept is None else np.asarray(kept)] = True
    noisy = dataset_noise(ds, kind="instance", rate=rate, seed=seed)
    values = data[label].to_numpy()[known]
    by_name = {str(v).strip(): v for v in values}  # class names back to the column's own values
    classes = np.array([by_name.get(name, name) for name in ds.class_names], dtype=object)
    return known, ds.labels, classes, noisy
