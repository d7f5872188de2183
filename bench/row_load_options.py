"""Ways to bulk-load an audit's per-example rows, against today's path, in one run (issue 21, part 3).

Each option loads the same ``--n`` synthetic rows (in rank order, as the worker produces
them, in 50,000-row column blocks) in one transaction, commit included, into a database
migrated to head (SQLite file, or a fresh PostgreSQL schema with ``--database-url``) that
already holds one earlier audit of ``--n // 10`` rows. Options:

PostgreSQL
- ``today``: ``COPY`` into the shared ``audit_rows`` with its six indexes in place;
- ``partition``: a bare table, ``COPY``, the six indexes built after, a ``CHECK (audit_id = ...)``,
  ``ATTACH PARTITION`` to a LIST-partitioned parent (same indexes; foreign key to the audits);
- ``partition 256MB``: the same with ``maintenance_work_mem`` 256 MB for the index builds;
- ``partition, no audit_id``: the same with the partition's secondary indexes without the
  (constant) ``audit_id`` column;

SQLite
- ``today``: ``executemany`` into the shared ``audit_rows`` with its indexes in place;
- ``without rowid``: the same into a ``WITHOUT ROWID`` copy of the table;
- ``table``: a table of its own, ``rank INTEGER PRIMARY KEY``, filled, then indexed (no ``audit_id``);
- ``table, batch 5k``: the same with 5,000-row ``executemany`` batches.

    python bench/row_load_options.py --n 1e6
    python bench/row_load_options.py --n 1e6 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Wall seconds on a shared machine: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COLUMNS = ("rank", "index", "given_label", "suggested_label", "quality_score", "is_issue", "true_label",
           "example_id")
SECONDARY = {  # name: columns after audit_id (all end in rank, or are the unique index)
    "label_rank": ("given_label", "rank"), "issue_rank": ("is_issue", "rank"), "index": ("index",),
    "suggested_rank": ("suggested_label", "rank"), "given_suggested_rank": ("given_label", "suggested_label", "rank"),
    "score_rank": ("quality_score", "rank")}


def blocks(n: int, k: int = 100, seed: int = 0, block: int = 50_000):
    """``n`` synthetic rows in rank order, as the worker's column blocks."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    given = rng.integers(0, k, n)
    suggested = np.where(rng.random(n) < 0.9, given, rng.integers(0, k, n))
    scores = np.sort(rng.random(n))
    for start in range(0, n, block):
        part = slice(start, min(n, start + block))
        size = part.stop - part.start
        yield {"rank": list(range(part.start, part.stop)), "index": order[part].tolist(),
               "given_label": given[part].tolist(), "suggested_label": suggested[part].tolist(),
               "quality_score": scores[part].tolist(), "is_issue": (scores[part] < 0.1).tolist(),
               "true_label": [None] * size, "example_id": [None] * size}


def q(name: str) -> str:
    return f'"{name}"'


# ---------------------------------------------------------------- PostgreSQL

def pg_setup(raw, n_prior: int) -> None:
    cols = ("audit_id varchar(40) NOT NULL, rank integer NOT NULL, index integer NOT NULL, given_label integer "
            "NOT NULL, suggested_label integer NOT NULL, quality_score double precision NOT NULL, is_issue boolean "
            "NOT NULL, true_label integer, example_id text")
    raw.execute("CREATE TABLE exp_audits (id varchar(40) PRIMARY KEY)")
    for parent, with_id in (("exp_rows", True), ("exp_rows_short", False)):
        raw.execute(f"CREATE TABLE {parent} ({cols}, PRIMARY KEY (audit_id, rank), FOREIGN KEY (audit_id) "
                    f"REFERENCES exp_audits (id) ON DELETE CASCADE) PARTITION BY LIST (audit_id)")
        for name, c in SECONDARY.items():
            head = ("audit_id",) if with_id or name == "index" else ()
            unique = "UNIQUE " if name == "index" else ""
            raw.execute(f"CREATE {unique}INDEX ix_{parent}_{name} ON {parent} ({', '.join(q(x) for x in head + c)})")
    raw.execute("INSERT INTO exp_audits VALUES ('prior')")
    _pg_partition(raw, "exp_rows", "prior", blocks(n_prior, seed=1), with_id=True)
    raw.commit()


