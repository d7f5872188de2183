"""Image backbones on label-error detection: AP/F1, CV time and training throughput, against the baseline.

For each dataset (MNIST test set, scikit-learn digits) and each backbone (auto, cnn,
resnet, se_resnet, mbconv) plus the baseline (cleanlab's CV with a 2-conv CNN, Adam,
10 epochs, cleanlab defaults), with pairwise noise 0.2 over several seeds. Then the
audit of MNIST with its original labels: CV accuracy, issues found, and a PNG grid
of the 20 lowest-quality images (given vs suggested label).

    python bench/images.py                              # everything, 3 seeds, CPU
    python bench/images.py --device cuda --seeds 3      # on a GPU
    python bench/images.py --datasets digits --backbones auto resnet --seeds 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labelaudit.core.noise import inject_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402
from bench.baselines import cleanlab_baseline  # noqa: E402
from bench.data import load  # noqa: E402

OUT = ROOT / "bench" / "out"


def ours(ds, labels, true, backbone: str, seed: int, device: str) -> dict:
    result = run_audit(ds.with_labels(labels, true), AuditOptions(backbone=backbone, seed=seed, device=device))
    cv = result.crossval
    trained = cv.epochs * ds.num_examples * (result.options.folds - 1)
    return {**result.evaluation, "seconds": cv.seconds, "backbone": cv.backbone, "epochs": cv.epochs,
            "images_per_second": trained / cv.seconds}


def lowest_quality_grid(ds, result, path: Path, count: int = 20) -> None:
    """Save the ``count`` lowest-quality images in a grid captioned 'given -> suggested'."""
    from PIL import Image, ImageDraw

    scale, cols = 3, 5
    h, w = ds.features.shape[-2:]
    cell_w, cell_h = w * scale + 8, h * scale + 22
    rows = (count + cols - 1) // cols
    canvas = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    for k, row in enumerate(result.rows(count)):
        img = ds.features[row["index"]]
        img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        tile = Image.fromarray(np.asarray(img, dtype=np.uint8)).resize((w * scale, h * scale), Image.NEAREST)
        x, y = (k % cols) * cell_w + 4, (k // cols) * cell_h + 2
        canvas.paste(tile.convert("RGB"), (x, y))
        draw.text((x, y + h * scale + 2), f"#{row['index']} {row['given_class']}->{row['suggested_class']}",
                  fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "digits"], choices=["mnist", "digits"])
    parser.add_argument("--backbones", nargs="+", default=["auto", "cnn", "resnet", "se_resnet", "mbconv"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-original", action="store_true", help="Skip the original-labels audit of MNIST.")
    parser.add_argument("--markdown", type=Path, default=OUT / "images.md")
    args = parser.parse_args()

    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device} ({gpu})", flush=True)
    lines = [f"Device: {args.device} ({gpu}); pairwise noise {args.rate}; means over {args.seeds} seeds.", "",
             "| data | method | AP | F1 | CV s | train img/s | AP ratio | time ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        ds = load(name)
        runs: dict[str, list[dict]] = {}
        for seed in range(args.seeds):
            noise = inject_noise(ds.labels, kind="pairwise", rate=args.rate, seed=seed)
            if not args.no_baseline:
                r = cleanlab_baseline(ds.features, noise.labels, noise.true_labels, seed=seed, device=args.device)
                runs.setdefault("baseline", []).append(r)
                print(f"  {name} seed={seed} baseline AP {r['average_precision']:.3f} CV {r['seconds']:.1f}s",
                      flush=True)
            for backbone in args.backbones:
                r = ours(ds, noise.labels, noise.true_labels, backbone, seed, args.device)
                key = backbone if backbone != "auto" else f"auto ({r['backbone']})"
                runs.setdefault(key, []).append(r)
                print(f"  {name} seed={seed} {key} AP {r['average_precision']:.3f} F1 {r['f1']:.3f} "
                      f"CV {r['seconds']:.1f}s ({r['epochs']} ep, {r['images_per_second']:.0f} img/s)", flush=True)
        base = runs.get("baseline")
        base_ap = np.mean([r["average_precision"] for r in base]) if base else None
        base_s = np.mean([r["seconds"] for r in base]) if base else None
        for key, rs in runs.items():
            ap = np.mean([r["average_precision"] for r in rs])
            f1 = np.mean([r["f1"] for r in rs])
            s = np.mean([r["seconds"] for r in rs])
            ips = np.mean([r["images_per_second"] for r in rs])
            label = "baseline 2-conv CNN, Adam 10 ep, cleanlab defaults" if key == "baseline" else key
            lines.append(f"| {name} | {label} | {ap:.3f} | {f1:.3f} | {s:.1f} | {ips:.0f} | "
                         f"{ap / base_ap:.2f}x | {s / base_s:.2f}x |" if base else
                         f"| {name} | {label} | {ap:.3f} | {f1:.3f} | {s:.1f} | {ips:.0f} | - | - |")

    if "mnist" in args.datasets and not args.no_original:
        ds = load("mnist")
        t = time.perf_counter()
        result = run_audit(ds, AuditOptions(seed=0, device=args.device))
        s = result.summary()
        grid = OUT / "mnist_lowest_quality.png"
        lowest_quality_grid(ds, result, grid)
        lines += ["", f"MNIST test set, original labels ({s['backbone']}, {time.perf_counter() - t:.1f}s): "
                  f"CV accuracy {s['cv_accuracy']:.4f}, {s['num_issues']} issues flagged "
                  f"({s['issue_rate']:.2%}), health score {s['health_score']:.4f}; "
                  f"20 lowest-quality images in {grid.relative_to(ROOT)}",
                  "lowest-quality indices: " + ", ".join(str(r["index"]) for r in result.rows(20))]
    table = "\n".join(lines)
    print("\n" + table)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
