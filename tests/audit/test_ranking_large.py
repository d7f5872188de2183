"""The chunked ranking (labelaudit.core.ranking.chunked) gives exactly cleanlab's results, in bounded memory."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from labelaudit.core import ranking
from labelaudit.core.dataset import Dataset
from labelaudit.core.ranking import (FILTER_METHODS, RANK_METHODS, pruning, rank_label_issues,
                                      rank_label_issues_chunked, smallest_mask, stable_argsort)
from labelaudit.store.artifacts import ArtifactStore
from bench.common import synthetic_pred_probs, synthetic_pred_probs_file

ARRAYS = ("is_issue", "quality_scores", "suggested_labels", "ranks", "order", "class_sizes", "class_issues",
          "noise_matrix", "inverse_noise_matrix", "joint", "confident_joint")


def assert_identical(chunked, reference) -> None:
    """Every field equal, bit for bit and dtype for dtype."""
    for name in ARRAYS:
        got, want = getattr(chunked, name), getattr(reference, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert np.array_equal(got, want), f"{name}: {np.count_nonzero(got != want)} differ"
    for name in ("health_score", "estimated_num_issues", "rank_method", "filter_by"):
        assert getattr(chunked, name) == getattr(reference, name), name


def both(labels, pred_probs, rank_method="normalized_margin", filter_by="prune_by_noise_rate", chunk_cells=20_000):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's "too few examples" warnings, repeated by both
        reference = rank_label_issues(labels, pred_probs, rank_method=rank_method, filter_by=filter_by,
                                      chunked=False)
        chunked = rank_label_issues_chunked(labels, pred_probs, rank_method=rank_method, filter_by=filter_by,
                                            chunk_cells=chunk_cells)
    return chunked, reference


@pytest.fixture(scope="module")
def noisy_10():
    return synthetic_pred_probs(20_000, 10, noise=0.1, seed=1)


@pytest.fixture(scope="module")
def noisy_100():
    return synthetic_pred_probs(20_000, 100, noise=0.1, seed=2)


@pytest.mark.parametrize("filter_by", FILTER_METHODS)
@pytest.mark.parametrize("rank_method", RANK_METHODS)
def test_identical_to_cleanlab_20000_x_10(noisy_10, rank_method, filter_by):
    P, y = noisy_10
    assert_identical(*both(y, P, rank_method, filter_by))


@pytest.mark.parametrize("filter_by", FILTER_METHODS)
def test_identical_to_cleanlab_20000_x_100(noisy_100, filter_by):
    P, y = noisy_100
    chunked, reference = both(y, P, "normalized_margin", filter_by, chunk_cells=300_000)
    assert_identical(chunked, reference)
    assert reference.num_issues > 0


@pytest.mark.parametrize("rank_method", RANK_METHODS)
def test_identical_on_float64(rank_method):
    P, y = synthetic_pred_probs(5_000, 7, noise=0.15, seed=3)
    P = P.astype(np.float64)
    P /= P.sum(axis=1, keepdims=True)
    assert_identical(*both(y, P, rank_method, "prune_by_noise_rate"))


def _tie_cases():
    rng = np.random.default_rng(5)
    P, y = synthetic_pred_probs(6_000, 10, noise=0.2, seed=4)
    coarse = np.round(P, 2).astype(np.float32)  # few distinct values: ties everywhere, at every cut
    coarse /= coarse.sum(axis=1, keepdims=True)
    repeated = P.copy()
    repeated[::3] = P[0]  # duplicate rows
    single = y.copy()
    single[single == 3] = 4
    single[0] = 3  # a class with one example (cleanlab prunes nothing there)
    missing = y.copy()
    missing[missing == 5] = 6  # a class nobody is given
    onehot = (0.9 * np.eye(10, dtype=np.float32)[rng.integers(0, 10, 6_000)] + 0.01).astype(np.float32)
    flat = np.full((2_000, 4), 0.25, dtype=np.float32)  # exact ties between the given and the best other class
    flat[:700] = [0.4, 0.4, 0.1, 0.1]
    return {"coarse": (coarse, y), "repeated rows": (repeated, y), "one example": (P, single),
            "missing class": (P, missing), "one-hot": (onehot, y), "flat": (flat, rng.integers(0, 4, 2_000))}


@pytest.mark.parametrize("case", list(_tie_cases()))
@pytest.mark.parametrize("filter_by", FILTER_METHODS)
def test_identical_with_ties_and_degenerate_classes(case, filter_by):
    P, y = _tie_cases()[case]
    for rank_method in RANK_METHODS:
        assert_identical(*both(y, P, rank_method, filter_by, chunk_cells=7_777))


@pytest.mark.parametrize("share, sample", [(0.0, 0), (1.0, 0), (1.0, 4)])
def test_dense_confusion_with_and_without_candidate_rows(monkeypatch, share, sample):
    """Many pruned class pairs; every margin read (share 0), only the candidate rows' (share 1),
    or only the sampled rows' (sample 4)."""
    rng = np.random.default_rng(6)
    n, k = 8_000, 6
    true = rng.integers(0, k, n)
    y = np.where(rng.random(n) < 0.4, rng.integers(0, k, n), true)  # noise spread over every other class
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += 2
    P = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    monkeypatch.setattr(pruning, "CANDIDATE_SHARE", share)
    monkeypatch.setattr(pruning, "SAMPLE_PER_PRUNED", sample)
    chunked, reference = both(y, P, chunk_cells=5_000)
    assert_identical(chunked, reference)
    assert np.count_nonzero(reference.confident_joint - np.diag(np.diag(reference.confident_joint))) > k * (k - 2)


