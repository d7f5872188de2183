"""The per-example row columns are defined once, by the ``audit_rows`` table, and every producer and export agrees."""

from __future__ import annotations

import numpy as np

from labelaudit.api.exports import _schema
from labelaudit.core.ingest import from_arrays
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.jobs.worker import result_row_blocks
from labelaudit.store.models import ROW_COLUMNS, AuditRow


def test_row_columns_are_the_tables_and_every_producer_writes_them(digits):
    X, y = digits
    assert ROW_COLUMNS == tuple(c.name for c in AuditRow.__table__.columns if c.name != "audit_id")
    result = run_audit(from_arrays(X[:300], y[:300]), AuditOptions(backbone="logreg", folds=3))
    (block,) = list(result_row_blocks(result))
    assert tuple(block) == ROW_COLUMNS
    assert len({len(v) for v in block.values()}) == 1
    row = next(result.rows())
    assert set(ROW_COLUMNS) - {"true_label", "example_id", "neighbour_score"} <= set(row)  # optional columns
    assert [f.name for f in _schema(None)] == list(ROW_COLUMNS)
    assert [f.name for f in _schema(["a", "b"])][-2:] == ["given_class", "suggested_class"]
    assert np.array_equal(np.asarray(block["rank"]), np.arange(300))


def test_documents_are_checked_where_they_enter_the_store(digits):
    import pytest

    from labelaudit.core.aggregates import headline
    from labelaudit.errors import AuditFailed
    from labelaudit.jobs.worker import jsonable, result_aggregates
    from labelaudit.store.documents import check_documents

    X, y = digits
    result = run_audit(from_arrays(X[:300], y[:300]), AuditOptions(backbone="logreg", folds=3))
    summary = jsonable(result.summary())
    docs = {"summary": summary, "headline": jsonable(headline(summary, result.timings, None)),
            "aggregates": jsonable(result_aggregates(result))}
    check_documents(**docs)  # what the worker stores has the stored shape
    for name, broken in (("summary", {**summary, "num_issues": "many"}),
                         ("summary", {k: v for k, v in summary.items() if k != "classes"}),
                         ("aggregates", {**docs["aggregates"], "extra": 1})):
        with pytest.raises(AuditFailed) as info:
            check_documents(**{**docs, name: broken})
        assert info.value.field == name and info.value.code == "invalid_document"
