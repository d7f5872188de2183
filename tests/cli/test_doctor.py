"""`labelaudit doctor` as a real subprocess: it reports dangling references (a row whose file is missing),
orphaned files and leftover temporary files, removes the orphans and leftovers with --fix, and exits 0 only
on a consistent store."""

from __future__ import annotations

import json
import os
import subprocess

from labelaudit.core.ingest import from_pred_probs
from labelaudit.services.datasets import save_dataset
from labelaudit.services.doctor import check_store
from labelaudit.store.artifacts import artifact_store
from tests.cli.test_audit import CLI
from tests.service_fixtures import synthetic_pred_probs


def doctor(settings, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    env.update(LABELAUDIT_DATA_DIR=str(settings.data_dir), LABELAUDIT_DATABASE_URL=settings.resolved_database_url)
    return subprocess.run([*CLI, "doctor", *args], capture_output=True, text=True, env=env, timeout=120)


def test_doctor_reports_and_fixes(app, service_settings):
    db, store = app.state.db, artifact_store(service_settings)
    datasets = [from_pred_probs(*synthetic_pred_probs(60, k=3, seed=s)[:2]) for s in range(3)]
    kept = save_dataset(db, store, datasets[0], name="kept")
    lost = save_dataset(db, store, datasets[1], name="lost")
    assert check_store(db, store).ok

    store.path(lost.artifact, "npz").unlink()  # a dangling reference
    orphan = store.put_dataset(datasets[2])  # a file no row refers to
    (store.root / "stage-1-x.part").write_bytes(b"half")  # left by a killed upload
    found = doctor(service_settings, "--json")
    assert found.returncode == 1, found.stderr
    report = json.loads(found.stdout)
    assert report["dangling"] == [{"digest": lost.artifact, "rows": [lost.id]}]
    assert [o["digest"] for o in report["orphans"]] == [orphan]
    assert len(report["temporary"]) == 1 and report["referenced_bytes"] == store.size(kept.artifact, "npz")

    young = check_store(db, store, fix=True)  # min_age 3600: nothing that new is removed
    assert young.dangling and young.orphans and not young.removed and store.path(orphan, "npz").exists()
    fixed = doctor(service_settings, "--fix", "--min-age", "0")
    assert fixed.returncode == 1  # the dangling reference stays: it is reported, not hidden
    assert "DANGLING" in fixed.stdout and f"removed  {orphan}" in fixed.stdout
    assert not store.path(orphan, "npz").exists() and not (store.root / "stage-1-x.part").exists()
    assert store.path(kept.artifact, "npz").exists()
    with db.sessions.begin() as s:
        s.delete(s.get(type(lost), lost.id))
    assert doctor(service_settings).returncode == 0
