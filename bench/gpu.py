"""The GPU path in one prepared run: the CUDA tests, then the GPU figures, written to docs/benchmarks/gpu.md.

GPU time comes in short slots, so everything runs from this one entry, in a fixed order, each
step with its own time budget, and a step that fails is reported and does not stop the others:

1. ``pytest -m cuda`` (the tests skipped on machines without CUDA);
2. MNIST-10k (``../shared/datasets/mnist-test``, else ``--mnist``), pairwise noise 0.2, the default
   audit on the GPU: cross-validation wall time and AP (target: <= 10 s at AP >= 0.99);
3. ``bench/folds.py``'s 50,000 synthetic 32x32 RGB images, 5 folds, the local executor: wall time and
   GPU utilisation sampled from ``nvidia-smi`` (target: <= 30 s, > 80% busy while training);
4. folds together against one after another (``bench/concurrent_folds.py``) for the small backbones
   (``cnn`` on 10,000 32x32 RGB images, ``mlp`` on a 50,000-row table): wall time, GPU utilisation and
   the largest difference between the two runs' pred_probs (target: >= 3x less wall time);
5. images trained per second per backbone (``cnn``, ``resnet``, ``se_resnet``, ``mbconv``) on 32x32
   images, beside the same on the CPU (a short run).

Steps 2 and 3 run with the local executor's default ``concurrent_folds=auto`` (on a GPU: the folds of
``cnn`` trained together); should that fail, the step reruns with the folds one after another and
reports both.

It is safe to run again (it overwrites its outputs) and reads nothing outside the repo and ``../shared``.
Results: ``--out`` (default ``docs/benchmarks/gpu.md``) and a JSON next to it.

    python bench/gpu.py --commit $(git rev-parse --short HEAD)           # on the GPU machine
    python bench/gpu.py --device cpu --quick --out /tmp/gpu.md            # the same steps, small, on a CPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.folds import GpuSampler, synthetic_images  # noqa: E402
from labelaudit.core.executors import LocalExecutor  # noqa: E402

MNIST = ROOT.parent / "shared" / "datasets" / "mnist-test" / "t10k-images-idx3-ubyte.gz"
THROUGHPUT_BACKBONES = ("cnn", "resnet", "se_resnet", "mbconv")


def machine(device: str) -> dict:
    """What the figures were measured on."""
    import torch

    info = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "torch": torch.__version__, "cuda": torch.version.cuda, "cpus": os.cpu_count(), "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=torch.cuda.get_device_name(0), gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    capability=f"{props.major}.{props.minor}")
    return info


def step_cuda_tests(args) -> dict:
    """``pytest -m cuda``: pass/fail counts and the tail of its output."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "tests/audit"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.budget)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    return {"returncode": proc.returncode, "seconds": time.perf_counter() - t, "summary": tail[-1] if tail else "",
            "tail": tail}


def step_mnist(args) -> dict:
    """The default audit of MNIST-10k with 20% pairwise noise: cross-validation seconds, AP, accuracy."""
    from labelaudit.core.ingest import load_dataset
    from labelaudit.core.noise import inject_noise
    from labelaudit.core.pipeline import AuditOptions, run_audit

    path = Path(args.mnist) if args.mnist else MNIST
    ds = load_dataset(path)
    if args.quick:
        from dataclasses import replace

        ds = replace(ds, features=ds.features[:2000], labels=ds.labels[:2000])
    noisy = inject_noise(ds.labels, kind="pairwise", rate=0.2, seed=0, num_classes=ds.num_classes)
    ds = ds.with_labels(noisy.labels, noisy.true_labels)
    options = AuditOptions(device=args.device, seed=0, epochs=1 if args.quick else None)

    def audit(mode: str):
        with GpuSampler() as gpu:
            return run_audit(ds, options, executor=LocalExecutor(concurrent_folds=mode)), gpu

    (result, gpu), mode = with_fallback(audit)
    return {"rows": ds.num_examples, "backbone": result.crossval.backbone, "epochs": result.crossval.epochs,
            "concurrent_folds": mode,
            "crossval_seconds": result.timings["crossval_seconds"], "total_seconds": result.timings["total_seconds"],
            "fold_seconds": result.timings["fold_seconds"],
            "average_precision": result.evaluation["average_precision"],
            "cv_accuracy": result.summary()["cv_accuracy"], "gpu": gpu.summary()}


