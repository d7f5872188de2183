"""Detection quality and speed of the default audit against cleanlab's baseline, in one process.

Baseline: cleanlab's ``estimate_cv_predicted_probabilities`` (same 5 folds) with a
small 2-conv CNN trained by Adam for 10 epochs, then cleanlab's defaults
(``find_label_issues`` prune_by_noise_rate, ``self_confidence`` scores).
Ours: ``run_audit`` with the defaults (``backbone="auto"``).

Data: scikit-learn's digits (8x8 images) and the MNIST test set
(``../shared/datasets/mnist-test``), pairwise label noise at each rate, several seeds.

    python bench/quality.py                       # digits + MNIST, r in {0.2, 0.4}, 3 seeds
    python bench/quality.py --datasets digits --seeds 1
    python bench/quality.py --markdown bench/out/quality.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baselines import cleanlab_baseline  # noqa: E402
from bench.data import load  # noqa: E402
from labelaudit.core.noise import inject_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402




def baseline(ds, labels, true, seed: int, device: str) -> dict:
    return cleanlab_baseline(ds.features, labels, true, seed=seed, device=device)


def ours(ds, labels, true, seed: int, device: str) -> dict:
    noisy = ds.with_labels(labels, true)
    result = run_audit(noisy, AuditOptions(seed=seed, device=device))
    return {**result.evaluation, "seconds": result.timings["crossval_seconds"], "backbone": result.backbone,
            "epochs": result.crossval.epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist"], choices=["digits", "mnist"])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.2, 0.4])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-baseline", action="store_true", help="Only run ours (for tuning).")
    parser.add_argument("--markdown", type=Path, help="Also write the table here.")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}", flush=True)
    lines = ["| data | noise | method | AP | F1 | precision | recall | CV s | AP ratio | time ratio |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        ds = load(name)
        for rate in args.rates:
            runs: dict[str, list[dict]] = {"baseline": [], "ours": []}
            for seed in range(args.seeds):
                noise = inject_noise(ds.labels, kind="pairwise", rate=rate, seed=seed)
                if not args.no_baseline:
                    runs["baseline"].append(baseline(ds, noise.labels, noise.true_labels, seed, args.device))
                runs["ours"].append(ours(ds, noise.labels, noise.true_labels, seed, args.device))
                for who, rs in runs.items():
                    if rs and len(rs) == seed + 1:
                        r = rs[-1]
                        print(f"  {name} r={rate} seed={seed} {who:8s} AP {r['average_precision']:.3f} "
                              f"F1 {r['f1']:.3f} CV {r['seconds']:.1f}s", flush=True)
            mean = {who: {k: float(np.mean([r[k] for r in rs])) for k in
                          ("average_precision", "f1", "precision", "recall", "seconds")}
                    for who, rs in runs.items() if rs}
            base = mean.get("baseline")
            for who, m in mean.items():
                label = "baseline 2-conv CNN + cleanlab defaults" if who == "baseline" else \
                    f"labelaudit auto ({runs['ours'][0]['backbone']}, {runs['ours'][0]['epochs']} ep)"
                ap_ratio = f"{m['average_precision'] / base['average_precision']:.2f}x" if base else "-"
                t_ratio = f"{m['seconds'] / base['seconds']:.2f}x" if base else "-"
                lines.append(f"| {name} | pairwise {rate} | {label} | {m['average_precision']:.3f} | {m['f1']:.3f} | "
                             f"{m['precision']:.3f} | {m['recall']:.3f} | {m['seconds']:.1f} | {ap_ratio} | {t_ratio} |")
    table = "\n".join(lines)
    print(f"\nMeans over {args.seeds} seeds (CV s = cross-validation wall time; ratios are ours / baseline):\n")
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
