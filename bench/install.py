"""What each install of labelaudit resolves to, its size, and the time to a first result with the light core.

For the core and each extra: the distributions `pip install` resolves (a dry run against this checkout's
wheel, the CPU torch pinned as in CI) and their installed size (each distribution's RECORD, read from this
environment, where everything is installed). Then the core for real, in a fresh virtual environment: its
size on disk, and the wall time of `labelaudit check table.csv --fast` on a 5,000-row table, start-up
included, against the same command in this full environment (the baseline, in the same run).

    python bench/install.py [--rows 5000] [--repeats 3] [--out docs/benchmarks/install.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints-cpu.txt"
VARIANTS = ("", "torch", "server", "ray")
HEAVY = ("torch", "fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "ray", "nvidia")


def run(cmd, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=True, env=env, **kw)


def installed_mb(name: str) -> float | None:
    """A distribution's installed size in this environment (its RECORD), or None where it is not installed."""
    try:
        files = metadata.distribution(name).files or []
    except metadata.PackageNotFoundError:
        return None
    return sum((f.size or 0) for f in files) / 1e6


def resolve(wheel: Path, extra: str) -> list[str]:
    """Distribution names `pip install wheel[extra]` would install into an empty environment."""
    target = f"{wheel}[{extra}]" if extra else str(wheel)
    out = run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
               "--disable-pip-version-check", "-c", CONSTRAINTS, target])
    report = json.loads(out.stdout)
    return sorted(item["metadata"]["name"].lower() for item in report["install"])


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def make_table(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=10, n_classes=4, random_state=0)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    df["label"] = np.array(["a", "b", "c", "d"])[y]
    df.to_csv(path, index=False)


def time_check(labelaudit: Path, table: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([str(labelaudit), "check", str(table), "--fast", "--max-issue-rate", "1.0", "-q"],
                       capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labelaudit-install-"))
    try:
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", work, ROOT])
        wheel = next(work.glob("labelaudit-*.whl"))
        lines = ["| install | distributions | installed MB | heavy parts | ratio to [all] |", "|---|---:|---:|---|---:|"]
        sizes = {}
        for extra in (*VARIANTS, "all"):
            names = resolve(wheel, extra)
            mb = [installed_mb(n) for n in names]
            sizes[extra] = (names, sum(m for m in mb if m), sum(m is None for m in mb))
        for extra in (*VARIANTS, "all"):
            names, mb, unknown = sizes[extra]
            heavy = sorted({h for n in names for h in HEAVY if n.startswith(h)})
            label = f"labelaudit[{extra}]" if extra else "labelaudit (core)"
            lines.append(f"| `{label}` | {len(names)} | {mb:,.0f}{f' (+{unknown} not here)' if unknown else ''} | "
                         f"{', '.join(heavy) or 'none'} | {mb / sizes['all'][1]:.2f} |")
        core_names = sizes[""][0]

        venv = work / "core-venv"
        run([sys.executable, "-m", "venv", venv])
        start = time.perf_counter()
        run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", CONSTRAINTS,
             wheel])
        install_s = time.perf_counter() - start
        site = next((venv / "lib").glob("python*/site-packages"))
        table = work / "table.csv"
        make_table(table, args.rows)
        core_t = time_check(venv / "bin" / "labelaudit", table, args.repeats)
        full_t = time_check(Path(sys.executable).parent / "labelaudit", table, args.repeats)
        timing = [
            "| environment | site-packages MB | `check --fast` s (median of %d) | ratio to full |" % args.repeats,
            "|---|---:|---:|---:|",
            f"| full (`[all,test]`, this venv; baseline) | {du_mb(Path(metadata.distribution('numpy').locate_file(''))):,.0f}"
            f" | {statistics.median(full_t):.2f} | 1.00 |",
            f"| core (fresh venv) | {du_mb(site):,.0f} | {statistics.median(core_t):.2f} | "
            f"{statistics.median(core_t) / statistics.median(full_t):.2f} |",
        ]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
        text = "\n".join([
            "# Installs: what each extra pulls, and the light core's time to a first result", "",
            f"Date {date.today()}, commit `{commit}`, {os.cpu_count()} cores, {platform.machine()}, Python "
            f"{platform.python_version()}, no GPU. Command: `python bench/install.py --rows {args.rows} "
            f"--repeats {args.repeats}`.", "",
            "Resolved with `pip install --dry-run` (the CPU torch pinned by `constraints-cpu.txt`; without it "
            "torch is a CUDA build with ~2.5 GB of NVIDIA libraries); sizes are each distribution's installed "
            "files as found in the full environment.", "",
            *lines, "",
            f"The core resolves to: {', '.join(core_names)}.", "",
            f"A {args.rows:,}-row table (20 numeric features, 4 string classes), `labelaudit check table.csv --fast` "
            f"with start-up; the core was installed in {install_s:.0f} s from pip's cache.", "",
            *timing, "",
        ])
        print(text)
        if args.out:
            args.out.write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
