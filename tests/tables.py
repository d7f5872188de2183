"""Small mixed-type tables for the tests: penguins-like (strings, missing values, blank labels, index and id
columns) and short labelled texts. Made from a seed; nothing is downloaded."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
ISLANDS = {"Adelie": "Torgersen", "Chinstrap": "Dream", "Gentoo": "Biscoe"}


def penguins_like(n: int = 90, *, seed: int = 0, blank_labels: int = 4, missing_features: int = 5) -> pd.DataFrame:
    """A table shaped like palmerpenguins: the unnamed index ``to_csv()`` writes, an ``id`` of uuids-like
    codes, a categorical ``island`` and ``sex`` (with missing values), numeric measurements (with missing
    values), a constant ``year``, and ``species`` with ``blank_labels`` blank or missing labels."""
    rng = np.random.default_rng(seed)
    species = np.array([SPECIES[i % 3] for i in range(n)], dtype=object)
    centre = {"Adelie": (38.8, 18.3, 190.0), "Chinstrap": (48.8, 18.4, 196.0), "Gentoo": (47.5, 15.0, 217.0)}
    bill = np.array([centre[s][0] for s in species]) + rng.normal(0, 1.5, n)
    depth = np.array([centre[s][1] for s in species]) + rng.normal(0, 0.6, n)
    flipper = np.array([centre[s][2] for s in species]) + rng.normal(0, 4.0, n)
    island = np.array([ISLANDS[s] if rng.random() > 0.2 else "Biscoe" for s in species], dtype=object)
    sex = rng.choice(["male", "female"], n).astype(object)
    holes = rng.choice(n, missing_features, replace=False)
    bill[holes] = np.nan
    sex[holes[: max(1, missing_features // 2)]] = None
    labels = species.copy()
    blanks = rng.choice(n, blank_labels, replace=False)
    for j, i in enumerate(blanks):
        labels[i] = ("", "  ", None, np.nan)[j % 4]
    return pd.DataFrame({
        "Unnamed: 0": np.arange(n),
        "id": [f"P{1000 + i:05d}" for i in range(n)],
        "island": island, "bill_length_mm": np.round(bill, 1), "bill_depth_mm": np.round(depth, 1),
        "flipper_length_mm": np.round(flipper), "sex": sex, "year": 2008, "species": labels,
    })


POSITIVE = ("great", "tasty", "love", "excellent", "fresh", "delicious", "perfect", "favourite")
NEGATIVE = ("awful", "stale", "bland", "broken", "terrible", "waste", "disappointing", "soggy")
FILLER = ("the", "coffee", "box", "arrived", "and", "it", "was", "really", "this", "snack", "tea", "flavour")


def reviews(n: int = 120, *, seed: int = 0) -> pd.DataFrame:
    """Short product reviews labelled ``good`` or ``bad`` by their words, with a ``stars`` number and a
    ``product`` category beside the text."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        good = i % 2 == 0
        words = list(rng.choice(FILLER, 4)) + list(rng.choice(POSITIVE if good else NEGATIVE, 3))
        rng.shuffle(words)
        rows.append({"review": " ".join(words).capitalize() + ".", "stars": int(rng.integers(3, 6) if good
                                                                                  else rng.integers(1, 4)),
                     "product": rng.choice(["coffee", "tea", "snacks"]), "label": "good" if good else "bad"})
    return pd.DataFrame(rows)
