"""Column roles (inferred and overridden), missing labels and label shapes, through from_dataframe and the
CSV/Parquet readers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.core.ingest import RoleOverrides, from_dataframe, infer_roles, load_dataset
from labelaudit.core.pipeline import AuditOptions, run_audit
from labelaudit.errors import ColumnProblems, IngestError
from tests.tables import penguins_like, reviews


def roles_of(ds) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["role"], c["type"]) for c in ds.meta["schema"]}


def test_every_inferred_role_and_type():
    n = 40
    df = pd.DataFrame({
        "Unnamed: 0": np.arange(n),                                   # pandas' unnamed index
        "rownames": np.arange(1, n + 1),                              # R's row names
        "seq": np.arange(100, 100 + n)[::-1],                         # an integer sequence, any name
        "uuid_col": [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(n)],
        "code": [f"A{i}" for i in range(n)],                          # single-word codes, unique
        "x": np.linspace(0, 1, n) ** 2,
        "flag": [True, False] * (n // 2),
        "binary": [0, 1] * (n // 2),
        "colour": ["red", "green", "blue", "red"] * (n // 4),
        "when": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "note": [f"a longer note about item {i} with several words" for i in range(n)],
        "as_text": [str(i * 1.5) for i in range(n)],                  # numbers written as text
        "constant": ["same"] * n,
        "empty": [None] * n,
        "label": ["a", "b"] * (n // 2),
    })
    ds = from_dataframe(df, "label")
    got = roles_of(ds)
    assert got["Unnamed: 0"][0] == got["rownames"][0] == got["seq"][0] == "id"
    assert got["uuid_col"][0] == got["code"][0] == "id"
    assert got["x"] == ("feature", "numeric") and got["as_text"] == ("feature", "numeric")
    assert got["flag"] == got["binary"] == ("feature", "boolean")
    assert got["colour"] == ("feature", "categorical")
    assert got["when"] == ("feature", "datetime")
    assert got["note"] == ("feature", "text")
    assert got["constant"][0] == got["empty"][0] == "ignored"
    assert got["label"][0] == "label"
    # the first identifier keys the examples; identifiers are never features
    assert ds.meta["id_column"] == "Unnamed: 0" and ds.example_ids[:2].tolist() == ["0", "1"]
    assert ds.feature_names == ["x", "flag", "binary", "colour", "when", "as_text"]
    assert ds.text_names == ["note"] and ds.texts.shape == (n, 1)
    assert ds.feature_types[ds.feature_names.index("when")] == "datetime"
    info = next(c for c in ds.meta["schema"] if c["name"] == "colour")
    assert info["distinct"] == 3 and info["missing_share"] == 0.0


def test_overrides_features_drop_categorical_text_and_id():
    df = penguins_like(60)
    ds = from_dataframe(df, "species", id_column="id", drop_columns=["island"], categorical=["flipper_length_mm"],
                        text=["sex"])
    got = roles_of(ds)
    assert got["id"] == ("id", "text") and ds.example_ids[0] == "P01000"
    assert got["island"][0] == "ignored"
    assert got["flipper_length_mm"] == ("feature", "categorical") and got["sex"] == ("feature", "text")
    only = from_dataframe(df, "species", features=["bill_length_mm", "Unnamed: 0"])
    got = roles_of(only)
    assert only.feature_names == ["Unnamed: 0", "bill_length_mm"]  # named features are features, even an index
    assert got["island"] == ("ignored", "text") and got["flipper_length_mm"][0] == "ignored"


def test_every_column_problem_at_once_each_with_its_fix():
    df = penguins_like(30)
    df["tags"] = [[1, 2]] * len(df)
    with pytest.raises(ColumnProblems) as info:
        from_dataframe(df, "species", features=["nope", "bill_length_mm", "tags"], drop_columns=["bill_length_mm"],
                       categorical=["species"])
    problems = info.value.details()
    assert {p["code"] for p in problems} == {"missing_column", "conflicting_override", "invalid_override"}
    assert info.value.field == "columns" and "'nope'" in info.value.message and "--drop-columns" in info.value.message
    with pytest.raises(ColumnProblems) as info:  # problems of values: a nested column and stray words
        df2 = penguins_like(30)
        df2["tags"] = [[1, 2]] * len(df2)
        df2["mass"] = [str(4000 + i) for i in range(29)] + ["?"]
        from_dataframe(df2, "species")
    fields = {p["field"]: p["message"] for p in info.value.details()}
    assert set(fields) == {"tags", "mass"}
    assert "--drop-columns tags" in fields["tags"] and "'?'" in fields["mass"] and "--categorical" in fields["mass"]


def test_missing_labels_are_left_out_counted_and_listed():
    df = penguins_like(60, blank_labels=4)
    ds = from_dataframe(df, "species")
    assert ds.num_examples == 56 and ds.class_names == ["Adelie", "Chinstrap", "Gentoo"]  # never a class ""
    missing = ds.meta["missing_labels"]
    blank_rows = [i for i, v in enumerate(df["species"]) if not isinstance(v, str) or not v.strip()]
    assert missing["count"] == 4 and missing["rows"] == blank_rows
    assert missing["ids"] == [str(i) for i in blank_rows]  # keyed by the unnamed index
    assert np.isnan(ds.features[:, ds.feature_names.index("bill_length_mm")]).any()  # missing features kept


@pytest.mark.parametrize("labels, code, words", [
    (np.linspace(0, 100, 300), "continuous_labels", "regression target: 300 distinct numeric values"),
    (np.arange(300) * 7, "continuous_labels", "regression target"),
    (["Adelie", "Gentoo", "Adelie,Gentoo"] * 100, "multi_label", "'Adelie,Gentoo'"),
    (["cat"] * 299 + [""], "single_class", "only one class ('cat'"),
])
def test_label_shapes_that_are_not_classes_are_refused_with_what_was_seen(labels, code, words):
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=300), "label": labels})
    with pytest.raises(IngestError) as info:
        from_dataframe(df, "label")
    assert info.value.code == code and words in info.value.message and info.value.field == "label"


def test_csv_and_parquet_read_the_same_roles(tmp_path):
    df = penguins_like(60)
    df.to_csv(tmp_path / "p.csv", index=False)
    df.assign(species=df["species"].map(lambda v: None if not isinstance(v, str) or not v.strip() else v)) \
        .to_parquet(tmp_path / "p.parquet")
    a = load_dataset(tmp_path / "p.csv", label_column="species", folds=2)
    b = load_dataset(tmp_path / "p.parquet", label_column="species", folds=2)
    assert roles_of(a) == roles_of(b)
    assert a.num_examples == b.num_examples == 56
    np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.raises(IngestError) as info:  # roles are for tables
        load_dataset(tmp_path / "p.csv", format="npz", roles=RoleOverrides(text=("sex",)))
    assert info.value.code == "unused_option"


def test_infer_roles_alone_reports_roles_without_encoding():
    infos = infer_roles(reviews(40), label_column="label")
    assert {i.name: i.type for i in infos if i.role == "feature"} == {"review": "text", "stars": "numeric",
                                                                      "product": "categorical"}


@pytest.mark.parametrize("backbone", ["auto", "logreg"])
def test_a_mixed_table_with_missing_values_is_audited(backbone):
    df = penguins_like(90)
    labels = df["species"].to_numpy(copy=True)
    labels[[0, 1, 2]] = ["Gentoo", "Adelie", "Adelie"]  # three wrong labels
    ds = from_dataframe(df.assign(species=labels), "species")
    result = run_audit(ds, AuditOptions(backbone=backbone, folds=3))
    assert result.backbone == ("gbt" if backbone == "auto" else "logreg")
    flagged = {int(r["index"]) for r in result.rows() if r["is_issue"]}
    assert {0, 1, 2} & flagged  # errors in the first rows (no missing labels before them) are found
    assert result.summary()["missing_labels"]["count"] == 4


def test_text_and_other_columns_audited_together():
    df = reviews(90)
    df.loc[[0, 2, 4], "label"] = "bad"  # good reviews labelled bad
    ds = from_dataframe(df, "label")
    result = run_audit(ds, AuditOptions(folds=3))
    assert result.backbone == "text"
    top = [r["index"] for r in result.rows(10)]
    assert len({0, 2, 4} & set(top)) >= 2


def test_the_index_pandas_writes_is_an_id_even_in_a_small_table(tmp_path):
    df = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5] * 3, "label": ["a", "b"] * 6})
    df.to_csv(tmp_path / "t.csv")  # index=True: a blank header over 0..11
    ds = load_dataset(tmp_path / "t.csv", folds=2)
    assert roles_of(ds)[""] == ("id", "numeric") and ds.feature_names == ["x"]
    assert ds.example_ids.tolist() == [str(i) for i in range(12)]


def test_id_names_are_matched_carefully():
    n = 40
    df = pd.DataFrame({"PassengerId": np.arange(n)[::-1] * 3, "paid": np.random.default_rng(0).random(n),
                       "user_id": [f"u {i}" for i in range(n)], "label": ["a", "b"] * (n // 2)})
    got = roles_of(from_dataframe(df, "label"))
    assert got["PassengerId"][0] == got["user_id"][0] == "id"
    assert got["paid"] == ("feature", "numeric")  # unique floats whose name ends in "id" are not ids