def step_folds(args) -> dict:
    """``bench/folds.py``'s images, 5 folds on the local executor: wall time, images/s, GPU busy share."""
    from labelaudit.core.dataset import Dataset
    from labelaudit.core.noise import inject_noise
    from labelaudit.core.pipeline import AuditOptions
    from bench.folds import run_one

    n = 2_000 if args.quick else 50_000
    images, truth = synthetic_images(n, seed=0)
    noisy = inject_noise(truth, kind="pairwise", rate=0.2, seed=0, num_classes=10)
    ds = Dataset(labels=noisy.labels, class_names=[str(c) for c in range(10)], modality="image", features=images,
                 true_labels=truth)
    options = AuditOptions(backbone="cnn", folds=5, seed=0, device=args.device, epochs=1 if args.quick else None)
    r, mode = with_fallback(lambda m: run_one("local", ds, options, args, executor=LocalExecutor(concurrent_folds=m)))
    r.pop("pred_probs")
    return {"images": n, "concurrent_folds": mode, **r}


def with_fallback(run):
    """``run("auto")``, or ``run("off")`` when that raised: the result and the mode (with the error) it came from."""
    try:
        return run("auto"), "auto"
    except Exception:  # noqa: BLE001 - the folds together failed: still measure them one after another
        error = traceback.format_exc().strip().splitlines()[-1]
        return run("off"), f"off (auto failed: {error})"


def step_concurrent_folds(args) -> dict:
    """The folds of the small backbones together against one after another: wall, GPU use, pred_probs difference."""
    from bench.concurrent_folds import compare

    if args.quick:  # small: the default image batch follows each small fold's size, so give one to stack them
        plan = (("cnn", 800, 1, {"batch_size": 32}), ("mlp", 2_000, 1, None))
    else:
        plan = (("cnn", 10_000, None, None), ("mlp", 50_000, None, None))
    rows = []
    for backbone, n, epochs, options in plan:
        rows.append(compare(backbone, n, folds=5, epochs=epochs, device=args.device, options=options))
    return {"runs": rows}


def step_throughput(args) -> dict:
    """Images trained per second per backbone, GPU and CPU, on 32x32 RGB images (one fold's training)."""
    from labelaudit.core.backbones import get_backbone
    from labelaudit.core.backbones.base import FitContext

    n_gpu, n_cpu = (512, 256) if args.quick else (20_000, 1_024)
    images, labels = synthetic_images(max(n_gpu, n_cpu), seed=1)
    rows = {}
    for name in THROUGHPUT_BACKBONES:
        row = {}
        for device, n in ((args.device, n_gpu), ("cpu", n_cpu)):
            model = get_backbone(name)
            ctx = FitContext(num_classes=10, seed=0, device=device, epochs=2, options={})
            t = time.perf_counter()
            model.fit_predict(images[:n], labels[:n], images[:64], ctx)
            row[device] = 2 * n / (time.perf_counter() - t)
            if device == "cpu" or args.device == "cpu":
                break
        rows[name] = row
    return {"images_gpu": n_gpu, "images_cpu": n_cpu, "epochs": 2, "images_per_second": rows}


STEPS = (("cuda_tests", step_cuda_tests), ("mnist", step_mnist), ("folds", step_folds),
         ("concurrent_folds", step_concurrent_folds), ("throughput", step_throughput))


