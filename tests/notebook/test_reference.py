"""``labelaudit.audit(..., reference=...)``: trusted rows trained on in every fold, never ranked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import labelaudit
from labelaudit.errors import OptionError
from tests.service_fixtures import digits_arrays

NAMES = np.array("zero one two three four five six seven eight nine".split())


def frames():
    X, y = digits_arrays(900)
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    df["digit"] = NAMES[y]
    df["sample_id"] = [f"s-{i:04d}" for i in range(len(df))]
    df.index = pd.Index([f"row-{i}" for i in range(len(df))], name="row")
    perm = np.random.default_rng(0).permutation(len(df))  # the digits come in writers' blocks: mix them
    return df.iloc[perm[:200]].copy(), df.iloc[perm[200:]].copy()


def test_a_reference_dataframe_trains_beside_the_audited_one():
    audited, reference = frames()
    given = audited["digit"].to_numpy().copy()
    flipped = audited.index[::8]
    audited.loc[flipped, "digit"] = np.where(given[::8] == "one", "two", "one")
    alone = labelaudit.audit(audited, label="digit", id="sample_id", backbone="logreg", folds=3, progress=False)
    helped = labelaudit.audit(audited, label="digit", id="sample_id", backbone="logreg", folds=3, progress=False,
                              reference=reference.drop(columns=["sample_id"]))
    assert len(helped.issues) == 200 and set(helped.issues.index) == set(audited["sample_id"])
    assert helped.summary["reference_examples"] == 700 and alone.summary["reference_examples"] is None
    ids = set(audited.loc[flipped, "sample_id"])
    found = lambda r: len(ids & set(r.issues.index[:len(ids)]))  # noqa: E731
    assert found(helped) > 0.6 * len(ids)
    # 700 more rows to learn from: the models know the digits better
    truth = pd.Series(given, index=audited["sample_id"])
    right = lambda r: (r.issues["suggested_label"] == truth[r.issues.index]).mean()  # noqa: E731
    assert right(helped) > right(alone)


def test_a_reference_pair_of_arrays_and_its_errors():
    X, y = digits_arrays(600)
    result = labelaudit.audit((X[:200], y[:200]), backbone="logreg", folds=3, progress=False,
                              reference=(X[200:], y[200:]))
    assert result.summary["reference_examples"] == 400
    with pytest.raises(OptionError) as info:
        labelaudit.audit((X[:200], y[:200]), backbone="logreg", folds=3, progress=False,
                         reference=(X[200:, :10], y[200:]))
    assert info.value.field == "reference"
    with pytest.raises(OptionError) as info:  # class 10 is unknown to the audited data
        labelaudit.audit((X[:200], y[:200]), backbone="logreg", folds=3, progress=False,
                         reference=(X[200:], np.where(y[200:] == 3, 10, y[200:])))
    assert info.value.field == "reference" and "'10'" in info.value.message
