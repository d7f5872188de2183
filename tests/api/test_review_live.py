"""The review loop through a live server with auth on (SQLite and PostgreSQL), by the Python client: two reviewers
of one tenant decide, the history names them, another tenant sees nothing, apply, download, re-audit, compare, and
the gate's --server-decisions accepts what was kept."""

from __future__ import annotations

import pytest

from labelaudit.client import Client
from labelaudit.errors import ServiceConflict, ServiceNotFound
from labelaudit.services.keys import create_api_key
from labelaudit.store.db import open_database
from tests.service_fixtures import csv_bytes

pytestmark = pytest.mark.slow


@pytest.fixture
def service_settings(service_settings):
    return service_settings.model_copy(update={"auth": "on"})


@pytest.fixture
def keys(service_settings):
    db = open_database(service_settings)
    try:
        return {"r1": create_api_key(db, "reviewer-1", tenant="team")[1],
                "r2": create_api_key(db, "reviewer-2", tenant="team")[1],
                "other": create_api_key(db, "outsider")[1]}
    finally:
        db.dispose()


def test_review_loop_by_the_client(live_server, keys, tmp_path):
    from labelaudit.core.pipeline import AuditOptions
    from labelaudit.check.remote import remote_audit

    r1, r2, other = (Client(live_server, keys[k]) for k in ("r1", "r2", "other"))
    clean = r1.upload(csv_bytes(300), name="digits.csv")
    noisy = r1.inject_noise(clean["id"], kind="pairwise", rate=0.15, seed=2)
    audit = r1.wait(r1.create_audit(noisy["id"], backbone="logreg", folds=3)["id"], timeout=120)
    aid = audit["id"]
    written = r1.decide(aid, filter={"is_issue": True}, decision="relabel", note="accept the suggestion")
    assert written["changed"] == audit["summary"]["num_issues"]
    first = r2.decisions(aid)["items"][0]
    with pytest.raises(ServiceConflict):
        r2.decide(aid, [{"key": first["key"], "decision": "keep", "version": first["version"] + 1}])
    r2.decide(aid, [{"key": first["key"], "decision": "keep", "version": first["version"]}])
    history = r1.history(aid, key=first["key"])
    assert [(e["decided_by"], e["decision"]) for e in history] == [("reviewer-1", "relabel"), ("reviewer-2", "keep")]
    with pytest.raises(ServiceNotFound):
        other.decisions(aid)
    # six reviewers' requests at once on the same 40 examples: none fails, the last write wins, the history has all
    from concurrent.futures import ThreadPoolExecutor

    calm = [r["index"] for r in r1.iter_issues(aid, is_issue=False, limit=40)][:40]
    kinds = ["keep", "exclude", "unsure"]

    def put(n: int) -> dict:
        with Client(live_server, keys["r1" if n % 2 else "r2"]) as c:
            return c.decide(aid, [{"index": i, "decision": kinds[n % 3]} for i in calm])

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(put, range(6)))
    assert sum(r["changed"] for r in results) >= 6 * 40 - 5 * 40  # at least the first write of each changed all
    versions = {i["index"]: i["version"] for i in r1.decisions(aid, state="decided", is_issue=False)["items"]}
    for i in calm[:5]:
        assert len(r1.history(aid, index=i)) == versions[i]
    r1.undo(aid, [{"index": i} for i in calm])

    progress = r1.decisions(aid)["progress"]
    assert progress["kept"] == 1 and progress["relabelled"] == audit["summary"]["num_issues"] - 1

    fixed = r1.apply(aid)
    assert fixed["review"]["decisions_applied"] == progress["reviewed"] and fixed["parent_id"] == noisy["id"]
    path = r1.download(fixed["id"], tmp_path / "fixed.csv")
    again = r1.upload(path)
    assert again["rows"] == noisy["rows"]
    re_audit = r1.wait(r1.create_audit(again["id"], backbone="logreg", folds=3)["id"], timeout=120)
    assert re_audit["summary"]["issue_rate"] < audit["summary"]["issue_rate"]
    cmp = r1._json("GET", f"/v1/audits/{aid}/compare/{re_audit['id']}")
    assert cmp["matched_by"] == "content" and cmp["issue_rate_change"] < 0

    # the gate on the server: the kept example is accepted, whatever its row in the new audit
    out = remote_audit(live_server, api_key=keys["r2"], path=None, dataset_id=noisy["id"], labels=None,
                       label_column="label", id_column=None, format=None,
                       options=AuditOptions(backbone="logreg", folds=3), progress=None, kept_from_server=True)
    assert out.kept_keys == {f"row:{first['index']}"}
    for c in (r1, r2, other):
        c.close()
