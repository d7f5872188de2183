"""``labelaudit.core``: audit a dataset's labels in this process."""

from __future__ import annotations

from typing import Any

from labelaudit.core.constants import (
    DEFAULT_BACKBONE,
    DEFAULT_DEVICE,
    DEFAULT_FILTER_BY,
    DEFAULT_FOLDS,
    DEFAULT_LABEL_COLUMN,
    DEFAULT_RANK_METHOD,
    DEFAULT_SEED,
)
from labelaudit.core.ingest import RoleOverrides
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.notebook.inputs import audit_input, reference_input
from labelaudit.notebook.progress import AuditProgressBar
from labelaudit.notebook.result import AuditResult


def audit(
    data: Any = None,
    label: str = DEFAULT_LABEL_COLUMN,
    *,
    id: str | None = None,
    labels: Any = None,
    pred_probs: Any = None,
    class_names: Any = None,
    format: str | None = None,
    backbone: str = DEFAULT_BACKBONE,
    folds: int = DEFAULT_FOLDS,
    epochs: int | None = None,
    ensemble: int | None = None,
    neighbours: int = 0,
    seed: int = DEFAULT_SEED,
    device: str = DEFAULT_DEVICE,
    rank_method: str = DEFAULT_RANK_METHOD,
    filter_by: str = DEFAULT_FILTER_BY,
    backbone_options: dict | None = None,
    features: list[str] | None = None,
    drop_columns: list[str] | None = None,
    categorical: list[str] | None = None,
    text: list[str] | None = None,
    reference: Any = None,
    progress: bool = True,
) -> AuditResult:
    """Find the label issues of a dataset: cross-validated probabilities, then confident learning.

    Parameters
    ----------
    data : pandas.DataFrame, path, or (X, y)
        A DataFrame with a label column; a path to any supported file (CSV, Parquet, NPZ, IDX, image zip,
        pred_probs ``.npy``); an ``(X, y)`` pair of arrays (features ``(n, d)`` or images ``(n, h, w[, c])``);
        or ``X`` alone with ``labels=``. Omit it when passing ``pred_probs=``.
    label : str
        The label column of a DataFrame or table.
    id : str, optional
        A column holding a stable id per example: results are indexed by it, it is never a feature, and it
        keys each example's fold so the audit does not depend on row order.
    labels : array-like, optional
        Given labels, with ``pred_probs=`` (or with an ``X`` array as ``data``).
    pred_probs : array-like, optional
        Your own out-of-sample predicted probabilities ``(n, k)``: no model is trained.
    class_names : array-like of str, optional
        Names of class ids ``0..k-1`` when the labels are ids.
    format : str, optional
        The file format of a path, when its content and name do not tell.
    backbone : str
        ``auto`` (chosen by the data), or a backbone name (``logreg``, ``mlp``, ``cnn``, ...).
    folds : int
        Cross-validation folds; each example is predicted by a model that never saw it.
    epochs : int, optional
        Training epochs of torch backbones (default: chosen by the data's size).
    ensemble : int, optional
        Models trained per fold, their probabilities averaged (default: the backbone's choice for the data's
        size); each one more costs one more training.
    neighbours : int
        ``k`` of a neighbourhood score per example (``neighbour_score`` in ``.issues``): the weighted share of
        its ``k`` nearest training examples, in the fold model's embedding, that carry its label. Needs a torch
        backbone trained per fold; 0 (default): none.
    seed : int
        Seeds every random step: the same data and seed give the same result, whatever the row order.
    device : str
        ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    rank_method, filter_by : str
        cleanlab's label-quality score and issue filter.
    backbone_options : dict, optional
        Options of the chosen backbone (for example ``{"C": 0.5}`` for ``logreg``).
    features, drop_columns, categorical, text : list of str, optional
        A table's column roles, where inference needs help: the only feature columns; columns left out;
        columns read as categories; columns read as free text. Identifiers (unique per row: ``id``,
        ``*_id``, uuids, integer sequences) are never features and key the rows when ``id`` is not given.
    reference : pandas.DataFrame, path, or (X, y), optional
        Trusted labelled data of the same kind (for example the training set when auditing a test set): its
        rows join every fold's training part and are never ranked. Read like ``data`` (a table with the same
        ``label`` column and the audited table's feature columns; ``id`` when it has that column); its class
        names must be among the audited data's.
    progress : bool
        Show a progress bar (in Jupyter or on a terminal); ``False`` prints nothing.

    Returns
    -------
    AuditResult
        ``.issues`` (a DataFrame, lowest quality first, indexed like the input), ``.summary``, ``.classes``,
        ``.noise_matrix``, ``.pred_probs``, ``.evaluation``.

    Raises
    ------
    labelaudit.errors.IngestError
        The data cannot be audited; the error names the field (``.field``) and the reason (``.code``).
    labelaudit.errors.OptionError
        An option cannot work for this data.

    Examples
    --------
    >>> result = labelaudit.audit(df, label="species", id="penguin_id")   # doctest: +SKIP
    >>> result.issues.query("is_issue").head()                            # doctest: +SKIP
    """
    options = AuditOptions(backbone=backbone, folds=folds, epochs=epochs, ensemble=ensemble, neighbours=neighbours,
                           seed=seed, device=device, rank_method=rank_method, filter_by=filter_by,
                           backbone_options=dict(backbone_options or {}))
    named = {k: tuple(v) for k, v in (("features", features), ("drop_columns", drop_columns),
                                       ("categorical", categorical), ("text", text)) if v}
    roles = RoleOverrides(**named) if named else None
    prepared = audit_input(data, label=label, id=id, labels=labels, pred_probs=pred_probs, class_names=class_names,
                           format=format, folds=folds, roles=roles)
    ref = None if reference is None else reference_input(reference, prepared.dataset, label=label, id=id,
                                                        class_names=class_names, format=format)
    with AuditProgressBar(enabled=progress) as bar:
        result = run_audit(prepared.dataset, options, progress=bar, reference=ref)
    return AuditResult(result, index=prepared.index)
