"""Network width against training length on MNIST-10k: instance-noise AP and agreement, per seed.

For each configuration and seed, 5-fold ``cnn`` on the 10,000 MNIST test images (``bench/data.py``):

* ``instance`` noise at 1% (the seed draws the noise and trains), ranked with ``rank_label_issues`` on the
  noisy labels: average precision of finding the flipped rows;
* the original labels: how many of our 100 lowest-quality rows are among the 100 lowest from cleanlab's
  published probabilities (as ``bench/agreement.py``).

CPU seconds are this process's, per audit (the mean of the two); the ratio is against ``default`` run in the
same invocation. Probabilities are cached (``--cache``), so a rerun prints the table without training.

    python bench/capacity.py [--configs default w24e15] [--seeds 3] [--cache /tmp/capacity-cache]

Each audit is 1-3 minutes on 2 cores (``default`` about 1, ``w24e15`` about 1.4 times that).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.agreement import PYX, lowest  # noqa: E402
from bench.data import load  # noqa: E402
from labelaudit.core.crossval import cross_val_pred_probs  # noqa: E402
from labelaudit.core.dataset_noise import dataset_noise  # noqa: E402
from labelaudit.core.ranking import rank_label_issues  # noqa: E402

CONFIGS = {
    "default": {},
    "e10": {"epochs": 10},
    "e15": {"epochs": 15},
    "w24e12": {"epochs": 12, "options": {"width": 24}},
    "w24e15": {"epochs": 15, "options": {"width": 24}},
    "w16e20": {"epochs": 20, "options": {"width": 16}},
}


def probabilities(ds, labels: np.ndarray, name: str, seed: int, setting: str, cache: Path) -> tuple[np.ndarray, float]:
    """Out-of-fold probabilities of ``name`` on ``labels`` and the CPU seconds they took (cached)."""
    path = cache / f"{name}-{setting}-{seed}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["probs"], float(saved["cpu"])
    cpu = time.process_time()
    cv = cross_val_pred_probs(ds.features, labels, num_classes=ds.num_classes, modality="image", backbone="cnn",
                              folds=5, seed=seed, device="cpu", **CONFIGS[name])
    cpu = time.process_time() - cpu
    np.savez(path, probs=cv.pred_probs, cpu=cpu)
    return cv.pred_probs, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["default", "w24e15"], choices=sorted(CONFIGS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/capacity-cache"))
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    ds = load("mnist")
    ref, _ = lowest(ds.labels, np.load(PYX))
    rows, base_cpu = [], None
    for name in ["default"] + [c for c in args.configs if c != "default"]:
        aps, agree, cpus = [], [], []
        for seed in range(args.seeds):
            noisy = dataset_noise(ds, kind="instance", rate=0.01, seed=seed)
            noisy_probs, cpu_noisy = probabilities(ds, noisy.labels, name, seed, "instance", args.cache)
            aps.append(average_precision_score(noisy.flipped, -rank_label_issues(noisy.labels, noisy_probs)
                                               .quality_scores))
            probs, cpu = probabilities(ds, ds.labels, name, seed, "orig", args.cache)
            agree.append(len(lowest(ds.labels, probs)[0] & ref))
            cpus.append((cpu + cpu_noisy) / 2)
            print(f"  {name} seed {seed}: AP {aps[-1]:.3f}, agreement {agree[-1]}, {cpus[-1]:.0f} CPU s", flush=True)
        cpu = float(np.mean(cpus))
        base_cpu = base_cpu or cpu
        rows.append(f"| {name} | {' / '.join(f'{a:.3f}' for a in aps)} | {np.mean(aps):.3f} ± {np.std(aps):.3f} | "
                    f"{' / '.join(map(str, agree))} | {np.mean(agree):.1f} ± {np.std(agree):.1f} | {cpu:.0f} | "
                    f"{cpu / base_cpu:.2f}x |")
    print("\n| config | instance 1% AP by seed | mean ± sd | agreement by seed | mean ± sd | CPU s an audit | "
          "CPU ratio |\n|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
