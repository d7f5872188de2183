"""Store: content-addressed artifacts, migrations, dataset records round-trip."""

from __future__ import annotations

import numpy as np
from sqlalchemy import inspect

from labelaudit.core.ingest import from_arrays
from labelaudit.core.keys import file_sha256 as sha256_file
from labelaudit.store.artifacts import ArtifactStore
from labelaudit.services.datasets import save_dataset
from labelaudit.store.artifacts import dataset_arrays as load_arrays


def test_artifacts_are_content_addressed(tmp_path):
    store = ArtifactStore(tmp_path)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    d1 = store.put_array(a)
    d2 = store.put_array(a.copy())
    assert d1 == d2 and sha256_file(store.path(d1, "npy")) == d1
    assert np.array_equal(np.load(store.path(d1, "npy")), a)
    assert store.put_array(a + 1) != d1
    assert not list(tmp_path.rglob("*.part"))
    store.remove(d1, "npy")
    assert not store.path(d1, "npy").exists()


def test_migrations_are_idempotent_and_indexed(app):
    from labelaudit.store.migrations import upgrade

    db = app.state.db
    upgrade(db.engine)  # a second start-up is a no-op
    insp = inspect(db.engine)
    assert {"datasets", "audits", "audit_rows", "api_keys", "alembic_version"} <= set(insp.get_table_names())
    assert insp.get_pk_constraint("audit_rows")["constrained_columns"] == ["audit_id", "rank"]
    idx = {i["name"]: i["column_names"] for i in insp.get_indexes("audit_rows")}
    assert idx["ix_audit_rows_label_rank"] == ["audit_id", "given_label", "rank"]


def test_dataset_round_trip(app):
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    ds = from_arrays(X, y, class_names=["cat", "dog"])
    rec = save_dataset(app.state.db, app.state.artifacts, ds, name="pets")
    back = load_arrays(app.state.artifacts, rec)
    assert back.class_names == ["cat", "dog"] and back.modality == "tabular"
    assert np.array_equal(back.features, X) and np.array_equal(back.labels, y)
    assert rec.rows == 40 and rec.classes == 2 and rec.id.startswith("ds_")


def test_migrations_upgrade_step_by_step_and_downgrade(tmp_path):
    from alembic import command
    from sqlalchemy import inspect as sa_inspect

    from labelaudit.store.migrations import alembic_config, upgrade
    from labelaudit.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    upgrade(engine, "0001")
    assert "api_keys" not in sa_inspect(engine).get_table_names()
    upgrade(engine)
    assert "api_keys" in sa_inspect(engine).get_table_names()
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa_inspect(engine).get_table_names()) <= {"alembic_version"}


def test_stale_upload_folders_are_removed_at_start(tmp_path):
    import os

    from labelaudit.config import get_settings
    from labelaudit.main import create_app

    settings = get_settings(data_dir=tmp_path, workers=0)
    old, new = tmp_path / "tmp" / "upload-old", tmp_path / "tmp" / "upload-new"
    for d in (old, new):
        d.mkdir(parents=True)
        (d / "file-x.csv").write_text("a")
    os.utime(old, (0, 0))
    create_app(settings).state.db.dispose()
    assert not old.exists() and new.exists()
