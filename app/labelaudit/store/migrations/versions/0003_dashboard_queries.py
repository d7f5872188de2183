"""dashboard queries: stored aggregates per audit and indexes that match the issue browser

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audits") as batch:
        batch.add_column(sa.Column("headline", sa.JSON, nullable=True))
        batch.add_column(sa.Column("aggregates", sa.JSON, nullable=True))
    op.create_index("ix_audits_created", "audits", ["created_at"])
    # one example by its dataset row (detail view, compare by index)
    op.create_index("ix_audit_rows_index", "audit_rows", ["audit_id", "index"], unique=True)
    # filter by suggested label, alone or with the given label (a heatmap cell), in rank order
    op.create_index("ix_audit_rows_suggested_rank", "audit_rows", ["audit_id", "suggested_label", "rank"])
    op.create_index("ix_audit_rows_given_suggested_rank", "audit_rows",
                    ["audit_id", "given_label", "suggested_label", "rank"])
    # score bounds -> rank bounds (scores rise with rank), one index seek each
    op.create_index("ix_audit_rows_score_rank", "audit_rows", ["audit_id", "quality_score", "rank"])


def downgrade() -> None:
    op.drop_index("ix_audit_rows_score_rank", table_name="audit_rows")
    op.drop_index("ix_audit_rows_given_suggested_rank", table_name="audit_rows")
    op.drop_index("ix_audit_rows_suggested_rank", table_name="audit_rows")
    op.drop_index("ix_audit_rows_index", table_name="audit_rows")
    op.drop_index("ix_audits_created", table_name="audits")
    with op.batch_alter_table("audits") as batch:
        batch.drop_column("aggregates")
        batch.drop_column("headline")
