"""labelaudit.Client against the real server (a subprocess, SQLite and PostgreSQL): the round trip from a
DataFrame to ranked issues keyed by its index, the lower-level calls, and typed errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import labelaudit
from labelaudit.errors import NotFound, OptionError, ServiceConflict, ServiceNotFound, ServiceRefused
from tests.service_fixtures import digits_arrays


@pytest.fixture
def frame() -> pd.DataFrame:
    X, y = digits_arrays(300)
    df = pd.DataFrame(X[:, :16], columns=[f"px{i}" for i in range(16)])
    df["digit"] = pd.Series([f"d{v}" for v in y]).astype("category")
    df.index = pd.Index([f"img-{i:04d}" for i in range(300)], name="image")[::-1]  # an index of its own
    return df


def test_a_dataframe_round_trip_keyed_by_its_index(live_server, frame):
    with labelaudit.Client(live_server) as client:
        result = client.audit(frame, label="digit", backbone="logreg", folds=3, seed=1, progress=False)
    issues = result.issues
    assert len(issues) == 300 and set(issues.index) == set(frame.index) and issues.index.name == "image"
    assert list(issues.columns) == ["rank", "given_label", "suggested_label", "quality_score", "is_issue"]
    assert issues["rank"].tolist() == list(range(300))
    assert (issues["given_label"] == frame.loc[issues.index, "digit"].astype(str)).all()
    assert issues["quality_score"].is_monotonic_increasing
    assert result.summary["num_examples"] == 300 and result.summary["num_issues"] == int(issues["is_issue"].sum())


def test_the_service_and_the_notebook_give_the_same_rows_by_index(live_server, frame):
    from labelaudit.notebook import audit

    local = audit(frame, label="digit", backbone="logreg", folds=3, seed=2, progress=False).issues
    with labelaudit.Client(live_server) as client:
        remote = client.audit(frame, label="digit", backbone="logreg", folds=3, seed=2, progress=False).issues
    assert list(remote.index) == list(local.index)
    for column in ("rank", "given_label", "suggested_label", "is_issue"):
        assert remote[column].tolist() == local[column].tolist(), column
    assert np.allclose(remote["quality_score"], local["quality_score"], atol=1e-6)


def test_a_table_as_it_comes_gives_the_same_rows_by_index_here_and_on_the_service(live_server):
    """Strings, missing values, blank labels and an id column: the service leaves out the same rows."""
    from labelaudit.notebook import audit
    from tests.tables import penguins_like

    df = penguins_like(120, seed=4)
    df.index = pd.Index([f"bird-{i}" for i in range(120)])[::-1]
    local = audit(df, label="species", folds=3, progress=False).issues
    with labelaudit.Client(live_server) as client:
        remote = client.audit(df, label="species", folds=3, progress=False)
    assert remote.dataset["missing_labels"]["count"] == 4 and len(local) == 116
    assert list(remote.issues.index) == list(local.index)
    assert remote.issues["given_label"].tolist() == local["given_label"].tolist()
    assert np.allclose(remote.issues["quality_score"], local["quality_score"], atol=1e-6)
    by_id = client_audit_by_id(live_server, df)
    assert set(by_id.index) == set(df.loc[local.index, "id"])


def client_audit_by_id(url: str, df: pd.DataFrame) -> pd.DataFrame:
    with labelaudit.Client(url) as client:
        return client.audit(df, label="species", id="id", folds=3, progress=False).issues


def test_lower_level_calls_and_typed_errors(live_server):
    X, y = digits_arrays(200)
    with labelaudit.Client(live_server, timeout=30) as client:
        ds = client.upload((X, y), name="digits")
        assert ds["rows"] == 200 and ds["name"] == "digits"
        noisy = client.inject_noise(ds["id"], rate=0.1, seed=3)
        assert noisy["parent_id"] == ds["id"] and noisy["has_true_labels"]
        assert {d["id"] for d in client.datasets()} >= {ds["id"], noisy["id"]}
        audit = client.create_audit(noisy["id"], backbone="logreg", folds=3)
        done = client.wait(audit["id"], timeout=120)
        with pytest.raises(ServiceConflict) as info:  # a done audit cannot be cancelled
            client.cancel(audit["id"])
        assert info.value.status == 409 and info.value.request_id
        assert done["evaluation"]["average_precision"] > 0.5
        flagged = list(client.iter_issues(audit["id"], only_issues=True))
        assert flagged and all(r["is_issue"] for r in flagged)
        assert [a["id"] for a in client.audits(dataset_id=noisy["id"])] == [audit["id"]]
        with pytest.raises(ServiceRefused) as info:
            client.create_audit(ds["id"], backbone="nope")
        assert info.value.status == 422 and info.value.field == "backbone" and isinstance(info.value, OptionError)
        client.delete(noisy["id"])
        with pytest.raises(NotFound) as info:  # the domain class catches the remote "not found" too
            client.dataset(noisy["id"])
        assert isinstance(info.value, ServiceNotFound) and info.value.code == "not_found"
        with pytest.raises(OptionError):
            client.upload(np.zeros(3))


def test_a_reference_goes_up_with_the_audit(live_server, frame):
    X, y = digits_arrays(700)
    reference = pd.DataFrame(X[300:, :16], columns=[f"px{i}" for i in range(16)])
    reference["digit"] = [f"d{v}" for v in y[300:]]
    with labelaudit.Client(live_server) as client:
        result = client.audit(frame, label="digit", backbone="logreg", folds=3, seed=1, progress=False,
                              reference=reference)
        assert len(result.issues) == 300 and result.summary["reference_examples"] == 400
        assert result.audit["options"]["reference_dataset_id"].startswith("ds_")
        with pytest.raises(ServiceNotFound) as info:
            client.create_audit(result.dataset["id"], reference_dataset_id="ds_nope")
        assert info.value.field == "reference_dataset_id"


def test_neighbour_scores_come_back_as_a_column_here_and_from_the_service(live_server, frame):
    from labelaudit.notebook import audit

    options = dict(label="digit", backbone="mlp", folds=2, epochs=2, neighbours=5, seed=1, progress=False)
    local = audit(frame, **options).issues
    with labelaudit.Client(live_server) as client:
        remote = client.audit(frame, **options).issues
    assert "neighbour_score" in local and "neighbour_score" in remote
    assert local["neighbour_score"].between(0, 1, inclusive="neither").all()
    assert np.allclose(remote.loc[local.index, "neighbour_score"], local["neighbour_score"], atol=1e-3)
    plain = audit(frame, label="digit", backbone="logreg", folds=2, progress=False).issues
    assert "neighbour_score" not in plain
