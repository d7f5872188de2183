"""Real label errors are rare and hide among hard examples: detection under instance-dependent noise, and
agreement with a stronger model on the MNIST test set's real errors.

* ``digits`` and ``mnist`` (the 10,000 MNIST test images) with ``instance`` noise at 1% and 3% (each
  class's most ambiguous examples by a quick model, flipped to the class they resemble) and pairwise noise
  at 1% as a sanity row, ``--seeds`` seeds: AP, precision and recall of the issue set, and precision among
  the 100 lowest-quality rows; today's default audit against the baseline a careful user writes (a
  2-conv CNN in cleanlab's ``estimate_cv_predicted_probabilities``, cleanlab's defaults), in the same run.
* ``--agreement``: on the MNIST test images with their original labels, how many of our 100
  lowest-quality rows are among the 100 lowest ranked from cleanlab's published out-of-sample
  probabilities (``mnist_test_set_pyx.npy``, models trained on six times the data), same ranking method.

    python bench/real_errors.py [--datasets digits mnist] [--seeds 3] [--agreement]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baselines import cleanlab_baseline  # noqa: E402
from bench.data import load  # noqa: E402
from labelaudit.core.dataset_noise import dataset_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402
from labelaudit.core.ranking import rank_label_issues  # noqa: E402

SETTINGS = (("instance", 0.01), ("instance", 0.03), ("pairwise", 0.01))
LABEL_ERRORS = ROOT.parent / "shared" / "datasets" / "label-errors"
TOP = 100


def precision_at(scores: np.ndarray, flipped: np.ndarray, top: int = TOP) -> float:
    """Share of the ``top`` lowest-quality rows whose label was flipped."""
    return float(flipped[np.argsort(scores, kind="stable")[:top]].mean())


def ours(ds, noisy, seed: int) -> dict:
    result = run_audit(ds.with_labels(noisy.labels, noisy.true_labels), AuditOptions(seed=seed, device="cpu"))
    return {**result.evaluation, "p_at_100": precision_at(result.ranking.quality_scores, noisy.flipped),
            "seconds": result.timings["total_seconds"], "backbone": result.backbone}


def baseline(ds, noisy, seed: int) -> dict:
    r = cleanlab_baseline(ds.features, noisy.labels, noisy.true_labels, seed=seed)
    return {**r, "p_at_100": precision_at(r.pop("quality_scores"), noisy.flipped)}


def agreement(seed: int) -> tuple[int, float]:
    """Overlap of our 100 lowest-quality MNIST test rows with the published probabilities' 100 lowest."""
    ds = load("mnist")
    pyx = np.load(LABEL_ERRORS / "mnist_test_set_pyx.npy")
    start = time.perf_counter()
    ours_scores = run_audit(ds, AuditOptions(seed=seed, device="cpu")).ranking.quality_scores
    seconds = time.perf_counter() - start
    theirs = rank_label_issues(ds.labels, pyx).quality_scores
    mine, ref = set(np.argsort(ours_scores, kind="stable")[:TOP]), set(np.argsort(theirs, kind="stable")[:TOP])
    return len(mine & ref), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["digits"], choices=["digits", "mnist"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--agreement", action="store_true")
    args = ap.parse_args()
    lines = ["| data | noise | method | AP (± sd) | precision | recall | precision@100 | seconds | AP ratio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        ds = load(name)
        for kind, rate in SETTINGS:
            runs: dict[str, list[dict]] = {"baseline": [], "ours": []}
            for seed in range(args.seeds):
                noisy = dataset_noise(ds, kind=kind, rate=rate, seed=seed)
                runs["baseline"].append(baseline(ds, noisy, seed))
                runs["ours"].append(ours(ds, noisy, seed))
                for who, rs in runs.items():
                    r = rs[-1]
                    print(f"  {name} {kind} {rate} seed {seed} {who:8s} AP {r['average_precision']:.3f} "
                          f"P@100 {r['p_at_100']:.2f} {r['seconds']:.1f}s", flush=True)
            base_ap = float(np.mean([r["average_precision"] for r in runs["baseline"]]))
            for who, rs in runs.items():
                m = {k: float(np.mean([r[k] for r in rs])) for k in
                     ("average_precision", "precision", "recall", "p_at_100", "seconds")}
                sd = float(np.std([r["average_precision"] for r in rs]))
                label = "baseline: 2-conv CNN + cleanlab defaults" if who == "baseline" else \
                    f"labelaudit default ({rs[0]['backbone']})"
                lines.append(f"| {name} | {kind} {rate:g} | {label} | {m['average_precision']:.3f} ± {sd:.3f} | "
                             f"{m['precision']:.3f} | {m['recall']:.3f} | {m['p_at_100']:.2f} | {m['seconds']:.1f} | "
                             f"{m['average_precision'] / base_ap:.2f}x |")
    print("\n" + "\n".join(lines))
    if args.agreement:
        found = [agreement(seed) for seed in range(args.seeds)]
        counts = [c for c, _ in found]
        print(f"\nAgreement with the published MNIST probabilities (of {TOP}): {counts}, mean "
              f"{np.mean(counts):.1f} ± {np.std(counts):.1f}; {np.mean([s for _, s in found]):.0f} s an audit")


if __name__ == "__main__":
    main()