def _pg_copy(raw, table: str, audit_id: str, row_blocks, freeze: bool = False) -> None:
    cols = ", ".join(q(c) for c in ("audit_id", *COLUMNS))
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN{' (FREEZE)' if freeze else ''}") as copy:
        for b in row_blocks:
            for values in zip([audit_id] * len(b["rank"]), *(b[c] for c in COLUMNS)):
                copy.write_row(values)


def _pg_partition(raw, parent: str, audit_id: str, row_blocks, *, with_id: bool, mwm: str | None = None,
                  freeze: bool = False) -> None:
    part = f"{parent}_{audit_id}"
    raw.execute(f"CREATE TABLE {part} (LIKE {parent} INCLUDING DEFAULTS)")
    _pg_copy(raw, part, audit_id, row_blocks, freeze=freeze)
    if mwm:
        raw.execute(f"SET LOCAL maintenance_work_mem = '{mwm}'")
    raw.execute(f"ALTER TABLE {part} ADD PRIMARY KEY (audit_id, rank)")
    for name, c in SECONDARY.items():
        head = ("audit_id",) if with_id or name == "index" else ()
        unique = "UNIQUE " if name == "index" else ""
        raw.execute(f"CREATE {unique}INDEX ON {part} ({', '.join(q(x) for x in head + c)})")
    raw.execute(f"ALTER TABLE {part} ADD CONSTRAINT {part}_audit CHECK (audit_id IS NOT NULL AND "
                f"audit_id = '{audit_id}')")
    raw.execute(f"ALTER TABLE {parent} ATTACH PARTITION {part} FOR VALUES IN ('{audit_id}')")


