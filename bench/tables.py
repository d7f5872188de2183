"""Label-error detection on real-world tables: our defaults against the baseline a careful data scientist
writes by hand, in one process.

Baseline: the id column dropped by hand, one-hot categories + median-imputed numbers +
``HistGradientBoostingClassifier`` (scikit-learn defaults), 5-fold stratified ``cross_val_predict``, then
cleanlab's default ``find_label_issues`` and ``get_label_quality_scores``. It runs with OpenMP limited to
one thread, as ours does on tables under 50,000 rows: with scikit-learn's default threads it took 20-50 s
per run on the shared 2-core machine (penguins, titanic), 10-25 times slower, which would flatter us.
Ours: ``from_dataframe`` (column roles inferred: nothing dropped by hand) and ``run_audit`` with the defaults
(``auto``: the ``gbt`` backbone; 5 folds).

Data: public tables from installed packages (bench/realdata.py), pairwise label noise 0.2, seeds 0..2.
Also times ``labelaudit audit`` on the 10,000-row table end to end (a subprocess: start-up included).

    python bench/tables.py                         # every table, 3 seeds, the CLI timing
    python bench/tables.py --tables penguins --seeds 1 --no-cli
    python bench/tables.py --markdown docs/benchmarks/tables.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.realdata import TABLES, cleanlab_defaults, load_table, means, row  # noqa: E402
from labelaudit.core.evaluate import evaluate_audit  # noqa: E402
from labelaudit.core.ingest import from_dataframe  # noqa: E402
from labelaudit.core.noise import inject_noise  # noqa: E402
from labelaudit.core.pipeline import AuditOptions, run_audit  # noqa: E402

RATE = 0.2


def baseline(df, label: str, noisy: np.ndarray, true: np.ndarray, seed: int, id_columns: list[str]) -> dict:
    """One-hot + median imputation + HistGradientBoostingClassifier, 5-fold cross_val_predict, cleanlab."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X = df.drop(columns=[label, *id_columns])
    prep = ColumnTransformer(sparse_threshold=0.0, transformers=[
        ("num", SimpleImputer(strategy="median"), make_column_selector(dtype_include="number")),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         make_column_selector(dtype_exclude="number")),
    ])
    from threadpoolctl import threadpool_limits

    model = make_pipeline(prep, HistGradientBoostingClassifier(random_state=seed))
    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="openmp"):  # the same thread setting as ours (see the docstring)
        probs = cross_val_predict(model, X, noisy, cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                                  method="predict_proba")
    is_issue, scores = cleanlab_defaults(noisy, probs)
    seconds = time.perf_counter() - start
    return {**evaluate_audit(noisy, true, is_issue, scores, probs.argmax(1)), "seconds": seconds}


def ours(ds, noisy: np.ndarray, true: np.ndarray, seed: int) -> dict:
    result = run_audit(ds.with_labels(noisy, true), AuditOptions(seed=seed))
    return {**result.evaluation, "seconds": result.timings["total_seconds"], "backbone": result.backbone}


def cli_seconds(df, label: str) -> float:
    """``labelaudit audit`` on the table written as CSV, wall time of the subprocess (start-up included)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        df.to_csv(path, index=False)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "labelaudit.cli", "audit", str(path), "--label-column", label,
                               "-q", "--show", "0"], capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="Skip the end-to-end CLI timing.")
    parser.add_argument("--markdown", type=Path, help="Also write the table here.")
    args = parser.parse_args()

    lines = ["| data | method | AP (± sd over seeds) | F1 (± sd) | seconds | AP ratio | F1 ratio | time ratio |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for name in args.tables:
        df, label = load_table(name)
        ds = from_dataframe(df, label)
        ids = [c["name"] for c in ds.meta["schema"] if c["role"] == "id"]
        kept = ds.meta.get("kept_rows")
        frame = df if kept is None else df.iloc[kept].reset_index(drop=True)
        print(f"{name}: {ds.num_examples} rows ({ds.meta['missing_labels']['count']} without a label left out), "
              f"{ds.num_classes} classes; ids: {ids}; features: {ds.feature_names} text: {ds.text_names}",
              flush=True)
        runs: dict[str, list[dict]] = {"baseline": [], "ours": []}
        for seed in range(args.seeds):
            noise = inject_noise(ds.labels, kind="pairwise", rate=RATE, seed=seed, num_classes=ds.num_classes)
            runs["baseline"].append(baseline(frame, label, noise.labels, noise.true_labels, seed, ids))
            runs["ours"].append(ours(ds, noise.labels, noise.true_labels, seed))
            for who in runs:
                r = runs[who][-1]
                print(f"  seed {seed} {who:8s} AP {r['average_precision']:.3f} F1 {r['f1']:.3f} "
                      f"{r['seconds']:.1f}s", flush=True)
        base = means(runs["baseline"])
        lines.append(row(name, "baseline: one-hot + median + HGB, cleanlab defaults", runs["baseline"], None))
        lines.append(row(name, f"labelaudit auto ({runs['ours'][0]['backbone']})", runs["ours"], base))
        if name == "lending" and not args.no_cli:
            seconds = cli_seconds(df, label)
            notes.append(f"`labelaudit audit` on lending ({len(df):,} rows, CSV) end to end, start-up included: "
                         f"{seconds:.1f} s")
            print(notes[-1], flush=True)
    table = "\n".join(lines + [""] + notes)
    print(f"\nMeans over {args.seeds} seeds, pairwise noise {RATE} (seconds: cross-validation and ranking; "
          "ratios are ours / baseline):\n")
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
