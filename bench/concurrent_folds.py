"""Folds trained together (one vmapped stack) against one after another, in one process.

For each small backbone the same cross-validation runs twice with the local executor, once with
``concurrent_folds=off`` (the baseline) and once with ``on``, and the table gives each run's wall time,
CPU time of this process, the ratio of wall times (sequential / together), GPU utilisation (sampled
from ``nvidia-smi``; none on a CPU), held-out accuracy, and the largest difference between the two
runs' ``pred_probs`` (rounding amplified by training: see :mod:`labelaudit.core.backbones.stacked`).

Data, built here offline: ``cnn`` on ``bench/folds.py``'s synthetic 32x32 RGB images, ``mlp`` on a
synthetic table of 64 numeric columns. A small warm-up run of both modes comes first, so neither pays
torch's first-call costs.

    python bench/concurrent_folds.py --device cpu                       # the CPU figures (docs/benchmarks)
    python bench/concurrent_folds.py --device cuda --images 20000 --rows 50000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.folds import GpuSampler, synthetic_images  # noqa: E402
from labelaudit.core.cpubudget import CpuBudget  # noqa: E402
from labelaudit.core.crossval import cross_val_pred_probs  # noqa: E402
from labelaudit.core.executors import LocalExecutor  # noqa: E402

BACKBONES = ("cnn", "mlp")


def synthetic_table(n: int, columns: int = 64, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(n, columns)`` float32 features with a noisy class signal in a few columns, and the class ids."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    centres = rng.normal(0, 1, (classes, columns)).astype(np.float32)
    X = rng.normal(0, 1.5, (n, columns)).astype(np.float32) + centres[labels]
    return X, labels.astype(np.int64)


def data_for(backbone: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """The features, labels and modality the benchmark trains ``backbone`` on."""
    if backbone == "mlp":
        X, y = synthetic_table(n, seed=seed)
        return X, y, "tabular"
    X, y = synthetic_images(n, seed=seed)
    return X, y, "image"


def run(features, labels, *, modality: str, backbone: str, mode: str, folds: int, epochs: int | None, device: str,
        threads: int = 0, seed: int = 0, options: dict | None = None) -> dict:
    """One cross-validation with ``concurrent_folds=mode``: wall and CPU seconds, GPU use, the probabilities."""
    keys = np.array([f"row:{i}" for i in range(len(labels))], dtype=object)
    executor = LocalExecutor(CpuBudget(threads=threads) if threads else None, concurrent_folds=mode)
    with GpuSampler() as gpu:
        wall, cpu = time.perf_counter(), _cpu_seconds()
        cv = cross_val_pred_probs(features, labels, num_classes=int(labels.max()) + 1, modality=modality,
                                  backbone=backbone, folds=folds, epochs=epochs, seed=seed, device=device, keys=keys,
                                  options=options, executor=executor)
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    return {"mode": mode, "wall": wall, "cpu": cpu, "epochs": cv.epochs, "device": cv.device, "gpu": gpu.summary(),
            "gpu_util_mean": _mean_util(gpu), "accuracy": float((cv.pred_probs.argmax(1) == labels).mean()),
            "pred_probs": cv.pred_probs}


def compare(backbone: str, n: int, *, folds: int = 5, epochs: int | None = None, device: str = "cpu",
            threads: int = 0, seed: int = 0, warmup: bool = True, options: dict | None = None) -> dict:
    """Sequential folds, then the same folds together: both runs' figures and their ratio and difference.

    Below 2,560 training images the image backbones' default batch size follows each fold's size, so
    folds of slightly different sizes do not stack: give ``options={"batch_size": ...}`` there."""
    X, y, modality = data_for(backbone, n, seed)
    if warmup:
        small = min(n, 600)
        for mode in ("off", "on"):
            run(X[:small], y[:small], modality=modality, backbone=backbone, mode=mode, folds=folds, epochs=1,
                device=device, threads=threads, seed=seed, options={"batch_size": 32})
    seq = run(X, y, modality=modality, backbone=backbone, mode="off", folds=folds, epochs=epochs, device=device,
              threads=threads, seed=seed, options=options)
    tog = run(X, y, modality=modality, backbone=backbone, mode="on", folds=folds, epochs=epochs, device=device,
              threads=threads, seed=seed, options=options)
    diff = float(np.abs(seq.pop("pred_probs") - tog.pop("pred_probs")).max())
    return {"backbone": backbone, "rows": n, "folds": folds, "sequential": seq, "together": tog,
            "speedup": seq["wall"] / tog["wall"], "cpu_ratio": seq["cpu"] / max(tog["cpu"], 1e-9),
            "max_abs_diff": diff}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _mean_util(gpu: GpuSampler) -> float | None:
    return float(np.mean([s[0] for s in gpu.samples])) if gpu.samples else None


def table(results: list[dict]) -> str:
    """The markdown table of :func:`compare` results."""
    lines = ["| backbone | rows | folds | epochs | device | sequential wall (s) | together wall (s) | wall ratio "
             "| sequential CPU (s) | together CPU (s) | accuracy seq / together | max abs diff | GPU seq / together |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, t = r["sequential"], r["together"]
        gpu = "-" if s["gpu_util_mean"] is None else f"{s['gpu_util_mean']:.0f}% / {t['gpu_util_mean']:.0f}%"
        lines.append(f"| {r['backbone']} | {r['rows']:,} | {r['folds']} | {s['epochs']} | {s['device']} | "
                     f"{s['wall']:.1f} | {t['wall']:.1f} | {r['speedup']:.2f}x | {s['cpu']:.1f} | {t['cpu']:.1f} | "
                     f"{s['accuracy']:.3f} / {t['accuracy']:.3f} | {r['max_abs_diff']:.1e} | {gpu} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    p.add_argument("--images", type=int, default=4_000, help="images for cnn (32x32 RGB)")
    p.add_argument("--rows", type=int, default=20_000, help="rows for mlp (64 columns)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=None, help="default: the backbone's own schedule")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: the executor's budget)")
    args = p.parse_args(argv)
    results = []
    for backbone in args.backbones:
        n = args.images if backbone != "mlp" else args.rows
        r = compare(backbone, n, folds=args.folds, epochs=args.epochs, device=args.device, threads=args.threads)
        results.append(r)
        print(f"# {backbone}: sequential {r['sequential']['wall']:.1f}s, together {r['together']['wall']:.1f}s "
              f"({r['speedup']:.2f}x), max abs diff {r['max_abs_diff']:.1e}", flush=True)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
