"""Reference data: trusted rows that join every fold's training part and are never ranked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from labelaudit.core.crossval import cross_val_pred_probs
from labelaudit.core.dataset import Dataset
from labelaudit.core.ingest import from_arrays
from labelaudit.core.noise import inject_noise
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.core.reference import align_reference, reference_keys
from labelaudit.errors import OptionError

NAMES = "zero one two three four five six seven eight nine".split()


def split(digits, audited: int = 300, seed: int = 0):
    """The digits as (audited part, reference part) datasets of 8x8 images named by class names."""
    X, y = digits
    perm = np.random.default_rng(seed).permutation(len(y))
    a, r = perm[:audited], perm[audited:]
    names = np.array(NAMES)
    return from_arrays(X[a], names[y[a]]), from_arrays(X[r], names[y[r]])


class Recorder:
    """A backbone that remembers what each fold trained on and predicts the training class shares."""

    name, modalities, uses_torch, option_names = "recorder", ("tabular",), False, frozenset()

    def __init__(self):
        self.calls = []

    def default_epochs(self, n_train: int) -> int:
        return 0

    def fit_predict(self, X_train, y_train, X_eval, ctx):
        self.calls.append((X_train.copy(), y_train.copy(), X_eval.copy()))
        shares = np.bincount(y_train, minlength=ctx.num_classes) / len(y_train)
        return np.tile(shares, (len(X_eval), 1))


def test_reference_rows_train_in_every_fold_and_are_never_predicted():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)).astype(np.float32), np.arange(60) % 3
    RX, Ry = rng.normal(size=(25, 3)).astype(np.float32) + 100, np.arange(25) % 3  # told apart by their values
    model = Recorder()
    cv = cross_val_pred_probs(X, y, num_classes=3, modality="tabular", backbone=model, folds=3, seed=1,
                              reference=(RX, Ry, np.array([f"ref:{i}" for i in range(25)], dtype=object)))
    assert cv.pred_probs.shape == (60, 3) and cv.fold_ids.shape == (60,)
    predicted = 0
    for X_train, y_train, X_eval in model.calls:
        from_ref = X_train[:, 0] > 50
        assert from_ref.sum() == 25  # every reference row in every fold's training part
        assert sorted(map(tuple, X_train[from_ref])) == sorted(map(tuple, RX))
        assert (X_eval[:, 0] < 50).all()  # held out: audited rows only
        predicted += len(X_eval)
        assert len(X_train) - 25 + len(X_eval) == 60
    assert predicted == 60
    # the audited rows keep the folds they get without a reference
    alone = cross_val_pred_probs(X, y, num_classes=3, modality="tabular", backbone=Recorder(), folds=3, seed=1)
    assert np.array_equal(alone.fold_ids, cv.fold_ids)


def test_reference_raises_accuracy_and_is_not_ranked(digits):
    audited, reference = split(digits)
    noisy = inject_noise(audited.labels, kind="pairwise", rate=0.2, seed=0)
    audited = audited.with_labels(noisy.labels, noisy.true_labels)
    opts = AuditOptions(backbone="logreg", seed=0)
    alone = run_audit(audited, opts)
    helped = run_audit(audited, opts, reference=reference)
    assert helped.pred_probs.shape == (300, 10) and len(list(helped.rows())) == 300
    assert helped.summary()["reference_examples"] == reference.num_examples
    assert alone.summary()["reference_examples"] is None
    true_acc = lambda r: float((r.pred_probs.argmax(1) == audited.true_labels).mean())  # noqa: E731
    # 1,497 clean reference rows beside 240 noisy ones: the models know the digits far better
    assert true_acc(helped) > true_acc(alone) + 0.03
    assert helped.evaluation["average_precision"] > alone.evaluation["average_precision"]


def test_reference_result_does_not_depend_on_row_order(digits):
    audited, reference = split(digits, audited=200)
    opts = AuditOptions(backbone="mlp", epochs=3, seed=3)
    first = run_audit(audited, opts, reference=reference)
    pa = np.random.default_rng(1).permutation(audited.num_examples)
    pr = np.random.default_rng(2).permutation(reference.num_examples)
    shuffled = run_audit(replace(audited, labels=audited.labels[pa], features=audited.features[pa]), opts,
                         reference=replace(reference, labels=reference.labels[pr], features=reference.features[pr]))
    np.testing.assert_allclose(shuffled.pred_probs, first.pred_probs[pa], rtol=0, atol=1e-6)
    assert np.array_equal(shuffled.ranking.is_issue, first.ranking.is_issue[pa])


def test_class_names_are_mapped_by_name():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = from_arrays(X, np.array(["cat", "dog", "eel"] * 2))
    ref = from_arrays(X[:4] + 0.5, np.array(["eel", "cat", "eel", "cat"]))  # two classes, other ids
    aligned = align_reference(ds, ref)
    assert aligned.class_names == ds.class_names
    assert [ds.class_names[i] for i in aligned.labels] == ["eel", "cat", "eel", "cat"]
    assert reference_keys(aligned)[0].startswith("ref:sha:")


@pytest.mark.parametrize("case", ["unknown_class", "pred_probs", "audited_pred_probs", "modality", "shape",
                                  "dtype", "columns", "types"])
def test_a_reference_that_does_not_fit_is_refused_naming_the_field(case, digits):
    X = np.arange(24, dtype=np.float32).reshape(8, 3)
    ds = from_arrays(X, np.array(["a", "b"] * 4))
    ref = from_arrays(X + 1, np.array(["a", "b"] * 4))
    probs = Dataset(labels=np.array([0, 1] * 4), class_names=["a", "b"], modality="pred_probs",
                    pred_probs=np.full((8, 2), 0.5))
    images = from_arrays(digits[0][:8], np.array(["a", "b"] * 4))
    if case == "unknown_class":
        ref = from_arrays(X, np.array(["a", "c"] * 4))
    elif case == "pred_probs":
        ref = probs
    elif case == "audited_pred_probs":
        ds = probs
    elif case == "modality":
        ref = images
    elif case == "shape":
        ds, ref = images, from_arrays(digits[0][:8, :4], np.array(["a", "b"] * 4))
    elif case == "dtype":
        ds, ref = images, replace(images, features=images.features.astype(np.uint8))
    elif case == "columns":
        ref = replace(ref, feature_names=["x", "y", "z"])
        ds = replace(ds, feature_names=["x", "y", "w"])
    elif case == "types":
        ds = replace(ds, feature_names=["x", "y", "z"], feature_types=["numeric"] * 3)
        ref = replace(ref, feature_names=["x", "y", "z"], feature_types=["numeric", "categorical", "numeric"])
    with pytest.raises(OptionError) as info:
        run_audit(ds, AuditOptions(backbone="logreg", folds=2) if ds.modality != "pred_probs" else None,
                  reference=ref, should_stop=lambda: pytest.fail("training started"))
    assert info.value.field == "reference"
    assert info.value.code.startswith("reference_")


def test_table_columns_and_categories_follow_the_audited_dataset():
    import pandas as pd

    from labelaudit.core.ingest.frame import from_dataframe

    ds = from_dataframe(pd.DataFrame({"size": [1.0, 2, 3, 4, 5, 6], "colour": ["red", "red", "red", "blue",
                                                                               "blue", "green"],
                                      "label": ["x", "y"] * 3}), "label", categorical=["colour"])
    ref = from_dataframe(pd.DataFrame({"colour": ["green", "green", "green", "blue", "pink"],
                                       "size": [10.0, 20, 30, 40, 50], "label": ["y", "y", "x", "x", "y"]}), "label",
                         categorical=["colour"])
    aligned = align_reference(ds, ref)
    assert aligned.feature_names == ds.feature_names
    cats = ds.meta["categories"]["colour"]
    col = ds.feature_names.index("colour")
    decoded = [None if np.isnan(v) else cats[int(v)] for v in aligned.features[:, col]]
    assert decoded == ["green", "green", "green", "blue", None]  # pink: unknown to the dataset, so missing
    assert aligned.features[:, ds.feature_names.index("size")].tolist() == [10, 20, 30, 40, 50]
    result = run_audit(ds, AuditOptions(backbone="gbt", folds=2), reference=ref)
    assert result.pred_probs.shape == (6, 2) and result.summary()["reference_examples"] == 5


def test_a_column_blank_in_the_reference_is_taken_as_missing():
    import pandas as pd

    from labelaudit.core.ingest.frame import from_dataframe

    rng = np.random.default_rng(0)
    ds = from_dataframe(pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40),
                                      "label": ["x", "y"] * 20}), "label")
    ref = from_dataframe(pd.DataFrame({"a": rng.normal(size=30), "b": [0.0] * 30, "label": ["y", "x", "x"] * 10}),
                         "label")
    assert ref.feature_names == ["a"]  # b is constant there, so its reading left it out
    aligned = align_reference(ds, ref)
    assert aligned.feature_names == ["a", "b"] and np.isnan(aligned.features[:, 1]).all()
    result = run_audit(ds, AuditOptions(backbone="logreg", folds=2), reference=ref)
    assert result.summary()["reference_examples"] == 30
    gone = from_dataframe(pd.DataFrame({"a": rng.normal(size=30), "label": ["y", "x", "x"] * 10}), "label")
    with pytest.raises(OptionError) as info:  # a column the reference does not have at all
        align_reference(ds, gone)
    assert info.value.field == "reference" and "b" in info.value.message
