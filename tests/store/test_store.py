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
    # each audit's rows get their own table, indexed there (labelaudit.store.rowtables): none on the shared one
    assert not {i["name"] for i in insp.get_indexes("audit_rows")} & {"ix_audit_rows_label_rank", "ix_audit_rows_index"}


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


def test_leftovers_of_a_killed_process_are_cleaned_at_start_at_once(tmp_path):
    """Upload folders and staged files of a process that is gone go at start-up whatever their age; a live
    process's stay; an artifact a killed delete had moved aside is put back (its delete never committed)."""
    import subprocess
    import sys

    from labelaudit.config import get_settings
    from labelaudit.main import create_app
    from labelaudit.store.artifacts import artifact_store
    from labelaudit.store.processes import is_gone, process_tag

    code = "from labelaudit.store.processes import process_tag; print(process_tag())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert is_gone(dead) and not is_gone(process_tag())
    settings = get_settings(data_dir=tmp_path, workers=0)
    store = artifact_store(settings)
    digest = store.put_bytes(b"content", "npz")
    target = store.path(digest, "npz")
    moved = target.with_name(f"{target.name}.gone-{dead}-ab12")
    target.rename(moved)
    killed, alive = tmp_path / "tmp" / f"upload-{dead}-x", tmp_path / "tmp" / f"upload-{process_tag()}-y"
    for d in (killed, alive):
        d.mkdir(parents=True)
    staged_dead, staged_alive = store.root / f"stage-{dead}-q.part", store.root / f"stage-{process_tag()}-r.part"
    staged_dead.write_bytes(b"x")
    staged_alive.write_bytes(b"y")
    create_app(settings).state.db.dispose()
    assert not killed.exists() and alive.exists()
    assert not staged_dead.exists() and staged_alive.exists()
    assert target.read_bytes() == b"content" and not moved.exists()
