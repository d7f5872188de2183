"""audit rows: the neighbourhood score of each example (audits asked for ``neighbours``)

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

from labelaudit.store.rowtables import row_tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMN = "neighbour_score"


def _tables(conn) -> list[str]:
    """The tables of audit rows that carry the column: on PostgreSQL the partitioned parent (its partitions
    follow it); on SQLite the shared ``audit_rows`` (the shape) and every audit's own table."""
    return ["audit_rows"] + ([] if conn.dialect.name == "postgresql" else row_tables(conn))


def _has_column(conn, table: str) -> bool:
    return any(c["name"] == COLUMN for c in sa.inspect(conn).get_columns(table))


def upgrade() -> None:
    conn = op.get_bind()
    for table in _tables(conn):
        # revision 0008 builds the per-audit tables from today's model: those it made have the column already
        if not _has_column(conn, table):
            op.add_column(table, sa.Column(COLUMN, sa.Float, nullable=True))


def downgrade() -> None:
    conn = op.get_bind()
    for table in _tables(conn):
        if _has_column(conn, table):
            op.drop_column(table, COLUMN)
