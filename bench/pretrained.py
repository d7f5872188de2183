"""Pretrained features from local weights against training from scratch.

A CNN (the ``cnn`` backbone's network) is trained on one part of the data with its clean labels and saved
with ``torch.save`` into a temporary weights folder (nothing is downloaded); a disjoint part of
``--audited`` rows gets ``instance`` noise and is audited three ways, same process and seed:

* ``default``: today's default audit (the ``cnn`` trained from scratch in every fold), the baseline;
* ``embeddings``: ``weights_mode="embeddings"``: the frozen pretrained body embeds every image once and a
  logistic-regression head trains per fold;
* ``linear_probe`` (``--probe``): the frozen body with its head trained by SGD in every fold.

Reported: AP, precision and recall of the issue set, precision among the ``k`` lowest-quality rows (``k``
= rows flipped), CV accuracy, CPU and wall seconds (the pretraining's are shown apart: it is paid once, not
per audit).

    python bench/pretrained.py [--dataset mnist|digits] [--seeds 3] [--audited 1000] [--pretrain 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reference import dataset, rows  # noqa: E402
from labelaudit.core.backbones import get_backbone  # noqa: E402
from labelaudit.core.dataset_noise import dataset_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402


def pretrain(images: np.ndarray, labels: np.ndarray, num_classes: int, path: Path, *, seed: int,
             epochs: int = 3) -> float:
    """Train the ``cnn`` backbone's network on ``images`` (clean labels); save its state dict; CPU seconds."""
    import torch

    cpu = time.process_time()
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    t = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    net = get_backbone("cnn").build(x.shape[1], num_classes, min(x.shape[-2:]), {})
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    net.train()
    for _ in range(epochs):
        for i in torch.randperm(len(x)).split(128):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[i]), t[i]).backward()
            opt.step()
    torch.save(net.state_dict(), path)
    return time.process_time() - cpu


def audit(ds, seed: int, backbone_options: dict | None, backbone: str = "auto") -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    result = run_audit(ds, AuditOptions(seed=seed, device="cpu", backbone=backbone,
                                        backbone_options=backbone_options or {}))
    flipped = ds.labels != ds.true_labels
    k = max(1, int(flipped.sum()))
    worst = np.argsort(result.ranking.quality_scores, kind="stable")[:k]
    return {**result.evaluation, "p_at_k": float(flipped[worst].mean()), "backbone": result.backbone,
            "cv_accuracy": result.summary()["cv_accuracy"], "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.03)
    ap.add_argument("--audited", type=int, default=1000)
    ap.add_argument("--pretrain", type=int, default=5000)
    ap.add_argument("--probe", action="store_true", help="also the linear probe (the head trained per fold)")
    args = ap.parse_args()
    full = dataset(args.dataset)
    ways = {"default (cnn from scratch)": None, "embeddings (frozen body once, logreg head per fold)": "embeddings"}
    if args.probe:
        ways["linear_probe (frozen body, head trained per fold)"] = "linear_probe"
    runs: dict[str, list[dict]] = {w: [] for w in ways}
    pretrain_cpu = []
    with tempfile.TemporaryDirectory() as weights_dir:
        for seed in range(args.seeds):
            perm = np.random.default_rng(seed).permutation(full.num_examples)
            source = rows(full, np.sort(perm[:args.pretrain]))
            audited = rows(full, np.sort(perm[args.pretrain:args.pretrain + args.audited]))
            path = Path(weights_dir) / f"cnn-{args.dataset}-{seed}.pt"
            pretrain_cpu.append(pretrain(source.features, source.labels, full.num_classes, path, seed=seed))
            noisy = dataset_noise(audited, kind="instance", rate=args.rate, seed=seed)
            audited = audited.with_labels(noisy.labels, noisy.true_labels)
            for way, mode in ways.items():
                opts = None if mode is None else {"weights": str(path), "weights_mode": mode}
                runs[way].append(audit(audited, seed, opts, "auto" if mode is None else "cnn"))
                print(f"  seed {seed} {way}: AP {runs[way][-1]['average_precision']:.3f}, "
                      f"{runs[way][-1]['cpu']:.0f} CPU s", file=sys.stderr, flush=True)
    print(f"pretraining: {args.pretrain:,} rows, 3 epochs, {np.mean(pretrain_cpu):.0f} CPU s (once per weights "
          f"file, not per audit)\n")
    print("| data | audit | AP (± sd) | precision | recall | precision@k | CV accuracy | CPU s (ratio) | wall s "
          "| AP ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    base = runs[next(iter(ways))]
    base_ap, base_cpu = np.mean([r["average_precision"] for r in base]), np.mean([r["cpu"] for r in base])
    for way, rs in runs.items():
        aps = [r["average_precision"] for r in rs]
        mean = lambda f: float(np.mean([r[f] for r in rs]))  # noqa: E731
        print(f"| {args.dataset} ({args.audited:,} audited, instance {args.rate}) | {way} | {np.mean(aps):.3f} ± "
              f"{np.std(aps, ddof=1) if len(aps) > 1 else 0:.3f} | {mean('precision'):.3f} | {mean('recall'):.3f} | "
              f"{mean('p_at_k'):.2f} | {mean('cv_accuracy'):.3f} | {mean('cpu'):.0f} ({mean('cpu') / base_cpu:.2f}x) | "
              f"{mean('wall'):.0f} | {np.mean(aps) / base_ap:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
