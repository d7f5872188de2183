"""Reference data: auditing a small set with and without a larger trusted one trained on beside it.

An audited subset of ``--audited`` rows (1,000) drawn by the seed gets ``instance`` noise (each class's most
ambiguous examples, by a quick model trained on the subset's clean labels, flipped to the class they
resemble); the rest of the dataset, with its labels as they are, is the reference. The default audit of the
subset alone is the baseline; the same audit with ``reference=`` the rest is compared with it in the same
process and seed: AP, precision and recall of the issue set, CV accuracy (of the noisy labels), precision
among the ``k`` lowest-quality rows (``k`` = rows flipped), CPU and wall seconds.

    python bench/reference.py [--datasets digits mnist] [--seeds 3] [--rates 0.03] [--audited 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data import load  # noqa: E402
from labelaudit.core.dataset import Dataset  # noqa: E402
from labelaudit.core.dataset_noise import dataset_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402

#: the shared MNIST test set, wherever this checkout lies (bench/data.py looks beside the repository)
MNIST_DIRS = (ROOT.parent / "shared" / "datasets" / "mnist-test", Path("/work/shared/datasets/mnist-test"))


def dataset(name: str) -> Dataset:
    if name == "mnist":
        from labelaudit.core.ingest import load_dataset

        for d in MNIST_DIRS:
            if (d / "t10k-images-idx3-ubyte.gz").exists():
                return load_dataset(d / "t10k-images-idx3-ubyte.gz")
    return load(name)


def rows(ds: Dataset, index: np.ndarray) -> Dataset:
    return replace(ds, labels=ds.labels[index], features=ds.features[index], true_labels=None)


def split(ds: Dataset, audited: int, seed: int) -> tuple[Dataset, Dataset]:
    perm = np.random.default_rng(seed).permutation(ds.num_examples)
    return rows(ds, np.sort(perm[:audited])), rows(ds, np.sort(perm[audited:]))


def audit(ds: Dataset, seed: int, reference: Dataset | None) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    result = run_audit(ds, AuditOptions(seed=seed, device="cpu"), reference=reference)
    flipped = ds.labels != ds.true_labels
    k = max(1, int(flipped.sum()))
    worst = np.argsort(result.ranking.quality_scores, kind="stable")[:k]
    return {**result.evaluation, "p_at_k": float(flipped[worst].mean()),
            "cv_accuracy": result.summary()["cv_accuracy"], "backbone": result.backbone,
            "epochs": result.crossval.epochs, "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["digits", "mnist"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rates", nargs="+", type=float, default=[0.03])
    ap.add_argument("--audited", type=int, default=1000)
    args = ap.parse_args()
    print("| data | noise | audit | AP (± sd) | precision | recall | precision@k | CV accuracy | CPU s | wall s "
          "| AP ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        full = dataset(name)
        for rate in args.rates:
            runs: dict[str, list[dict]] = {"alone": [], "reference": []}
            for seed in range(args.seeds):
                audited, reference = split(full, args.audited, seed)
                noisy = dataset_noise(audited, kind="instance", rate=rate, seed=seed)
                audited = audited.with_labels(noisy.labels, noisy.true_labels)
                runs["alone"].append(audit(audited, seed, None))
                runs["reference"].append(audit(audited, seed, reference))
                print(f"  {name} {rate} seed {seed}: AP {runs['alone'][-1]['average_precision']:.3f} alone, "
                      f"{runs['reference'][-1]['average_precision']:.3f} with the reference", file=sys.stderr)
            base_ap = np.mean([r["average_precision"] for r in runs["alone"]])
            base_cpu = np.mean([r["cpu"] for r in runs["alone"]])
            for label, key in (("default, audited rows only", "alone"),
                               (f"default + reference ({full.num_examples - args.audited:,} rows)", "reference")):
                rs = runs[key]
                aps = [r["average_precision"] for r in rs]
                mean = lambda f: float(np.mean([r[f] for r in rs]))  # noqa: E731
                print(f"| {name} ({args.audited:,} audited) | instance {rate} | {label} | {np.mean(aps):.3f} ± "
                      f"{np.std(aps, ddof=1) if len(aps) > 1 else 0:.3f} | {mean('precision'):.3f} | "
                      f"{mean('recall'):.3f} | {mean('p_at_k'):.2f} | {mean('cv_accuracy'):.3f} | "
                      f"{mean('cpu'):.0f} ({mean('cpu') / base_cpu:.1f}x) | {mean('wall'):.0f} | "
                      f"{np.mean(aps) / base_ap:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
