"""labelaudit's notebook API: a DataFrame, a path, arrays or pred_probs in; issues keyed like the input out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import labelaudit
from labelaudit.errors import IngestError, OptionError
from labelaudit.notebook import audit, inject_noise
from tests.service_fixtures import digits_arrays, synthetic_pred_probs


@pytest.fixture
def penguin_like() -> pd.DataFrame:
    """Digits as a DataFrame with string class names, an index of its own and an id column."""
    X, y = digits_arrays(360)
    df = pd.DataFrame(X[:, :24], columns=[f"px{i}" for i in range(24)])
    df["digit"] = np.array("zero one two three four five six seven eight nine".split())[y]
    df["sample_id"] = [f"s-{i:04d}" for i in range(len(df))]
    df.index = pd.Index([f"row-{i}" for i in range(len(df))], name="row")
    return df


def test_a_dataframe_in_a_ranked_dataframe_out_keyed_by_its_index(penguin_like):
    noisy = inject_noise(penguin_like, label="digit", rate=0.2, seed=3)
    result = audit(noisy.drop(columns=["true_label", "sample_id"]), label="digit", backbone="logreg", folds=3,
                   progress=False)
    issues = result.issues
    assert list(issues.columns) == ["rank", "given_label", "suggested_label", "quality_score", "is_issue"]
    assert len(issues) == 360 and set(issues.index) == set(penguin_like.index)
    assert issues["rank"].tolist() == list(range(360)) and issues["quality_score"].is_monotonic_increasing
    assert (issues["given_label"] == noisy.loc[issues.index, "digit"]).all()  # class names, keyed by the index
    flipped = set(noisy.index[noisy["digit"] != noisy["true_label"]])
    flagged = set(issues.index[issues["is_issue"]])
    assert len(flagged & flipped) > 0.6 * len(flipped)  # the injected errors are found, by their index
    s = result.summary
    assert s["num_examples"] == 360 and s["num_issues"] == len(flagged) and s["backbone"] == "logreg"
    assert list(result.classes.index) == sorted(set(penguin_like["digit"]))
    assert result.classes["size"].sum() == 360
    nm = result.noise_matrix
    assert nm.shape == (10, 10) and np.allclose(nm.to_numpy().sum(axis=0), 1.0)
    assert result.pred_probs.shape == (360, 10) and result.evaluation is None
    assert "label issues" in result._repr_html_() and "<table" in result._repr_html_()
    assert repr(result).startswith("<AuditResult 360 examples, 10 classes")


def test_the_id_column_keys_the_rows_and_row_order_does_not_matter(penguin_like):
    shuffled = penguin_like.sample(frac=1.0, random_state=7)
    a = audit(penguin_like, label="digit", id="sample_id", backbone="logreg", folds=3, progress=False).issues
    b = audit(shuffled, label="digit", id="sample_id", backbone="logreg", folds=3, progress=False).issues
    assert a.index[0].startswith("s-") and set(a.index) == set(penguin_like["sample_id"])
    pd.testing.assert_frame_equal(a, b)


def test_paths_arrays_and_pred_probs(penguin_like, tmp_path):
    path = tmp_path / "table.csv"
    penguin_like.drop(columns="sample_id").to_csv(path, index=False)
    from_path = audit(path, label="digit", backbone="logreg", folds=3, progress=False)
    assert from_path.summary["num_examples"] == 360 and from_path.issues.index.dtype.kind == "i"

    X, y = digits_arrays(300)
    labels = pd.Series(y, index=[f"x{i}" for i in range(300)])
    from_arrays = audit((X, labels), backbone="logreg", folds=3, progress=False)
    assert set(from_arrays.issues.index) == set(labels.index)

    probs, given = synthetic_pred_probs(500, k=4, seed=2)
    mine = audit(pred_probs=probs, labels=pd.Series(given, index=np.arange(500) * 10), progress=False)
    assert mine.summary["backbone"] is None and set(mine.issues.index) == set(np.arange(500) * 10)


def test_known_true_labels_are_scored(penguin_like, tmp_path):
    noisy = inject_noise(penguin_like.drop(columns="sample_id"), label="digit", rate=0.2, seed=1)
    path = tmp_path / "noisy.csv"
    noisy.to_csv(path, index=False)  # a true_label column is read as the known truth
    result = audit(path, label="digit", backbone="logreg", folds=3, progress=False)
    assert result.evaluation["average_precision"] > 0.5 and "true_label" in result.issues.columns
    doc = json.loads(result.to_json(tmp_path / "r.json", top=5))
    assert len(doc["issues"]) == 5 and json.loads((tmp_path / "r.json").read_text()) == doc


def test_progress_bar_or_silence(penguin_like, capsys):
    audit(penguin_like, label="digit", id="sample_id", backbone="logreg", folds=3, progress=False)
    assert capsys.readouterr() == ("", "")
    audit(penguin_like, label="digit", id="sample_id", backbone="logreg", folds=3, progress=True)
    err = capsys.readouterr().err
    assert "100%" in err and "fold" in err


def test_bad_input_names_the_field(penguin_like):
    with pytest.raises(IngestError) as info:
        audit(penguin_like, label="species", progress=False)
    assert info.value.field == "label" and "digit" in str(info.value)
    with pytest.raises(IngestError) as info:
        audit(penguin_like, label="digit", id="nope", progress=False)
    assert info.value.field == "id"
    with pytest.raises(OptionError) as info:
        audit(penguin_like, label="digit", id="sample_id", backbone="nope", progress=False)
    assert info.value.field == "backbone"
    with pytest.raises(TypeError, match="DataFrame"):
        audit(42, progress=False)
    with pytest.raises(IngestError) as info:
        audit(pred_probs=np.full((10, 2), 0.5), progress=False)
    assert info.value.field == "labels"


def test_inject_noise_flips_exact_counts_and_keeps_every_other_column(penguin_like):
    df = penguin_like.copy()
    df.loc[df.index[:4], "digit"] = None  # missing labels stay missing and are never flipped
    noisy = inject_noise(df, label="digit", rate=0.25, seed=5)
    assert labelaudit.inject_noise is inject_noise
    pd.testing.assert_frame_equal(noisy.drop(columns=["digit", "true_label"]), df.drop(columns="digit"))
    assert noisy["digit"].dtype == df["digit"].dtype
    pd.testing.assert_series_equal(noisy["true_label"], df["digit"], check_names=False)
    assert noisy["digit"].iloc[:4].isna().all()
    known = df["digit"].dropna()
    flipped = noisy["digit"] != noisy["true_label"]
    for name, count in known.value_counts().items():
        assert flipped[df["digit"] == name].sum() == round(0.25 * count)
    again = inject_noise(df, label="digit", rate=0.25, seed=5)
    pd.testing.assert_frame_equal(noisy, again)
    assert not inject_noise(df, label="digit", rate=0.25, seed=6).equals(noisy)
    with pytest.raises(IngestError) as info:
        inject_noise(noisy, label="digit")
    assert info.value.field == "true_label"


def test_a_table_as_it_comes_strings_missing_values_blank_labels_and_ids():
    from tests.tables import penguins_like

    df = penguins_like(150, seed=2)
    df.index = pd.Index([f"bird-{i}" for i in range(150)], name="bird")
    result = audit(df, label="species", folds=3, progress=False)
    issues = result.issues
    blank = df["species"].isna() | df["species"].map(lambda v: isinstance(v, str) and not v.strip())
    assert set(issues.index) == set(df.index[~blank]) and issues.index.name == "bird"
    assert (issues["given_label"] == df.loc[issues.index, "species"]).all()
    assert result.summary["backbone"] == "gbt" and result.summary["num_classes"] == 3
    assert result.result.dataset.meta["missing_labels"]["count"] == int(blank.sum())
    narrowed = audit(df, label="species", folds=3, features=["bill_length_mm", "flipper_length_mm"], progress=False)
    assert narrowed.result.dataset.features.shape[1] == 2


def test_instance_noise_on_a_dataframe():
    from tests.tables import penguins_like

    df = penguins_like(150, seed=6)
    noisy = inject_noise(df, label="species", kind="instance", rate=0.2, seed=0)
    labelled = df["species"].map(lambda v: isinstance(v, str) and bool(v.strip()))
    flipped = (noisy["species"] != noisy["true_label"]) & labelled
    assert flipped.sum() == sum(round(0.2 * n) for n in df.loc[labelled, "species"].value_counts())
    assert set(noisy.loc[flipped, "species"]) <= set(df.loc[labelled, "species"])
    pd.testing.assert_frame_equal(noisy.drop(columns=["species", "true_label"]), df.drop(columns="species"))
