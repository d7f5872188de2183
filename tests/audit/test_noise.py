"""Noise injection: exact per-class counts, the right destinations, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.noise import derangement, inject_noise, realised_noise_matrix
from labelaudit.errors import OptionError

LABELS = np.repeat(np.arange(4), [50, 33, 17, 100])


@pytest.mark.parametrize("kind", ["pairwise", "symmetric"])
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.2, 0.45, 1.0])
def test_exact_count_per_class(kind, rate):
    out = inject_noise(LABELS, kind=kind, rate=rate, seed=3)
    for c, count in enumerate(np.bincount(LABELS)):
        flipped = int((out.flipped & (LABELS == c)).sum())
        assert flipped == round(rate * count)
    assert np.array_equal(out.true_labels, LABELS)
    assert np.all(out.labels[out.flipped] != out.true_labels[out.flipped])


def test_pairwise_uses_one_derangement():
    out = inject_noise(LABELS, kind="pairwise", rate=0.3, seed=1)
    dest = {}
    for c in range(4):
        targets = set(out.labels[out.flipped & (LABELS == c)].tolist())
        assert len(targets) == 1 and c not in targets
        dest[c] = targets.pop()
    assert sorted(dest.values()) == [0, 1, 2, 3]  # a permutation


def test_pairwise_two_classes_swap():
    y = np.repeat([0, 1], 10)
    out = inject_noise(y, kind="pairwise", rate=0.5, seed=0)
    assert set(out.labels[out.flipped & (y == 0)]) == {1}
    assert set(out.labels[out.flipped & (y == 1)]) == {0}


def test_symmetric_spreads_evenly():
    y = np.repeat(np.arange(5), 400)
    out = inject_noise(y, kind="symmetric", rate=0.2, seed=0)
    for c in range(5):
        dest = np.bincount(out.labels[out.flipped & (y == c)], minlength=5)
        assert dest[c] == 0
        assert sorted(dest[np.arange(5) != c].tolist()) == [20, 20, 20, 20]


def test_matrix_kind_realises_the_matrix():
    y = np.repeat(np.arange(3), 100)
    m = np.array([[0.7, 0.0, 0.1], [0.3, 1.0, 0.0], [0.0, 0.0, 0.9]])
    out = inject_noise(y, kind="matrix", noise_matrix=m, seed=2)
    assert np.allclose(out.noise_matrix, m)
    assert np.allclose(realised_noise_matrix(out.labels, out.true_labels, 3), m)


def test_same_seed_same_result_other_seed_other_result():
    a = inject_noise(LABELS, kind="symmetric", rate=0.2, seed=7)
    b = inject_noise(LABELS, kind="symmetric", rate=0.2, seed=7)
    c = inject_noise(LABELS, kind="symmetric", rate=0.2, seed=8)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_realised_matrix_columns_sum_to_one():
    out = inject_noise(LABELS, kind="pairwise", rate=0.2, seed=0)
    assert np.allclose(out.noise_matrix.sum(axis=0), 1.0)
    counts = np.bincount(LABELS)
    assert np.allclose(np.diag(out.noise_matrix), [1 - round(0.2 * n) / n for n in counts])


def test_derangement_has_no_fixed_point():
    rng = np.random.default_rng(0)
    for k in range(2, 12):
        perm = derangement(k, rng)
        assert sorted(perm.tolist()) == list(range(k)) and not np.any(perm == np.arange(k))


@pytest.mark.parametrize("kwargs, field", [
    ({"kind": "pairwise", "rate": 1.5}, "rate"),
    ({"kind": "pairwise", "rate": -0.1}, "rate"),
    ({"kind": "blur", "rate": 0.1}, "kind"),
    ({"kind": "matrix"}, "noise_matrix"),
    ({"kind": "matrix", "noise_matrix": np.eye(3)}, "noise_matrix"),
    ({"kind": "matrix", "noise_matrix": np.full((4, 4), 0.3)}, "noise_matrix"),
    ({"kind": "matrix", "noise_matrix": -np.eye(4)}, "noise_matrix"),
    ({"kind": "pairwise", "rate": 0.1, "noise_matrix": np.eye(4)}, "noise_matrix"),
])
def test_invalid_options(kwargs, field):
    with pytest.raises(OptionError) as info:
        inject_noise(LABELS, **kwargs)
    assert info.value.field == field


def test_single_class_rejected():
    with pytest.raises(OptionError):
        inject_noise(np.zeros(10, dtype=int), rate=0.1)