def markdown(info: dict, results: dict, args) -> str:
    """The docs page."""
    lines = ["# Benchmark: the GPU path (`bench/gpu.py`)", "",
             f"Date {info['date']}; machine: {info.get('gpu', 'no GPU')} "
             f"({info.get('gpu_memory_gib', '-')} GiB, capability {info.get('capability', '-')}), "
             f"{info['cpus']} CPU cores; torch {info['torch']}, CUDA {info['cuda']}, Python {info['python']}; "
             f"commit `{args.commit}`.", "",
             f"Command: `python bench/gpu.py --device {args.device} --commit {args.commit}"
             + (" --quick" if args.quick else "") + "`", ""]
    for name, r in results.items():
        lines.append(f"## {name}")
        lines.append("")
        if "error" in r:
            lines += ["```", r["error"].strip()[-1500:], "```", ""]
            continue
        if name == "cuda_tests":
            lines += [f"`pytest -m cuda`: {r['summary']} ({r['seconds']:.0f} s)", ""]
        elif name == "mnist":
            lines += ["| rows | backbone | epochs | concurrent folds | CV wall (s) | AP | CV accuracy | GPU |",
                      "|---|---|---|---|---|---|---|---|",
                      f"| {r['rows']:,} | {r['backbone']} | {r['epochs']} | {r['concurrent_folds']} | "
                      f"{r['crossval_seconds']:.1f} | {r['average_precision']:.4f} | {r['cv_accuracy']:.4f} | "
                      f"{r['gpu']} |", "",
                      "Targets: CV <= 10 s at AP >= 0.99.", ""]
        elif name == "folds":
            lines += ["| images | backbone | epochs | concurrent folds | wall (s) | images/s | AP | GPU |",
                      "|---|---|---|---|---|---|---|---|",
                      f"| {r['images']:,} | {r['backbone']} | {r['epochs']} | {r['concurrent_folds']} | "
                      f"{r['wall']:.1f} | {r['images_per_second']:,.0f} | {r['ap']:.4f} | {r['gpu']} |", "",
                      "Targets: <= 30 s wall, GPU > 80% busy while training.", ""]
        elif name == "concurrent_folds":
            from bench.concurrent_folds import table

            lines += [table(r["runs"]), "",
                      "Wall ratio: sequential / together, same process, after a warm-up of both. Max abs diff: the "
                      "largest difference between the two runs' pred_probs (training amplifies rounding; the mlp's "
                      "dropout masks come from another kernel on CUDA). Target: >= 3x.", ""]
        elif name == "throughput":
            lines += ["| backbone | images/s (GPU) | images/s (CPU) | ratio |", "|---|---|---|---|"]
            for backbone, row in r["images_per_second"].items():
                gpu, cpu = row.get(args.device), row.get("cpu")
                ratio = f"{gpu / cpu:.0f}x" if gpu and cpu and args.device != "cpu" else "-"
                lines.append(f"| {backbone} | {gpu:,.0f} | {cpu:,.0f} | {ratio} |")
            lines += ["", f"32x32 RGB, {r['epochs']} epochs of {r['images_gpu']:,} (GPU) and {r['images_cpu']:,} "
                          "(CPU) images; batch size and precision as the backbones choose them.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true", help="small sizes: check the steps, not the figures")
    p.add_argument("--steps", nargs="+", default=[s for s, _ in STEPS], choices=[s for s, _ in STEPS])
    p.add_argument("--mnist", help="the MNIST test images (IDX); default ../shared/datasets/mnist-test")
    p.add_argument("--commit", default=os.environ.get("GIT_COMMIT", "not recorded"))
    p.add_argument("--budget", type=float, default=240.0, help="seconds the CUDA tests may take")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "gpu.md")
    args = p.parse_args(argv)
    info = machine(args.device)
    print(json.dumps(info), flush=True)
    results = {}
    for name, step in STEPS:
        if name not in args.steps or (name == "cuda_tests" and args.device == "cpu"):
            continue
        t = time.perf_counter()
        try:
            results[name] = step(args)
        except Exception:  # noqa: BLE001 - one failed step must not cost the others their GPU time
            results[name] = {"error": traceback.format_exc()}
        print(f"# {name} ({time.perf_counter() - t:.0f}s): {json.dumps(results[name], default=str)[:600]}",
              flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(info, results, args))
    args.out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=1,
                                                        default=str))
    print(f"wrote {args.out}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
