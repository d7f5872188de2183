"""per-audit row tables: each audit's rows in a table of their own, indexed after the load
(PostgreSQL: partitions of a LIST-partitioned ``audit_rows``; SQLite: ``audit_rows_<id>`` tables)

Existing rows move to their audit's table; every done audit gets one (empty when it had no rows).
The downgrade puts every row back into one shared, indexed ``audit_rows``.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from labelaudit.store.models import AuditRow
from labelaudit.store.rowtables import create_bare, index_and_attach, row_tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: the shared table's indexes (0001 and 0003), dropped by the upgrade and rebuilt by the downgrade
SHARED_INDEXES = {
    "ix_audit_rows_label_rank": ["audit_id", "given_label", "rank"],
    "ix_audit_rows_issue_rank": ["audit_id", "is_issue", "rank"],
    "ix_audit_rows_index": ["audit_id", "index"],
    "ix_audit_rows_suggested_rank": ["audit_id", "suggested_label", "rank"],
    "ix_audit_rows_given_suggested_rank": ["audit_id", "given_label", "suggested_label", "rank"],
    "ix_audit_rows_score_rank": ["audit_id", "quality_score", "rank"],
}


#: the row columns as of this revision: what it copies (later revisions add columns, which start empty)
ROW_COLUMNS = ("rank", "index", "given_label", "suggested_label", "quality_score", "is_issue", "true_label",
               "example_id")


def _columns(conn) -> str:
    quote = conn.dialect.identifier_preparer.quote_identifier
    return ", ".join(quote(c) for c in ("audit_id", *ROW_COLUMNS))


def _row_columns(*, later: bool = False):
    """This revision's columns; ``later``: with the columns of later revisions too, as ``create_bare`` makes
    the per-audit tables from today's model, and a partition must have exactly its parent's columns."""
    extra = [sa.Column(c.name, c.type, nullable=c.nullable) for c in AuditRow.__table__.columns
             if later and c.name not in ("audit_id", *ROW_COLUMNS)]
    return [sa.Column("audit_id", sa.String(40), nullable=False),
            sa.Column("rank", sa.Integer, nullable=False),
            sa.Column("index", sa.Integer, nullable=False),
            sa.Column("given_label", sa.Integer, nullable=False),
            sa.Column("suggested_label", sa.Integer, nullable=False),
            sa.Column("quality_score", sa.Float, nullable=False),
            sa.Column("is_issue", sa.Boolean, nullable=False),
            sa.Column("true_label", sa.Integer, nullable=True),
            sa.Column("example_id", sa.Text, nullable=True)] + extra


def _move_out(conn, source: str) -> None:
    """Give every audit with rows in ``source`` (and every done audit) its own table, filled from ``source``."""
    ids = conn.execute(sa.text(f"SELECT DISTINCT audit_id FROM {source} UNION "
                               "SELECT id FROM audits WHERE status = 'done'")).scalars().all()
    quote = conn.dialect.identifier_preparer.quote_identifier
    # SQLite's audit_id is a generated column of the audit's table (labelaudit.store.rowtables): not inserted
    cols = _columns(conn) if conn.dialect.name == "postgresql" else ", ".join(quote(c) for c in ROW_COLUMNS)
    for audit_id in sorted(ids):
        name = create_bare(conn, audit_id)
        rows = conn.execute(sa.text(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {source} WHERE audit_id = :a "
                                    "ORDER BY rank"), {"a": audit_id}).rowcount
        index_and_attach(conn, audit_id, rows)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.rename_table("audit_rows", "audit_rows_shared")
        op.create_table("audit_rows", *_row_columns(later=True), postgresql_partition_by="LIST (audit_id)")
        _move_out(conn, "audit_rows_shared")
        op.drop_table("audit_rows_shared")  # with its indexes
    else:  # SQLite: audit_rows stays, empty, as the shape of the per-audit tables
        _move_out(conn, "audit_rows")
        conn.execute(sa.text("DELETE FROM audit_rows"))
        for name in SHARED_INDEXES:
            op.drop_index(name, table_name="audit_rows")


def downgrade() -> None:
    conn = op.get_bind()
    cols = _columns(conn)
    tables = row_tables(conn)
    if conn.dialect.name == "postgresql":
        op.create_table("audit_rows_shared", *_row_columns(),
                        sa.PrimaryKeyConstraint("audit_id", "rank", name="audit_rows_shared_pkey"),
                        sa.ForeignKeyConstraint(["audit_id"], ["audits.id"], ondelete="CASCADE",
                                                name="audit_rows_shared_audit_id_fkey"))
        conn.execute(sa.text(f"INSERT INTO audit_rows_shared ({cols}) SELECT {cols} FROM audit_rows "
                             "ORDER BY audit_id, rank"))
        op.drop_table("audit_rows")  # with every partition
        op.rename_table("audit_rows_shared", "audit_rows")
        conn.execute(sa.text("ALTER TABLE audit_rows RENAME CONSTRAINT audit_rows_shared_pkey TO audit_rows_pkey"))
        conn.execute(sa.text("ALTER TABLE audit_rows RENAME CONSTRAINT audit_rows_shared_audit_id_fkey "
                             "TO audit_rows_audit_id_fkey"))
    else:
        for table in tables:
            conn.execute(sa.text(f'INSERT INTO audit_rows ({cols}) SELECT {cols} FROM "{table}" ORDER BY rank'))
            conn.execute(sa.text(f'DROP TABLE "{table}"'))
    for name, columns in SHARED_INDEXES.items():
        op.create_index(name, "audit_rows", columns, unique=name == "ix_audit_rows_index")