def run_pg(url: str, n: int) -> list[tuple[str, float]]:
    import psycopg

    from bench.load import pg_schema
    from labelaudit.config import Settings
    from labelaudit.store.db import open_database

    out = []
    with pg_schema(url) as schema_url:
        db = open_database(Settings(database_url=schema_url))
        search_path = schema_url.split("search_path%3D")[-1]
        db.dispose()
        admin = url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]
        with psycopg.connect(admin, options=f"-csearch_path={search_path}") as raw:
            pg_setup(raw, n // 10)
            # the shared table's foreign key to the audits is dropped here (no audit records in this schema)
            raw.execute("ALTER TABLE audit_rows DROP CONSTRAINT IF EXISTS audit_rows_audit_id_fkey")
            raw.commit()
            options = [
                ("today: COPY into the indexed table", lambda a: _pg_copy(raw, "audit_rows", a, blocks(n))),
                ("partition: bare COPY, 6 indexes, attach",
                 lambda a: _pg_partition(raw, "exp_rows", a, blocks(n), with_id=True)),
                ("partition, maintenance_work_mem 256MB",
                 lambda a: _pg_partition(raw, "exp_rows", a, blocks(n), with_id=True, mwm="256MB")),
                ("partition, 256MB, COPY FREEZE",
                 lambda a: _pg_partition(raw, "exp_rows", a, blocks(n), with_id=True, mwm="256MB", freeze=True)),
                ("partition, 256MB, indexes without audit_id",
                 lambda a: _pg_partition(raw, "exp_rows_short", a, blocks(n), with_id=False, mwm="256MB")),
            ]
            for i, (label, load) in enumerate(options):
                audit_id = f"a{i}"
                raw.execute("INSERT INTO exp_audits VALUES (%s)", (audit_id,))
                raw.commit()
                t = time.perf_counter()
                load(audit_id)
                raw.commit()
                out.append((label, time.perf_counter() - t))
                print(f"  {label}: {out[-1][1]:.2f} s", file=sys.stderr)
    return out


# ---------------------------------------------------------------- SQLite

def run_sqlite(workdir: Path, n: int) -> list[tuple[str, float]]:
    import sqlite3

    from labelaudit.config import Settings
    from labelaudit.store.db import open_database

    path = workdir / "rows.sqlite"
    db = open_database(Settings(database_url=f"sqlite:///{path}"))
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    cols = ", ".join(q(c) for c in ("audit_id", *COLUMNS))
    marks = ", ".join("?" * (len(COLUMNS) + 1))
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'audit_rows'").fetchone()[0]
    conn.execute(ddl.replace("audit_rows", "rows_wr", 1).rstrip() + " WITHOUT ROWID")
    for name, c in SECONDARY.items():
        unique = "UNIQUE " if name == "index" else ""
        conn.execute(f"CREATE {unique}INDEX ix_wr_{name} ON rows_wr ({', '.join(q(x) for x in ('audit_id',) + c)})")

    def shared(table: str, audit_id: str, row_blocks, cache: bool = True) -> None:
        if cache:
            conn.execute("PRAGMA cache_size=-262144")
        for b in row_blocks:
            conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                             list(zip([audit_id] * len(b["rank"]), *(b[c] for c in COLUMNS))))
        conn.execute("PRAGMA cache_size=-2000")

    def own(audit_id: str, row_blocks, batch: int | None = None) -> None:
        table = f"rows_{audit_id}"
        conn.execute(f"CREATE TABLE {table} (rank INTEGER PRIMARY KEY, \"index\" INTEGER NOT NULL, given_label "
                     "INTEGER NOT NULL, suggested_label INTEGER NOT NULL, quality_score FLOAT NOT NULL, is_issue "
                     "BOOLEAN NOT NULL, true_label INTEGER, example_id TEXT)")
        own_cols = ", ".join(q(c) for c in COLUMNS)
        sql = f"INSERT INTO {table} ({own_cols}) VALUES ({', '.join('?' * len(COLUMNS))})"
        for b in row_blocks:
            rows = list(zip(*(b[c] for c in COLUMNS)))
            step = batch or len(rows)
            for s in range(0, len(rows), step):
                conn.executemany(sql, rows[s:s + step])
        conn.execute("PRAGMA cache_size=-262144")
        for name, c in SECONDARY.items():
            if c[-1] == "rank":
                c = c[:-1]  # rank is the rowid: every index ends in it already
            unique = "UNIQUE " if name == "index" else ""
            conn.execute(f"CREATE {unique}INDEX ix_{table}_{name} ON {table} ({', '.join(q(x) for x in c)})")
        conn.execute("PRAGMA cache_size=-2000")

    for table in ("audit_rows", "rows_wr"):
        conn.execute("BEGIN")
        shared(table, "prior", blocks(n // 10, seed=1))
        conn.execute("COMMIT")
    options = [
        ("today: executemany into the indexed table", lambda a: shared("audit_rows", a, blocks(n))),
        ("today without the 256 MB cache", lambda a: shared("audit_rows", a, blocks(n), cache=False)),
        ("shared WITHOUT ROWID table", lambda a: shared("rows_wr", a, blocks(n))),
        ("table of its own, indexed after", lambda a: own(a, blocks(n))),
        ("table of its own, 5,000-row batches", lambda a: own(a, blocks(n), batch=5000)),
    ]
    out = []
    for i, (label, load) in enumerate(options):
        t = time.perf_counter()
        conn.execute("BEGIN")
        load(f"a{i}")
        conn.execute("COMMIT")
        out.append((label, time.perf_counter() - t))
        print(f"  {label}: {out[-1][1]:.2f} s", file=sys.stderr)
    conn.close()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=float, default=1e6)
    p.add_argument("--database-url", default=None)
    args = p.parse_args(argv)
    n = int(args.n)
    with tempfile.TemporaryDirectory(prefix="labelaudit-rowload-") as tmp:
        results = run_pg(args.database_url, n) if args.database_url else run_sqlite(Path(tmp), n)
    base = results[0][1]
    print(f"{n:,} rows, {'PostgreSQL' if args.database_url else 'SQLite'}\n")
    print(f"{'option':<48} {'seconds':>8} {'x today':>8}\n" + "-" * 66)
    for label, seconds in results:
        print(f"{label:<48} {seconds:>8.2f} {seconds / base:>8.2f}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