def test_memory_map_input_is_read_not_copied(tmp_path):
    """A read-only float32 memory map: the same results, and far less traced memory than the array."""
    n, k = 50_000, 100
    P, y = synthetic_pred_probs_file(tmp_path / "p.npy", n, k, noise=0.05, seed=7)
    assert isinstance(P, np.memmap) and not P.flags.writeable
    _, reference = both(y, np.asarray(P))  # first: it imports what cleanlab needs, outside the traced part
    tracemalloc.start()
    try:
        # chunks of 0.5 MB: the buffers are per chunk and thread (4 MB chunks would be most of this small array)
        chunked = rank_label_issues_chunked(y, P, rank_method="normalized_margin", filter_by="prune_by_noise_rate",
                                            chunk_cells=1 << 17)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < P.nbytes / 2, f"peak {peak / 1e6:.1f} MB for a {P.nbytes / 1e6:.1f} MB array"
    assert_identical(chunked, reference)


def test_large_inputs_take_the_chunked_path(monkeypatch, noisy_10):
    P, y = noisy_10
    calls = []
    real = ranking.rank_label_issues_chunked
    monkeypatch.setattr(ranking, "rank_label_issues_chunked",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    small = rank_label_issues(y, P)
    assert not calls
    monkeypatch.setattr(ranking, "CHUNKED_RANKING_CELLS", y.size * P.shape[1])
    large = rank_label_issues(y, P)
    assert calls == [1]
    assert_identical(large, small)


def test_stored_pred_probs_are_float32_memory_maps(tmp_path, noisy_10):
    P, y = noisy_10
    store = ArtifactStore(tmp_path)
    ds = Dataset(labels=y, class_names=[str(c) for c in range(10)], modality="pred_probs",
                 pred_probs=P.astype(np.float64))
    digest = store.put_dataset(ds)
    assert store.put_dataset(ds) == digest  # the same arrays, the same bytes
    back = store.load_dataset(digest, class_names=ds.class_names, modality="pred_probs")
    assert isinstance(back.pred_probs, np.memmap) and back.pred_probs.dtype == np.float32
    assert not back.pred_probs.flags.writeable and back.pred_probs.offset % 64 == 0
    assert np.array_equal(back.pred_probs, P) and np.array_equal(back.labels, y)
    assert_identical(rank_label_issues(back.labels, back.pred_probs, chunked=True), rank_label_issues(y, P))


def test_stable_argsort_matches_numpy():
    rng = np.random.default_rng(8)
    signed = rng.normal(0, 1e3, 10_000).astype(np.float32)
    signed[::7] = signed[3]  # ties among negatives and positives alike
    edge = np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3.4e38, -3.4e38, 0.0, -0.0, 1.0, -1.0] * 50,
                    dtype=np.float32)
    with_nan = rng.random(1_000).astype(np.float32)
    with_nan[[5, 500]] = np.nan  # NaN sorts last: the general path
    for values in (rng.integers(0, 50, 10_000).astype(np.float32), rng.random(10_000), np.zeros(7), np.ones(1),
                   np.empty(0), np.empty(0, dtype=np.float32), signed, edge, with_nan,
                   rng.random(100_000).astype(np.float32), np.zeros(5, dtype=np.float32)):
        got = stable_argsort(values)
        assert got.dtype == np.int64
        assert np.array_equal(got, np.argsort(values, kind="stable")), values.dtype


