"""The issue set's size and precision under candidate issue filters, on cached out-of-fold probabilities.

The default audit's 5-fold probabilities (``run_audit`` with default options) are computed once per data
set, noise and seed and cached as ``.npz`` files (``--cache``, default ``/tmp/issueset``); the filters are
then compared offline:

* MNIST-10k with its original labels (real, human-verified errors), seeds 0-2: the issue set's size,
  its overlap with the issue set from cleanlab's published out-of-sample probabilities
  (``mnist_test_set_pyx.npy``: 15 rows) and with the published probabilities' 100 lowest-quality rows;
* MNIST-10k and scikit-learn digits with ``instance`` noise at 1% and 3% and ``pairwise`` noise at 1%:
  precision and recall of the issue set against the flipped labels.

    python bench/issue_set.py [--cache /tmp/issueset] [--seeds 3] [--mnist-noise-seeds 1] [--cached-only]

Computing the caches takes about 2 minutes of 2 cores an MNIST audit, under a minute a digits one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABEL_ERRORS = ROOT.parent / "shared" / "datasets" / "label-errors"
TOP = 100
NOISE = (("instance", 0.01), ("instance", 0.03), ("pairwise", 0.01))


def cached(cache: Path, name: str, kind: str, rate: float, seed: int, only: bool = False) -> dict | None:
    """The default audit's out-of-fold probabilities for ``name`` with ``kind`` noise (``orig``: none);
    ``None`` when not cached and ``only``."""
    path = cache / f"{name}_{kind}_{rate:g}_s{seed}_default.npz"
    if not path.exists() and only:
        return None
    if not path.exists():
        from bench.data import load
        from labelaudit.core.dataset_noise import dataset_noise
        from labelaudit.core.pipeline import AuditOptions, run_audit

        ds = load(name)
        if kind == "orig":
            data, flipped = ds, np.zeros(ds.num_examples, dtype=bool)
        else:
            noisy = dataset_noise(ds, kind=kind, rate=rate, seed=seed)
            data, flipped = ds.with_labels(noisy.labels, noisy.true_labels), noisy.flipped
        r = run_audit(data, AuditOptions(seed=seed, device="cpu"))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, pred_probs=r.pred_probs, labels=data.labels, true=ds.labels, flipped=flipped,
                 fold_ids=r.crossval.fold_ids, is_issue=r.ranking.is_issue, backbone=r.backbone)
        print(f"  cached {path.name}", flush=True)
    z = np.load(path)
    return {"labels": z["labels"].astype(np.int64), "pred_probs": z["pred_probs"], "flipped": z["flipped"]}


def filters() -> dict:
    """Candidate issue filters: name -> f(labels, pred_probs) -> boolean mask."""
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues

    from labelaudit.core.ranking import rank_label_issues
    from labelaudit.core.ranking.calibration import fit_temperature, posterior_issues, scaled

    def cleanlab_filter(how: str):
        return lambda y, p: find_label_issues(y, p, filter_by=how)

    def lowest_margin_calibrated(y, p):
        from cleanlab.rank import get_label_quality_scores

        n = int(num_label_issues(y, p, estimation_method="off_diagonal_calibrated"))
        mask = np.zeros(y.size, dtype=bool)
        mask[np.argsort(get_label_quality_scores(y, p), kind="stable")[:n]] = True
        return mask

    def temperature_then(how: str):
        return lambda y, p: find_label_issues(y, scaled(p, fit_temperature(y, p)), filter_by=how)

    out = {f"cleanlab {how}": cleanlab_filter(how) for how in (
        "prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")}
    out["lowest margins, count off_diagonal_calibrated"] = lowest_margin_calibrated
    out["temperature (NLL) + prune_by_noise_rate"] = temperature_then("prune_by_noise_rate")
    out["temperature (NLL) + confident_learning"] = temperature_then("confident_learning")
    out["calibrated_posterior (level 0.1)"] = lambda y, p: rank_label_issues(
        y, p, filter_by="calibrated_posterior").is_issue
    for level in (0.1, 0.2):  # the posterior test alone, without confident learning's rows
        out[f"calibrated posterior alone, level {level:g}"] = lambda y, p, level=level: (
            posterior_issues(p, y, fit_temperature(y, p), level=level) & (p.argmax(axis=1) != y))
    out["library default"] = lambda y, p: rank_label_issues(y, p).is_issue
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/issueset"))
    ap.add_argument("--seeds", type=int, default=3, help="seeds of MNIST original labels and of digits noise")
    ap.add_argument("--mnist-noise-seeds", type=int, default=1)
    ap.add_argument("--cached-only", action="store_true", help="skip the noise settings and seeds not cached")
    args = ap.parse_args()
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    pyx = np.load(LABEL_ERRORS / "mnist_test_set_pyx.npy")
    original = np.load(LABEL_ERRORS / "mnist_test_set_original_labels.npy").astype(np.int64)
    ref = set(np.flatnonzero(find_label_issues(original, pyx)).tolist())
    ref_low = set(np.argsort(get_label_quality_scores(original, pyx), kind="stable")[:TOP].tolist())
    real = [cached(args.cache, "mnist", "orig", 0, s) for s in range(args.seeds)]
    noisy = {(name, kind, rate): [d for s in range(seeds)
                                  if (d := cached(args.cache, name, kind, rate, s, args.cached_only)) is not None]
             for name, seeds in (("digits", args.seeds), ("mnist", args.mnist_noise_seeds))
             for kind, rate in NOISE}
    noisy = {key: runs for key, runs in noisy.items() if runs}
    head = (f"| filter | MNIST real: issues (s0/s1/s2) | of the published {len(ref)} | of the published {TOP} "
            "lowest | " + " | ".join(f"{n} {k} {r:g} ({len(runs)} seeds): P / R" for (n, k, r), runs in noisy.items())
            + " |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, rule in filters().items():
        sets = [set(np.flatnonzero(rule(d["labels"], d["pred_probs"])).tolist()) for d in real]
        sizes = [len(s) for s in sets]
        hit = [len(s & ref) for s in sets]
        low = [len(s & ref_low) for s in sets]
        cells = [" / ".join(map(str, sizes)), f"{np.mean(hit):.1f} ± {np.std(hit):.1f}",
                 f"{np.mean(low):.1f} ± {np.std(low):.1f}"]
        for runs in noisy.values():
            pr = []
            for d in runs:
                m = rule(d["labels"], d["pred_probs"])
                tp = int((m & d["flipped"]).sum())
                pr.append((tp / max(int(m.sum()), 1), tp / max(int(d["flipped"].sum()), 1)))
            p, r = np.array(pr).T
            cells.append(f"{p.mean():.2f} / {r.mean():.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
