"""A 5-fold image audit at scale: time per fold and GPU use, local executor against Ray, in one run.

The data are synthetic 32x32 RGB images (``--n``, 50,000 by default; built here, offline):
each class is a smooth random colour pattern, each image that pattern shifted by up to 3
pixels, scaled and noised; ``--rate`` of the labels are flipped pairwise (seeded), so the
audit is scored against the true labels. Each executor runs the same audit (the same
seed, so the same folds and, for the same thread count, the same ``pred_probs``):

- ``local``: the folds one after another in this process (the service's default);
- ``ray``: one Ray task per fold on a local Ray cluster, each asking for
  ``--gpus-per-fold`` of a GPU (0.2: five folds share one GPU at once) or, on CPU,
  ``--cpus-per-fold`` CPUs.

GPU utilisation is sampled every 0.2 s from ``nvidia-smi`` (mean and 95th percentile
over the run) with the GPU memory in use at its peak. The table gives each fold's
seconds (as the fold measured itself), the wall time, images trained per second and
the ratio of wall times against ``local``. Ray's start is timed apart (once per worker
process in the service).

    python bench/folds.py --device cuda                          # 50,000 images, local then ray (0.2 GPU a fold)
    python bench/folds.py --device cpu --n 2000 --epochs 2       # the same on a CPU, small
    python bench/folds.py --device cuda --executors local --backbone resnet
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labelaudit.core.dataset import Dataset  # noqa: E402
from labelaudit.core.noise import inject_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402


def synthetic_images(n: int, classes: int = 10, side: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 3, side, side)`` float32 images in [0, 1] and their class ids: one smooth pattern per class."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((classes, 3, 4, 4)).astype(np.float32)
    templates = coarse.repeat(side // 4, axis=2).repeat(side // 4, axis=3)  # 8x8 blocks of colour
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    images = np.empty((n, 3, side, side), dtype=np.float32)
    for start in range(0, n, 5_000):  # in blocks: the temporaries stay small
        y = labels[start:start + 5_000]
        block = templates[y] * rng.uniform(0.6, 1.0, (y.size, 1, 1, 1)).astype(np.float32)
        dx, dy = rng.integers(-3, 4, 2)
        block = np.roll(block, (int(dx), int(dy)), axis=(2, 3))
        block += rng.normal(0, 0.25, block.shape).astype(np.float32)
        images[start:start + y.size] = np.clip(block, 0, 1)
    return images, labels.astype(np.int64)


class GpuSampler:
    """Samples ``nvidia-smi``'s utilisation and memory of GPU 0 in a thread until stopped."""

    def __init__(self, every: float = 0.2):
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = shutil.which("nvidia-smi") is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                      "--format=csv,noheader,nounits", "-i", "0"], capture_output=True, text=True,
                                     timeout=5).stdout.strip().split(",")
                self.samples.append((float(out[0]), float(out[1])))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                pass
            self._stop.wait(self.every)

    def __enter__(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(10)

    def summary(self) -> str:
        if not self.samples:
            return "no GPU samples"
        util = np.array([s[0] for s in self.samples])
        mem = max(s[1] for s in self.samples)
        return f"GPU util mean {util.mean():.0f}%, p95 {np.percentile(util, 95):.0f}%; GPU memory peak {mem:,.0f} MiB"


def run_one(name: str, ds: Dataset, options: AuditOptions, args, executor=None) -> dict:
    if name == "ray":
        from labelaudit.core.executors import RayExecutor

        executor = RayExecutor(cpus_per_fold=args.cpus_per_fold,
                               gpus_per_fold=args.gpus_per_fold if options.device != "cpu" else 0.0)
    with GpuSampler() as gpu:
        t = time.perf_counter()
        result = run_audit(ds, options, executor=executor)
        wall = time.perf_counter() - t
    cv = result.crossval
    trained = cv.epochs * ds.num_examples * (options.folds - 1)
    return {"executor": name, "device": cv.device, "backbone": cv.backbone, "epochs": cv.epochs,
            "folds": list(cv.fold_seconds), "wall": wall, "images_per_second": trained / wall,
            "ap": (result.evaluation or {}).get("average_precision") or float("nan"),
            "gpu": gpu.summary(), "pred_probs": np.asarray(result.pred_probs)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="images (default 50,000)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=None, help="default: the backbone's own schedule")
    p.add_argument("--backbone", default="cnn")
    p.add_argument("--device", default="auto")
    p.add_argument("--rate", type=float, default=0.2, help="pairwise label noise (default 0.2)")
    p.add_argument("--executors", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    p.add_argument("--gpus-per-fold", type=float, default=0.2)
    p.add_argument("--cpus-per-fold", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    t = time.perf_counter()
    images, true = synthetic_images(args.n, seed=args.seed)
    noisy = inject_noise(true, kind="pairwise", rate=args.rate, seed=args.seed)
    ds = Dataset(labels=noisy.labels, true_labels=true, features=images, modality="image",
                 class_names=[f"c{c}" for c in range(10)])
    print(f"# {args.n:,} images 3x32x32 ({images.nbytes / 1e6:,.0f} MB), {noisy.flipped.sum():,} labels flipped; "
          f"built in {time.perf_counter() - t:.1f}s", flush=True)
    options = AuditOptions(backbone=args.backbone, folds=args.folds, epochs=args.epochs, seed=args.seed,
                           device=args.device)
    if "ray" in args.executors:  # the cluster's start is not a fold's cost: it happens once per worker process
        from labelaudit.core.executors import ensure_ray

        t = time.perf_counter()
        ensure_ray()
        print(f"# local Ray cluster started in {time.perf_counter() - t:.1f}s (not counted below)", flush=True)
    runs = []
    for name in args.executors:
        r = run_one(name, ds, options, args)
        runs.append(r)
        print(f"# {name}: {r['wall']:.1f}s wall; {r['gpu']}", flush=True)

    base = runs[0]["wall"]
    header = (f"{'executor':<8} {'device':<6} {'backbone':<8} {'epochs':>6} {'fold seconds':<34} {'wall s':>7} "
              f"{'x ' + runs[0]['executor']:>8} {'img/s':>8} {'AP':>6}  GPU")
    print()
    print(header)
    print("-" * len(header))
    for r in runs:
        folds = " ".join(f"{s:.1f}" for s in r["folds"])
        print(f"{r['executor']:<8} {r['device']:<6} {r['backbone']:<8} {r['epochs']:>6} {folds:<34} {r['wall']:>7.1f} "
              f"{base / r['wall']:>8.2f} {r['images_per_second']:>8,.0f} {r['ap']:>6.3f}  {r['gpu']}")
    if len(runs) > 1:
        same = all(np.array_equal(runs[0]["pred_probs"], r["pred_probs"]) for r in runs[1:])
        print(f"\npred_probs identical across executors: {same}")


if __name__ == "__main__":
    main()
