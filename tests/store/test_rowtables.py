"""Each audit's rows live in a table of their own (labelaudit.store.rowtables): created, loaded and indexed in
the finish's one transaction (a partition of ``audit_rows`` on PostgreSQL), read through the API, dropped with
the audit or its dataset, never left behind by a failed finish; migration 0008 moves existing rows both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from labelaudit.core.ingest import from_pred_probs
from labelaudit.services.datasets import save_dataset
from labelaudit.store import queries, queue, rowtables
from labelaudit.store.models import AuditRecord
from labelaudit.store.reads import reader
from tests.service_fixtures import npy_bytes, run_jobs, synthetic_pred_probs


def _summary(n: int) -> dict:
    return {"num_examples": n, "num_classes": 1, "class_names": ["a"], "modality": "pred_probs", "num_issues": 0,
            "issue_rate": 0.0, "estimated_num_issues": 0, "health_score": 1.0, "cv_accuracy": 1.0,
            "backbone": None, "device": None, "epochs": None, "folds": None, "rank_method": "normalized_margin",
            "filter_by": "prune_by_noise_rate", "noise_matrix": [[1.0]], "joint": [[1.0]],
            "classes": [{"class_id": 0, "class_name": "a", "size": n, "num_issues": 0, "issue_rate": 0.0,
                         "estimated_noise_rate": 0.0, "top_confused_with": None}]}


def _block(start: int, stop: int, *, index=None) -> dict:
    ranks = list(range(start, stop))
    size = len(ranks)
    return {"rank": ranks, "index": list(index) if index is not None else ranks[::-1], "given_label": [0] * size,
            "suggested_label": [0] * size, "quality_score": [r / 1e6 for r in ranks], "is_issue": [False] * size,
            "true_label": [None] * size, "example_id": [None] * size}


def _claimed(app) -> str:
    db = app.state.db
    P, y = synthetic_pred_probs(50)
    ds = save_dataset(db, app.state.artifacts, from_pred_probs(P, y), name="p")
    job = queue.enqueue(db, dataset_id=ds.id, options={})
    assert queue.claim(db, "w").id == job.id
    return job.id


def _tables(db) -> list[str]:
    with db.engine.connect() as conn:
        return rowtables.row_tables(conn)


def _indexes(db, audit_id: str) -> set[str]:
    return {i["name"] for i in inspect(db.engine).get_indexes(rowtables.table_name(audit_id))}


def test_a_finished_audits_rows_are_its_own_table_read_through_the_api_and_dropped_with_it(client, app, backend):
    db = app.state.db
    probs, labels = synthetic_pred_probs(12_000, k=3, seed=5)[:2]
    ds = client.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(probs)),
                                            "labels_file": ("l.npy", npy_bytes(labels))},
                     data={"format": "pred-probs"}).json()
    small_probs, small_labels = synthetic_pred_probs(300, k=3, seed=6)[:2]
    small_ds = client.post("/v1/datasets", files={"file": ("s.npy", npy_bytes(small_probs)),
                                                  "labels_file": ("sl.npy", npy_bytes(small_labels))},
                           data={"format": "pred-probs"}).json()
    big = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    small = client.post("/v1/audits", json={"dataset_id": small_ds["id"]}).json()
    assert _tables(db) == []  # nothing before the finish
    assert run_jobs(app) == 2
    assert _tables(db) == sorted(rowtables.table_name(a["id"]) for a in (big, small))
    if backend == "postgres":  # attached partitions of audit_rows
        with db.engine.connect() as conn:
            bounds = dict(conn.execute(text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_inherits i "
                "ON i.inhrelid = c.oid WHERE i.inhparent = 'audit_rows'::regclass")).all())
        assert bounds[rowtables.table_name(big["id"])] == f"FOR VALUES IN ('{big['id']}')"
    # a big audit has every index of its own (without audit_id); a small one its unique index only
    suffixes = {name for name, *_ in rowtables.INDEXES}
    assert {i.rsplit(big["id"] + "_", 1)[1] for i in _indexes(db, big["id"])} >= suffixes
    assert {i.rsplit(small["id"] + "_", 1)[1] for i in _indexes(db, small["id"])} & suffixes == {"index"}

    for audit, n in ((big, 12_000), (small, 300)):
        url = f"/v1/audits/{audit['id']}"
        assert client.get(url).json()["status"] == "done"
        seen, cursor = [], None
        while True:  # every row, paged by the API, filtered by a class
            page = client.get(f"{url}/issues", params={"limit": 500, "given_label": 1,
                                                       **({"cursor": cursor} if cursor else {})}).json()
            seen += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        assert len(seen) == int((labels if n == 12_000 else small_labels).__eq__(1).sum())
        assert [r["rank"] for r in seen] == sorted(r["rank"] for r in seen)
        detail = client.get(f"{url}/examples/{seen[0]['index']}").json()
        assert detail["rank"] == seen[0]["rank"] and detail["given_label"] == 1

    assert client.delete(f"/v1/audits/{big['id']}").status_code == 204
    assert _tables(db) == [rowtables.table_name(small["id"])]
    assert client.delete(f"/v1/datasets/{small_ds['id']}").status_code == 204
    assert _tables(db) == []
    with db.sessions() as s:
        assert queries.count_rows(s, audit_id=small["id"]) == 0


def test_confusion_cells_of_a_big_audit_read_the_partial_index_of_off_diagonal_rows(client, app, backend):
    db = app.state.db
    probs, labels = synthetic_pred_probs(12_000, k=3, noise=0.05, seed=7)[:2]
    ds = client.post("/v1/datasets", files={"file": ("p.npy", npy_bytes(probs)),
                                            "labels_file": ("l.npy", npy_bytes(labels))},
                     data={"format": "pred-probs"}).json()
    audit = client.post("/v1/audits", json={"dataset_id": ds["id"]}).json()
    assert run_jobs(app) == 1
    table = rowtables.table_name(audit["id"])
    with db.engine.connect() as conn:
        rows = conn.execute(text(f'SELECT given_label, suggested_label, rank FROM "{table}" ORDER BY rank')).all()
        off = sum(g != s for g, s, _ in rows)
        # the index holds only the rows off the diagonal, a few percent of them
        via_index = conn.execute(text(
            f'SELECT count(*) FROM "{table}" INDEXED BY "{table}_off_diagonal_rank" '
            "WHERE given_label <> suggested_label"
            if backend == "sqlite" else
            "SELECT reltuples FROM pg_class WHERE relname = :ix"), {"ix": f"{table}_off_diagonal_rank"}).scalar()
    assert 0 < off < len(rows) // 5 and int(via_index) == off
    for given, suggested in ((0, 1), (1, 1), (2, 0)):
        seen, cursor = [], None
        while True:
            page = client.get(f"/v1/audits/{audit['id']}/issues", params={
                "limit": 100, "given_label": given, "suggested_label": suggested,
                **({"cursor": cursor} if cursor else {})}).json()
            seen += [r["rank"] for r in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        assert seen == [r for g, s, r in rows if (g, s) == (given, suggested)]


@pytest.mark.parametrize("failure", ["raises mid-load", "duplicate dataset index"])
def test_a_failed_finish_leaves_no_table_and_no_rows(app, failure):
    db = app.state.db
    audit_id = _claimed(app)

    def blocks():
        yield _block(0, 12_000)
        if failure == "raises mid-load":
            raise RuntimeError("the disk went away")
        yield _block(12_000, 12_010, index=[5] * 10)  # collides with the first block: the unique index fails

    with pytest.raises(Exception) as info:
        queue.finish(db, audit_id, "w", row_blocks=blocks(), summary=_summary(12_010), evaluation=None,
                     timings={}, pred_probs_artifact=None)
    assert ("disk" in str(info.value)) == (failure == "raises mid-load")
    assert _tables(db) == []
    with db.sessions() as s:
        assert queries.status_and_row_count(s, audit_id=audit_id) == ("running", 0)
    # the worker can still finish it
    assert queue.finish(db, audit_id, "w", row_blocks=[_block(0, 20)], summary=_summary(20), evaluation=None,
                        timings={}, pred_probs_artifact=None)
    with db.sessions() as s:
        assert queries.status_and_row_count(s, audit_id=audit_id) == ("done", 20)
        assert queries.row_at_index(s, audit_id=audit_id, index=19).rank == 0


def test_table_names_refuse_what_is_not_an_audit_id():
    assert rowtables.table_name("au_018c2f1a9b3e5f0c1d2e") == "audit_rows_au_018c2f1a9b3e5f0c1d2e"
    for bad in ("au'; DROP TABLE audits; --", "", "a" * 41, "au x"):
        with pytest.raises(ValueError):
            rowtables.table_name(bad)


def test_migration_0008_moves_existing_rows_out_and_back(database_url, backend):
    from alembic import command

    from labelaudit.store.db import make_engine
    from labelaudit.store.migrations import alembic_config, upgrade
    from labelaudit.store.models import DatasetRecord, utcnow
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    engine = make_engine(database_url)
    upgrade(engine, "0007")
    ids = ["au_a", "au_b", "au_empty"]
    with Session(engine) as s, s.begin():
        s.add(DatasetRecord(id="ds_a", tenant="local", name="d", rows=3, classes=2, class_names=["x", "y"],
                            modality="pred_probs", sha256="0" * 64, artifact="0" * 64, has_true_labels=False,
                            created_at=utcnow()))
        s.flush()
        for audit_id in ids:  # only the columns 0007 has (a Core insert names only the values given)
            s.execute(insert(AuditRecord.__table__).values(id=audit_id, tenant="local", dataset_id="ds_a",
                                                           status="done", options={}, cancel_requested=False,
                                                           attempts=1, created_at=utcnow()))
        for audit_id, n in (("au_a", 3), ("au_b", 2)):
            for r in range(n):
                s.execute(text('INSERT INTO audit_rows (audit_id, "rank", "index", given_label, suggested_label, '
                               'quality_score, is_issue) VALUES (:a, :r, :i, 1, 0, :q, :f)'),
                          {"a": audit_id, "r": r, "i": n - 1 - r, "q": r / 10, "f": r == 0})

    def rows_of(audit_id):
        with reader(engine) as r:
            return [tuple(row) for row in queries.page_rows(r, audit_id=audit_id, limit=10)]

    upgrade(engine)  # 0008: every done audit gets its table, the rows move into them
    with engine.connect() as conn:
        assert rowtables.row_tables(conn) == [rowtables.table_name(a) for a in ids]
        assert conn.execute(text("SELECT count(*) FROM ONLY audit_rows" if backend == "postgres" else
                                 "SELECT count(*) FROM audit_rows")).scalar() == 0
    a_rows = rows_of("au_a")
    assert [r[:3] for r in a_rows] == [(0, 2, 1), (1, 1, 1), (2, 0, 1)] and rows_of("au_empty") == []
    with Session(engine) as s:
        assert queries.row_at_index(s, audit_id="au_b", index=0).rank == 1

    with engine.begin() as conn:  # back to 0007: one shared, indexed table again
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    insp = inspect(engine)
    assert "ix_audit_rows_index" in {i["name"] for i in insp.get_indexes("audit_rows")}
    assert not [t for t in insp.get_table_names() if t.startswith("audit_rows_")]
    with engine.connect() as conn:
        back = conn.execute(text('SELECT audit_id, "rank", "index" FROM audit_rows ORDER BY audit_id, "rank"')).all()
    assert [tuple(r) for r in back] == [("au_a", 0, 2), ("au_a", 1, 1), ("au_a", 2, 0), ("au_b", 0, 1), ("au_b", 1, 0)]
    upgrade(engine)
    assert rows_of("au_a") == a_rows
    engine.dispose()


def test_migration_0010_gives_audits_finished_before_it_an_empty_neighbour_score(database_url, backend):
    """An audit's row table made at revision 0009 (without the column) gets it, read as None; new audits store
    their scores; the downgrade takes the column off every table again."""
    from alembic import command

    from labelaudit.store.db import make_engine
    from labelaudit.store.migrations import alembic_config, upgrade
    from labelaudit.store.models import DatasetRecord, utcnow
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    engine = make_engine(database_url)
    upgrade(engine, "0009")
    with Session(engine) as s, s.begin():
        s.add(DatasetRecord(id="ds_a", tenant="local", name="d", rows=3, classes=2, class_names=["x", "y"],
                            modality="pred_probs", sha256="0" * 64, artifact="0" * 64, has_true_labels=False,
                            created_at=utcnow()))
        s.flush()
        s.execute(insert(AuditRecord.__table__).values(id="au_old", tenant="local", dataset_id="ds_a", status="done",
                                                       options={}, cancel_requested=False, attempts=1,
                                                       created_at=utcnow()))
        table = rowtables.table_name("au_old")
        if backend == "postgres":  # the parent and partition as the release of 0009 made them
            # (0008 run by today's code builds the parent with today's row columns; the release before 0010 had
            # none of them)
            s.execute(text("ALTER TABLE audit_rows DROP COLUMN neighbour_score"))
            s.execute(text(f"CREATE TABLE {table} PARTITION OF audit_rows FOR VALUES IN ('au_old')"))
        else:  # 0009's per-audit table: the row columns of that revision, audit_id generated
            s.execute(text(f'CREATE TABLE {table} ("rank" INTEGER PRIMARY KEY, "index" INTEGER NOT NULL, '
                           "given_label INTEGER NOT NULL, suggested_label INTEGER NOT NULL, quality_score FLOAT "
                           "NOT NULL, is_issue BOOLEAN NOT NULL, true_label INTEGER, example_id TEXT, audit_id "
                           "VARCHAR(40) GENERATED ALWAYS AS ('au_old') VIRTUAL)"))
        own = ("audit_id, ", "'au_old', ") if backend == "postgres" else ("", "")
        s.execute(text(f'INSERT INTO {table} ({own[0]}"rank", "index", given_label, suggested_label, quality_score, '
                       f"is_issue) VALUES ({own[1]}0, 1, 1, 0, 0.25, true)"))

    def columns(table):
        return {c["name"] for c in inspect(engine).get_columns(table)}

    assert "neighbour_score" not in columns(table)
    upgrade(engine)
    assert "neighbour_score" in columns(table) and "neighbour_score" in columns("audit_rows")
    with reader(engine) as r:
        (row,) = queries.page_rows(r, audit_id="au_old", limit=10)
    assert dict(zip(queries.ROW_COLUMNS, row)) == {
        "rank": 0, "index": 1, "given_label": 1, "suggested_label": 0, "quality_score": 0.25, "is_issue": True,
        "true_label": None, "example_id": None, "neighbour_score": None}

    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    assert "neighbour_score" not in columns(table) and "neighbour_score" not in columns("audit_rows")
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT quality_score FROM {table}")).scalar() == 0.25
    engine.dispose()



def test_deleting_an_audit_does_not_wait_for_another_audits_export_in_flight(app):
    """Dropping a partition locks ``audit_rows``; an export holds no transaction while its client reads."""
    import threading

    from labelaudit.api.exports import export_stream
    from labelaudit.services.audits import delete_audit

    db = app.state.db
    ids = []
    for _ in range(2):
        audit_id = _claimed(app)
        assert queue.finish(db, audit_id, "w", row_blocks=[_block(0, 40)], summary=_summary(40), evaluation=None,
                            timings={}, pred_probs_artifact=None)
        ids.append(audit_id)
    exporting, deleted = ids
    stream = export_stream(db, exporting, "csv", None, block_rows=10)
    first = next(stream)  # the export is under way, its client not reading yet
    done = threading.Event()

    def delete():
        delete_audit(db, app.state.artifacts, audit_id=deleted, tenant=None)
        done.set()

    thread = threading.Thread(target=delete, daemon=True)
    thread.start()
    finished = done.wait(60)  # a hang detector: with a transaction held by the export, it never finishes
    rest = b"".join(stream)
    thread.join(60)
    assert finished
    assert _tables(db) == [rowtables.table_name(exporting)]
    assert (first + rest).decode().strip().count("\n") == 40  # a header and every row


def test_deleting_an_audit_does_not_wait_for_another_audits_finish_in_flight(app):
    """A finish touches ``audit_rows`` only to attach, at its very end: a partition dropped while another
    audit's rows are loading does not wait for them (nor do the readers behind the drop)."""
    import threading

    from labelaudit.services.audits import delete_audit

    db = app.state.db
    victim = _claimed(app)
    assert queue.finish(db, victim, "w", row_blocks=[_block(0, 30)], summary=_summary(30), evaluation=None,
                        timings={}, pred_probs_artifact=None)
    loading = _claimed(app)
    started, release, deleted = threading.Event(), threading.Event(), threading.Event()

    def blocks():
        yield _block(0, 10)
        started.set()
        release.wait(120)
        yield _block(10, 20)

    finisher = threading.Thread(target=lambda: queue.finish(
        db, loading, "w", row_blocks=blocks(), summary=_summary(20), evaluation=None, timings={},
        pred_probs_artifact=None), daemon=True)
    finisher.start()
    assert started.wait(60)

    def delete():
        delete_audit(db, app.state.artifacts, audit_id=victim, tenant=None)
        deleted.set()

    deleter = threading.Thread(target=delete, daemon=True)
    deleter.start()
    # SQLite has one writer at a time: there the delete waits for the finish by design
    finished_first = deleted.wait(60 if app.state.db.is_postgres else 1)
    release.set()
    finisher.join(60)
    deleter.join(60)
    assert finished_first or not app.state.db.is_postgres
    assert _tables(db) == [rowtables.table_name(loading)]
    with db.sessions() as s:
        assert queries.status_and_row_count(s, audit_id=loading) == ("done", 20)
        assert queries.status_and_row_count(s, audit_id=victim) is None
