"""Ways to bulk-load an audit's per-example rows, against the old path, in one run (issue 21, part 3).

Each option loads the same ``--n`` synthetic rows (in rank order, in the worker's 50,000-row
column blocks) in one transaction, commit included, into a database migrated to head (a
SQLite file, or a fresh PostgreSQL schema with ``--database-url``). The old path's shared
table (``rows_shared``: the 0001/0003 ``audit_rows``, primary key and six indexes) already
holds one earlier audit of ``--n // 10`` rows. Options:

- ``old``: the code before 0008: PostgreSQL ``COPY`` / SQLite ``executemany`` into the shared,
  indexed table (SQLite with its 256 MB page cache);
- PostgreSQL ``partition, audit_id in every index``: a bare table, ``COPY``, the shared table's
  indexes built after, ``ATTACH PARTITION`` (a scratch partitioned parent);
- SQLite ``shared WITHOUT ROWID``: the old path into a ``WITHOUT ROWID`` copy of the table;
- ``store``: what the service does now, :func:`labelaudit.store.rowtables.load_rows` (a table of
  the audit's own, loaded bare, indexed without ``audit_id`` after; a partition on PostgreSQL).

Then small audits: ``--small`` rows (default 1,000), ``--repeats`` times each, old path against
the store's, median milliseconds.

    python bench/row_load_options.py --n 1e6
    python bench/row_load_options.py --n 1e6 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Wall seconds on a shared machine, plus this process's CPU seconds (on SQLite all of the work;
on PostgreSQL only the client's): compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labelaudit.store.models import ROW_COLUMNS  # noqa: E402
from labelaudit.store.rowtables import load_rows  # noqa: E402

#: the shared table's indexes before 0008: name suffix -> columns
OLD_INDEXES = {"label_rank": ("audit_id", "given_label", "rank"), "issue_rank": ("audit_id", "is_issue", "rank"),
               "index": ("audit_id", "index"), "suggested_rank": ("audit_id", "suggested_label", "rank"),
               "given_suggested_rank": ("audit_id", "given_label", "suggested_label", "rank"),
               "score_rank": ("audit_id", "quality_score", "rank")}
COLUMNS_DDL = ("audit_id VARCHAR(40) NOT NULL, rank INTEGER NOT NULL, \"index\" INTEGER NOT NULL, given_label INTEGER "
               "NOT NULL, suggested_label INTEGER NOT NULL, quality_score {float} NOT NULL, is_issue BOOLEAN NOT NULL, "
               "true_label INTEGER, example_id TEXT")


def blocks(n: int, k: int = 100, seed: int = 0, block: int = 50_000):
    """``n`` synthetic rows in rank order, as the worker's column blocks (scores rise with rank)."""
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


def _cols(names) -> str:
    return ", ".join(f'"{c}"' for c in names)


def create_shared(conn, table: str, *, without_rowid: bool = False) -> None:
    """The pre-0008 ``audit_rows`` under another name: primary key (audit_id, rank) and six indexes."""
    float_type = "DOUBLE PRECISION" if conn.dialect.name == "postgresql" else "FLOAT"
    conn.exec_driver_sql(f"CREATE TABLE {table} ({COLUMNS_DDL.format(float=float_type)}, PRIMARY KEY (audit_id, rank))"
                         f"{' WITHOUT ROWID' if without_rowid else ''}")
    for name, cols in OLD_INDEXES.items():
        conn.exec_driver_sql(f"CREATE {'UNIQUE ' if name == 'index' else ''}INDEX ix_{table}_{name} ON {table} "
                             f"({_cols(cols)})")


def load_old(conn, table: str, audit_id: str, row_blocks) -> None:
    """The pre-0008 loader (``store/queue.py``): COPY, or executemany with a 256 MB page cache."""
    cols = _cols(("audit_id", *ROW_COLUMNS))
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for b in row_blocks:
                for values in zip([audit_id] * len(b["rank"]), *(b[c] for c in ROW_COLUMNS)):
                    copy.write_row(values)
        return
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size=-262144")
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * (len(ROW_COLUMNS) + 1))})"
    for b in row_blocks:
        conn.exec_driver_sql(sql, list(zip([audit_id] * len(b["rank"]), *(b[c] for c in ROW_COLUMNS))))
    conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")


