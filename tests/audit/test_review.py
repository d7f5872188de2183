"""Review decisions as pure functions: keys, checks, applying decisions to a dataset, decisions files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labelaudit.core.dataset import Dataset
from labelaudit.core.review import (
    MAX_KEY_LENGTH,
    Decision,
    apply_decisions,
    check_decision,
    read_decisions_file,
    review_keys,
    stored_key,
)
from labelaudit.errors import OptionError
from labelaudit.vocab import ReviewDecision


def table(ids=None) -> Dataset:
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    return Dataset(labels=np.array([0, 1, 2, 0, 1, 2]), class_names=["a", "b", "c"], modality="tabular",
                   features=X, true_labels=np.array([0, 1, 1, 0, 1, 2]), example_ids=ids)


def test_keys_follow_content_or_ids_and_positions_are_scoped():
    ds = table()
    keys = review_keys(ds, scope="ds_1")
    assert all(k.startswith("sha:") for k in keys)
    moved = Dataset(labels=ds.labels[::-1], class_names=ds.class_names, modality="tabular", features=ds.features[::-1])
    assert review_keys(moved, scope="ds_2").tolist() == keys[::-1].tolist()  # order and labels do not matter
    ids = review_keys(table(ids=np.array(list("uvwxyz"))), scope="ds_1")
    assert ids[0] == "id:u"
    probs = Dataset(labels=np.array([0, 1]), class_names=["a", "b"], modality="pred_probs",
                    pred_probs=np.eye(2, dtype=np.float32))
    assert review_keys(probs, scope="ds_9").tolist() == ["ds_9/row:0", "ds_9/row:1"]
    long = "id:" + "x" * 400
    assert stored_key(long).startswith("h:") and len(stored_key(long)) <= MAX_KEY_LENGTH
    assert stored_key("id:short") == "id:short"


def test_check_decision_names_the_field():
    names = ["a", "b"]
    assert check_decision("relabel", None, names, field="items.0", suggested="b").label == "b"
    assert check_decision("keep", None, names, field="items.0").decision is ReviewDecision.KEEP
    for args, field, code in ((("maybe", None), "items.0.decision", "invalid_decision"),
                              (("relabel", "z"), "items.0.label", "unknown_class"),
                              (("exclude", "a"), "items.0.label", "unexpected_label"),
                              (("relabel", None), "items.0.label", "missing_label")):
        with pytest.raises(OptionError) as info:
            check_decision(*args, names, field="items.0")
        assert (info.value.field, info.value.code) == (field, code)


def test_apply_relabels_drops_and_records():
    ds = table(ids=np.array(list("uvwxyz")))
    keys = review_keys(ds, scope="s")
    out = apply_decisions(ds, keys, {keys[2]: Decision(ReviewDecision.RELABEL, "b"),
                                     keys[4]: Decision(ReviewDecision.EXCLUDE),
                                     keys[0]: Decision(ReviewDecision.KEEP), "id:gone": Decision(ReviewDecision.KEEP)})
    fixed = out.dataset
    assert (out.relabelled, out.excluded, out.kept, out.applied) == (1, 1, 1, 3)
    assert fixed.labels.tolist() == [0, 1, 1, 0, 2] and fixed.example_ids.tolist() == list("uvwxz")
    assert fixed.true_labels.tolist() == [0, 1, 1, 0, 2] and fixed.features.shape == (5, 2)
    assert fixed.extra_columns["original_label"].tolist() == ["a", "b", "c", "a", "c"]
    assert fixed.extra_columns["review_decision"].tolist() == ["keep", "", "relabel", "", ""]
    assert ds.labels.tolist() == [0, 1, 2, 0, 1, 2]  # the input is untouched
    with pytest.raises(OptionError):
        apply_decisions(ds, keys, {keys[0]: Decision(ReviewDecision.RELABEL, "zebra")})


def test_decisions_files(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"items": [{"key": "id:u", "decision": "keep"}, {"index": 3, "decision": "exclude"},
                                          {"key": "id:v", "decision": None}]}))
    by_key, by_index = read_decisions_file(path, ["a", "b"])
    assert list(by_key) == ["id:u"] and list(by_index) == [3]
    path.write_text("[{\"decision\": \"keep\"}]")
    with pytest.raises(OptionError) as info:
        read_decisions_file(path, ["a"])
    assert info.value.field == "decisions.0.key"
    with pytest.raises(OptionError):
        read_decisions_file(tmp_path / "missing.json", ["a"])
