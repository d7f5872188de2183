"""Instance-dependent noise: the ambiguous examples flip, to the class a model confuses them with."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.dataset import Dataset
from labelaudit.core.dataset_noise import dataset_noise, instance_probabilities
from labelaudit.core.noise import inject_noise
from labelaudit.errors import OptionError


def test_the_least_likely_of_each_class_flip_to_their_most_likely_other_class():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    P = rng.dirichlet(np.ones(3), size=y.size)
    noisy = inject_noise(y, kind="instance", rate=0.25, seed=1, probabilities=P)
    for c in range(3):
        members = np.flatnonzero(y == c)
        flipped = members[noisy.flipped[members]]
        assert flipped.size == round(0.25 * members.size)  # the exact per-class count, as for other kinds
        kept = members[~noisy.flipped[members]]
        assert P[flipped, c].max() <= P[kept, c].min()  # the most ambiguous ones
        other = P[flipped].copy()
        other[:, c] = -1
        assert (noisy.labels[flipped] == other.argmax(1)).all()
    again = inject_noise(y, kind="instance", rate=0.25, seed=1, probabilities=P)
    assert np.array_equal(again.labels, noisy.labels) and noisy.kind == "instance"
    with pytest.raises(OptionError) as info:
        inject_noise(y, kind="instance", rate=0.25, seed=1)
    assert info.value.field == "kind"
    with pytest.raises(OptionError):
        inject_noise(y, kind="instance", rate=0.25, seed=1, probabilities=P[:5])


def test_a_dataset_gets_its_quick_model(digits):
    X, y = digits
    ds = Dataset(labels=y[:600].astype(np.int64), class_names=[str(c) for c in range(10)], modality="tabular",
                 features=X[:600].reshape(600, -1).astype(np.float32))
    P = instance_probabilities(ds, seed=0)
    noisy = dataset_noise(ds, kind="instance", rate=0.1, seed=0)
    own = P[np.arange(600), ds.labels]
    assert own[noisy.flipped].mean() < own[~noisy.flipped].mean() - 0.2  # hard examples, not random ones
    assert noisy.num_flipped == sum(round(0.1 * n) for n in np.bincount(ds.labels))
    pairwise = dataset_noise(ds, kind="pairwise", rate=0.1, seed=0)
    assert own[pairwise.flipped].mean() > own[noisy.flipped].mean()