def load_partition_with_audit_id(conn, audit_id: str, row_blocks) -> None:
    """PostgreSQL: bare table, COPY, the old six indexes (with audit_id) and primary key, attach."""
    part = f"exp_rows_{audit_id}"
    conn.exec_driver_sql(f"CREATE TABLE {part} (LIKE exp_rows INCLUDING DEFAULTS, CHECK (audit_id IS NOT NULL AND "
                         f"audit_id = '{audit_id}'))")
    load_old(conn, part, audit_id, row_blocks)
    conn.exec_driver_sql(f"ALTER TABLE {part} ADD PRIMARY KEY (audit_id, rank)")
    for name, cols in OLD_INDEXES.items():
        conn.exec_driver_sql(f"CREATE {'UNIQUE ' if name == 'index' else ''}INDEX ON {part} ({_cols(cols)})")
    conn.exec_driver_sql(f"ALTER TABLE exp_rows ATTACH PARTITION {part} FOR VALUES IN ('{audit_id}')")


def timed(engine, load) -> tuple[float, float]:
    """(wall, CPU) seconds of ``load(conn)`` in one transaction, commit included."""
    t, c = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        load(conn)
    return time.perf_counter() - t, time.process_time() - c


def run(engine, n: int, small: int, repeats: int) -> tuple[list, list]:
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        create_shared(conn, "rows_shared")
        if postgres:
            conn.exec_driver_sql(f"CREATE TABLE exp_rows ({COLUMNS_DDL.format(float='DOUBLE PRECISION')}) "
                                 "PARTITION BY LIST (audit_id)")
        else:
            create_shared(conn, "rows_wr", without_rowid=True)
    for table in ("rows_shared",) if postgres else ("rows_shared", "rows_wr"):
        with engine.begin() as conn:
            load_old(conn, table, "au_prior", blocks(n // 10, seed=1))
    options = [("old: into the shared indexed table", lambda c: load_old(c, "rows_shared", "au_big0", blocks(n)))]
    if postgres:
        options.append(("partition, audit_id in every index",
                        lambda c: load_partition_with_audit_id(c, "au_big1", blocks(n))))
    else:
        options.append(("shared WITHOUT ROWID table", lambda c: load_old(c, "rows_wr", "au_big1", blocks(n))))
    options.append(("store: own table, indexed after (now)", lambda c: load_rows(c, "au_big2", blocks(n))))
    big = []
    for label, load in options:
        wall, cpu = timed(engine, load)
        big.append((label, wall, cpu))
        print(f"  {label}: {wall:.2f} s", file=sys.stderr)
    small_rows = list(blocks(small, seed=2))
    times: dict[str, list[float]] = {"old": [], "store": []}
    for i in range(repeats):  # interleaved, so a busy moment hits both
        times["old"].append(timed(engine, lambda c: load_old(c, "rows_shared", f"au_small{i}", small_rows))[0])
        times["store"].append(timed(engine, lambda c: load_rows(c, f"au_small{i}", small_rows))[0])
    return big, [(k, statistics.median(v) * 1000) for k, v in times.items()]


def main(argv: list[str] | None = None) -> None:
    from bench.load import pg_schema
    from labelaudit.config import Settings
    from labelaudit.store.db import open_database

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=float, default=1e6, help="rows of the big audit (default 1e6)")
    p.add_argument("--small", type=int, default=1000, help="rows of the small audit (default 1,000)")
    p.add_argument("--repeats", type=int, default=20, help="small audits loaded per path (default 20)")
    p.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite (a schema of its own)")
    args = p.parse_args(argv)
    n = int(args.n)
    with contextlib.ExitStack() as stack:
        if args.database_url:
            url = stack.enter_context(pg_schema(args.database_url))
        else:
            url = f"sqlite:///{Path(stack.enter_context(tempfile.TemporaryDirectory())) / 'rows.sqlite'}"
        db = open_database(Settings(database_url=url))
        stack.callback(db.dispose)
        big, small = run(db.engine, n, args.small, args.repeats)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{n:,} rows, {backend} (CPU: this process's)\n")
    print(f"{'option':<42} {'seconds':>8} {'x old':>6} {'CPU s':>6}\n" + "-" * 65)
    for label, wall, cpu in big:
        print(f"{label:<42} {wall:>8.2f} {wall / big[0][1]:>6.2f} {cpu:>6.2f}")
    print(f"\n{args.small:,}-row audit, median of {args.repeats}: " +
          ", ".join(f"{k} {ms:.1f} ms" for k, ms in small) + f" ({small[1][1] / small[0][1]:.2f}x old)")


if __name__ == "__main__":
    main()
