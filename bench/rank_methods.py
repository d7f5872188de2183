"""Ranking scores against two answer keys, from cached probabilities (no training).

For each score (``normalized_margin``, ``self_confidence``, ``confidence_weighted_entropy``) and each cached
run of ``bench/snapshots.py`` (``--cache``; the final model of each fold): AP on ``instance`` noise at 1%,
the agreement with the published probabilities' 100 lowest rows, and, given ``--verified``, the AP of the
MNIST test set's human-verified label errors and how many sit among the 100 lowest rows. ``--verified`` is
cleanlab's ``mturk/mnist_mturk.json`` (github.com/cleanlab/label-errors, Apache-2.0), fetched by the user:
a row is a verified error when at least 3 of its 5 workers rejected the given label. Nothing here downloads it.

    python bench/snapshots.py --seeds 0 1 2 --settings instance orig      # makes the cache (minutes an audit)
    python bench/rank_methods.py [--epochs default 10] [--verified mnist_mturk.json] [--issue-sets]

``--issue-sets`` also compares issue filters on the same probabilities: the default ``calibrated_posterior``
(one temperature, level 0.1) against other levels and a temperature per given class.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data import load  # noqa: E402
from bench.snapshots import PYX, TOP, labels_for  # noqa: E402

METHODS = ("normalized_margin", "self_confidence", "confidence_weighted_entropy")


def verified_errors(path: Path, n: int) -> np.ndarray:
    """The rows at least 3 of 5 workers said were not their given label."""
    mask = np.zeros(n, dtype=bool)
    for row in json.loads(path.read_text()):
        if row["mturk"]["given"] <= 2:
            mask[int(row["id"])] = True
    return mask


def issue_sets(labels: np.ndarray, probs: np.ndarray) -> dict[str, np.ndarray]:
    """Issue sets of the default filter and its variants (confident learning's rows always included)."""
    from cleanlab.count import _reduce_issues

    from labelaudit.core.ranking import rank_label_issues
    from labelaudit.core.ranking.calibration import fit_temperature, scaled

    pruned = rank_label_issues(labels, probs, filter_by="prune_by_noise_rate").is_issue
    doubted = ~_reduce_issues(probs, labels)  # the given label is not (nearly) the predicted class
    rows = np.arange(labels.size)
    given = scaled(probs, fit_temperature(labels, probs))[rows, labels]
    per_class = np.empty(labels.size)
    for c in np.unique(labels):
        m = labels == c
        per_class[m] = scaled(probs[m], fit_temperature(labels[m], probs[m]))[np.arange(m.sum()), labels[m]]
    return {"default (one T, level 0.1)": rank_label_issues(labels, probs).is_issue,
            "one T, level 0.05": pruned | (given <= 0.05) & doubted,
            "one T, level 0.2": pruned | (given <= 0.2) & doubted,
            "a T per given class, level 0.1": pruned | (per_class <= 0.1) & doubted,
            "a T per given class, level 0.05": pruned | (per_class <= 0.05) & doubted}


def print_issue_sets(ds, args, key) -> None:
    rows: dict[str, dict[str, list]] = {}
    for epochs in args.epochs:
        for seed in args.seeds:
            labels, flipped = labels_for(ds, "instance", seed)
            for name, flagged in issue_sets(labels, final_probs(args.cache, "instance", seed, epochs)).items():
                r = rows.setdefault(f"{name}, {epochs} epochs", {"p": [], "r": [], "size": [], "verified": []})
                r["p"].append((flagged & flipped).sum() / max(1, flagged.sum()))
                r["r"].append((flagged & flipped).sum() / flipped.sum())
            for name, flagged in issue_sets(ds.labels, final_probs(args.cache, "orig", seed, epochs)).items():
                r = rows[f"{name}, {epochs} epochs"]
                r["size"].append(int(flagged.sum()))
                r["verified"].append(int((flagged & key).sum()) if key is not None else "-")
    print("\n| issue filter | instance 1%: precision / recall | real MNIST: rows flagged by seed | "
          "of them verified errors |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {np.mean(r['p']):.3f} / {np.mean(r['r']):.3f} | {' / '.join(map(str, r['size']))} | "
              f"{' / '.join(map(str, r['verified']))} |")


def final_probs(cache: Path, setting: str, seed: int, epochs: str) -> np.ndarray:
    return np.load(cache / f"mnist_{setting}_s{seed}_e{epochs}_snap4.npz")["probs"][0]


def main() -> None:
    from cleanlab.rank import get_label_quality_scores
    from sklearn.metrics import average_precision_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/snap-cache"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", nargs="+", default=["default", "10"], help="as the cache names them")
    ap.add_argument("--verified", type=Path, help="cleanlab's mturk/mnist_mturk.json, if you have it")
    ap.add_argument("--issue-sets", action="store_true", help="also compare issue filters")
    args = ap.parse_args()
    ds = load("mnist")
    key = verified_errors(args.verified, ds.num_examples) if args.verified else None
    published = np.load(PYX)
    print("| score | epochs | instance 1% AP by seed | mean ± sd | agreement by seed | verified AP by seed | "
          "verified in the 100 lowest |")
    print("|---|---|---|---|---|---|---|")
    ref = set(np.argsort(get_label_quality_scores(ds.labels, published, method="normalized_margin"),
                         kind="stable")[:TOP].tolist())
    for method in METHODS:
        for epochs in args.epochs:
            aps, agree, vap, vtop = [], [], [], []
            for seed in args.seeds:
                labels, flipped = labels_for(ds, "instance", seed)
                scores = get_label_quality_scores(labels, final_probs(args.cache, "instance", seed, epochs),
                                                  method=method)
                aps.append(average_precision_score(flipped, -scores))
                scores = get_label_quality_scores(ds.labels, final_probs(args.cache, "orig", seed, epochs),
                                                  method=method)
                lowest = np.argsort(scores, kind="stable")[:TOP]
                agree.append(len(ref & set(lowest.tolist())))
                if key is not None:
                    vap.append(average_precision_score(key, -scores))
                    vtop.append(int(key[lowest].sum()))
            fmt = " / ".join
            print(f"| {method} | {epochs} | {fmt(f'{a:.3f}' for a in aps)} | {np.mean(aps):.3f} ± {np.std(aps):.3f} | "
                  f"{fmt(str(a) for a in agree)} | {fmt(f'{a:.3f}' for a in vap) or '-'} | "
                  f"{fmt(str(a) for a in vtop) or '-'} |", flush=True)
    if args.issue_sets:
        print_issue_sets(ds, args, key)


if __name__ == "__main__":
    main()