def test_smallest_is_the_set_argsort_picks():
    rng = np.random.default_rng(9)
    for values in (rng.random(1_000).astype(np.float32), rng.integers(0, 5, 1_000).astype(np.float32)):
        for m in (0, 1, 17, 500, 999, 1_000, 1_500):
            want = np.zeros(values.size, dtype=bool)
            want[np.argsort(values)[:m]] = True
            assert np.array_equal(smallest_mask(values, m), want)


def test_audit_of_a_stored_dataset_ranks_its_memory_map(tmp_path, monkeypatch, noisy_100):
    """The worker's way: dataset artifact -> memory-mapped pred_probs -> run_audit (chunked) -> row blocks."""
    from labelaudit.core.pipeline import AuditOptions, run_audit
    from labelaudit.jobs.worker import result_row_blocks, result_rows

    P, y = noisy_100
    store = ArtifactStore(tmp_path)
    names = [f"c{c}" for c in range(100)]
    digest = store.put_dataset(Dataset(labels=y, class_names=names, modality="pred_probs", pred_probs=P))
    ds = store.load_dataset(digest, class_names=names, modality="pred_probs")
    monkeypatch.setattr(ranking, "CHUNKED_RANKING_CELLS", 1)
    result = run_audit(ds, AuditOptions())
    assert isinstance(result.pred_probs, np.memmap)
    assert_identical(result.ranking, rank_label_issues(y, P, chunked=False))
    blocks = list(result_row_blocks(result, block=7_000))
    assert [len(b["rank"]) for b in blocks] == [7_000, 7_000, 6_000]
    rows = list(result_rows(result))
    assert [r["rank"] for r in rows] == list(range(20_000))
    assert [r["index"] for r in rows] == result.ranking.order.tolist()
    assert rows[0]["quality_score"] == result.ranking.quality_scores[result.ranking.order[0]]


def test_labels_out_of_range_are_refused():
    from labelaudit.errors import OptionError

    P, y = synthetic_pred_probs(100, 4, seed=1)
    for bad in (np.where(np.arange(100) == 7, 4, y), np.where(np.arange(100) == 7, -1, y)):
        with pytest.raises(OptionError) as err:
            rank_label_issues(bad, P, chunked=True)
        assert err.value.field == "labels"


def test_fortran_ordered_input_gives_the_same_results():
    """Column-major pred_probs (as some writers save them): the sampled rows and chunks read the same values."""
    P, y = synthetic_pred_probs(20_000, 30, noise=0.1, seed=3)
    chunked, reference = both(y, np.asfortranarray(P), chunk_cells=50_000)
    assert_identical(chunked, reference)
    assert reference.num_issues > 0
